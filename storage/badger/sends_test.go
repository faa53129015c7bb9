package badger

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rtgate/rtgate/storage"
)

// TestClientSends: after a reopen, ClientSends lists the messages of every
// app from the given time on that carry a client id, with it and its sum.
func TestClientSends(t *testing.T) {
	dir := t.TempDir()
	s := openWithDelay(t, dir, 0)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for _, m := range []*storage.Message{
		{App: "a1", ID: "old", From: "x", ConvID: "c", Time: now - 60_000, ClientID: "k0", ClientSum: 1},
		{App: "a1", ID: "plain", From: "x", ConvID: "c", Time: now},
		{App: "a1", ID: "m1", From: "x", ConvID: "c", Time: now + 1, ClientID: "k1", ClientSum: 11},
		{App: "a2", ID: "m2", From: "y", Room: "g", ConvID: "g", Time: now + 2, ClientID: "k2", ClientSum: 22},
	} {
		offline := []string{"z"}
		if m.ID == "m1" {
			offline = nil // its inbox entry delayed too
		}
		if err := s.PersistOffline(ctx, m, []string{"z"}, offline); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openWithDelay(t, dir, 0)
	defer s.Close()
	var got []string
	err := s.ClientSends(ctx, now-1000, func(m *storage.Message) error {
		got = append(got, m.App+"/"+m.ID+"/"+m.From+"/"+m.ClientID)
		if m.ClientSum != map[string]uint64{"k1": 11, "k2": 22}[m.ClientID] {
			t.Errorf("%s: ClientSum %d", m.ID, m.ClientSum)
		}
		return nil
	})
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"a1/m1/x/k1", "a2/m2/y/k2"}) {
		t.Errorf("ClientSends = %v, %v; want a1/m1/x/k1 a2/m2/y/k2", got, err)
	}
	if p, err := s.Pending(ctx, "a1", "z"); err != nil || len(p) != 3 || p[2].ClientID != "k1" {
		t.Errorf("Pending(z) = %v, %v; want three, the last with client id k1", p, err)
	}
}
