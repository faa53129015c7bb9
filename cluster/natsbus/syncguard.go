package natsbus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// CheckSyncAlways asks one nats-server's monitoring endpoint whether its
// JetStream fsyncs every write before acknowledging it (sync_interval:
// always; scaleout.md section 3.4): GET <monitorURL>/jsz, field
// config.sync_always. It returns nil when it does, ErrSyncInterval when it
// does not (with the interval it uses instead), and another error when
// the endpoint cannot be read or answers something else. hc nil means
// http.DefaultClient; ctx bounds the request.
func CheckSyncAlways(ctx context.Context, hc *http.Client, monitorURL string) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(monitorURL, "/") + "/jsz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("natsbus: monitoring URL %q: %w", monitorURL, err)
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("natsbus: read %s: %w", u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("natsbus: read %s: HTTP %d", u, res.StatusCode)
	}
	var jsz struct {
		ID       string `json:"server_id"`
		Disabled bool   `json:"disabled"`
		Config   *struct {
			SyncInterval time.Duration `json:"sync_interval"`
			SyncAlways   bool          `json:"sync_always"`
		} `json:"config"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&jsz); err != nil {
		return fmt.Errorf("natsbus: read %s: not a /jsz answer: %w", u, err)
	}
	switch {
	case jsz.ID == "":
		return fmt.Errorf("natsbus: read %s: not a /jsz answer (no server_id)", u)
	case jsz.Disabled || jsz.Config == nil:
		return fmt.Errorf("%w: %s: JetStream is not enabled on that server", ErrSyncInterval, u)
	case !jsz.Config.SyncAlways:
		every := "the default, 2m0s"
		if jsz.Config.SyncInterval > 0 {
			every = jsz.Config.SyncInterval.String()
		}
		return fmt.Errorf("%w: %s (server %s) syncs every %s, not on every write: an OS crash or power loss can lose acknowledged messages; set jetstream { sync_interval: always }",
			ErrSyncInterval, u, jsz.ID, every)
	}
	return nil
}
