package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rtgate/rtgate/cluster"
	"github.com/rtgate/rtgate/compat/flashpolicy"
	"github.com/rtgate/rtgate/compat/pushhook"
	"github.com/rtgate/rtgate/compat/rest"
	"github.com/rtgate/rtgate/compat/router"
	"github.com/rtgate/rtgate/core"
	"github.com/rtgate/rtgate/internal/config"
	"github.com/rtgate/rtgate/internal/devcert"
	"github.com/rtgate/rtgate/internal/iplimit"
	"github.com/rtgate/rtgate/spec"
	"github.com/rtgate/rtgate/storage"
	"github.com/rtgate/rtgate/storage/badger"
	jsstore "github.com/rtgate/rtgate/storage/jetstream"
	"github.com/rtgate/rtgate/transports/framed"
	"github.com/rtgate/rtgate/transports/longpoll"
	quictransport "github.com/rtgate/rtgate/transports/quic"
	"github.com/rtgate/rtgate/transports/webtransport"
	"github.com/rtgate/rtgate/transports/ws"
	"github.com/rtgate/rtgate/web"
)

const (
	healthTimeout  = 2 * time.Second // bounds the store check of /healthz
	longpollPrefix = "/lp/"          // long-poll endpoints: open, send, poll, close
	restPrefix     = "/1.1/"         // the v1-era REST API
)

// server is the wired process: every component and the HTTP mux over them.
type server struct {
	log      *slog.Logger
	store    storage.Store
	hub      *core.Hub
	ws       *ws.Handler
	longpoll *longpoll.Handler
	router   *router.Handler
	rest     *rest.Handler
	push     *pushhook.Hook // nil when no app has a push webhook
	certs    *devcert.Source
	wt       *webtransport.Handler // nil when QUIC is off
	quic     *quictransport.Server // nil when QUIC is off
	flash    *flashpolicy.Server
	perIP    *iplimit.Limiter            // nil: no per-IP limit
	quicAddr atomic.Pointer[net.UDPAddr] // set by run once QUIC listens
	registry *prometheus.Registry
	cluster  *clusterNode // nil on a single node
	apps     []config.App // the configured apps (cluster status' master keys)

	closeOnce sync.Once
	closeErr  error
}

// build opens the store and wires the hub, the transports and the compat
// endpoints for cfg. advertise is the URL a cluster node advertises to the
// cluster's routers ("" none; see advertisedURL).
func build(cfg *config.Config, log *slog.Logger, advertise string) (*server, error) {
	var apps core.Apps
	if cfg.DevMode() {
		log.Warn("dev mode: no app configured, so any appId is accepted without keys or signatures; define apps with --app or a config file")
	} else {
		static := core.StaticApps{}
		for _, a := range cfg.Apps {
			static[a.ID] = &core.App{ID: a.ID, Key: a.Key, MasterKey: a.MasterKey,
				Signatures: a.Signatures, AllowUnwatched: a.AllowUnwatched}
		}
		apps = static
		log.Info("apps configured; unknown appIds are refused", "apps", len(static))
	}

	if err := mkdirData(cfg.Data); err != nil {
		return nil, err
	}
	var node *clusterNode
	var hubRef atomic.Pointer[core.Hub]
	if cfg.Cluster.Enabled() {
		var err error
		node, err = joinCluster(cfg, log, advertise, func(reason string) {
			if h := hubRef.Load(); h != nil {
				h.Fence(reason)
			}
		}, func() {
			if h := hubRef.Load(); h != nil {
				log.Info("inboxes re-read after the NATS reconnect", "sessions", h.Redrain())
			}
		})
		if err != nil {
			return nil, err
		}
	}
	var store storage.Store
	var storeMetrics []prometheus.Collector
	if node != nil {
		js, err := node.openStore(cfg, log)
		if err != nil {
			node.close()
			return nil, err
		}
		store, storeMetrics = js, clusterStoreCollectors(js)
		if err := node.startHistory(cfg, log); err != nil {
			js.Close()
			node.close()
			return nil, err
		}
	} else {
		b, err := openBadger(cfg, log)
		if err != nil {
			return nil, err
		}
		store, storeMetrics = b, storeCollectors(b)
	}
	var err error
	s := &server{log: log, store: store, perIP: iplimit.New(cfg.Limits.ConnectionsPerIP), cluster: node}

	var offline core.OfflineNotifier
	targets := map[string]pushhook.Target{}
	historySigned := map[string]bool{}
	for _, a := range cfg.Apps {
		if a.Push != nil {
			targets[a.ID] = pushhook.Target{URL: a.Push.URL, Secret: a.Push.Secret, Text: a.Push.Text}
		}
		historySigned[a.ID] = a.HistorySignatures
	}
	if len(targets) > 0 {
		s.push, err = pushhook.New(pushhook.Config{Apps: targets, Logger: log.With("component", "pushhook")})
		if err != nil {
			s.closeStore()
			return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
		}
		if offline, err = node.startPush(s.push, cfg, log); err != nil {
			s.push.Close(context.Background())
			s.closeStore()
			return nil, err
		}
		log.Info("offline push webhooks enabled", "apps", len(targets), "cluster_queue", node != nil)
	}

	s.hub, err = core.New(core.Config{
		Apps:            apps,
		Store:           store,
		Logger:          log.With("component", "core"),
		LoginTimeout:    cfg.Limits.LoginTimeout.Std(),
		ReadTimeout:     cfg.Limits.ReadTimeout.Std(),
		MaxPeersPerConn: cfg.Limits.MaxPeersPerConn,
		MaxWatch:        cfg.Limits.MaxWatch,
		MaxWatchPerConn: cfg.Limits.MaxWatchPerConn,
		MaxWatchPerApp:  cfg.Limits.MaxWatchPerApp,
		MaxGroupMembers: cfg.Limits.MaxGroupMembers,
		SignatureWindow: cfg.Limits.SignatureWindow.Std(),
		NonceCacheSize:  cfg.Limits.NonceCache,
		DedupeWindow:    cfg.Limits.DedupeWindow.Std(),
		DedupeEntries:   cfg.Limits.DedupeEntries,
		Offline:         offline,
		Deliverer:       deliverer(node),
		Presence:        presence(node),
	})
	if err != nil {
		s.closeStore()
		return nil, err
	}
	hubRef.Store(s.hub)
	s.ws = ws.New(s.hub, ws.Config{
		MaxFrameBytes:     cfg.Limits.MaxFrameBytes,
		QueueBytes:        cfg.Limits.QueueBytes,
		AllowedOrigins:    cfg.AllowedOrigins,
		CommandsPerSecond: cfg.Limits.CommandsPerSecond,
		Burst:             cfg.Limits.Burst,
		Logger:            log.With("component", "ws"),
	})
	var lpAdmit func(*http.Request) (func(), bool)
	if s.perIP != nil {
		lpAdmit = func(r *http.Request) (func(), bool) { return s.perIP.AdmitRemote(r.RemoteAddr) }
	}
	var lpForward cluster.Forwarder
	if node != nil {
		lpForward = node.bus
	}
	s.longpoll = longpoll.New(s.hub, longpoll.Config{
		Forward:          lpForward,
		MaxFrameBytes:    cfg.Limits.MaxFrameBytes,
		BufferBytes:      cfg.Limits.QueueBytes,
		MaxSessionsPerIP: cfg.Limits.LongPollSessionsPerIP,
		Admit:            lpAdmit,
		AllowedOrigins:   cfg.AllowedOrigins,
		Logger:           log.With("component", "longpoll"),
	})
	if node != nil {
		// This node answers the long-poll requests other nodes forward
		// for its sessions; the bus stops it when it closes.
		if _, err := node.bus.Serve(s.longpoll.ServeForwarded); err != nil {
			s.closeStore()
			return nil, fmt.Errorf("serve forwarded long-poll requests: %w", err)
		}
	}
	restStore, err := node.historyStore(store)
	if err != nil {
		s.closeStore()
		return nil, err
	}
	s.rest, err = rest.New(rest.Config{
		Store:             restStore,
		Hub:               s.hub,
		Logger:            log.With("component", "rest"),
		AllowedOrigins:    cfg.AllowedOrigins,
		HistorySignatures: historySigned,
		OpenAPI:           spec.OpenAPI(),
	})
	if err != nil {
		s.closeStore()
		return nil, err
	}
	var nodeURLs func() []string
	if node != nil {
		nodeURLs = node.bus.URLs // the live nodes' advertised URLs, in turn
	}
	s.router, err = router.New(router.Config{
		PublicURL:      cfg.PublicURL,
		Nodes:          nodeURLs,
		Apps:           apps,
		AllowedOrigins: cfg.AllowedOrigins,
	})
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}

	if cfg.TLSCert != "" {
		s.certs, err = devcert.Files(cfg.TLSCert, cfg.TLSKey)
	} else {
		s.certs, err = devcert.Dev(nil)
	}
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("%w: TLS certificate: %v", config.ErrInvalid, err)
	}
	s.flash, err = flashpolicy.New(flashpolicy.Config{Domains: cfg.Flash.Domains, ToPorts: cfg.Flash.ToPorts,
		Logger: log.With("component", "flashpolicy")})
	if err != nil {
		s.closeStore()
		return nil, fmt.Errorf("%w: flash policy: %v", config.ErrInvalid, err)
	}

	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s.registry.MustRegister(s.hub.Metrics().Collectors()...)
	s.registry.MustRegister(s.ws.Collectors()...)
	s.registry.MustRegister(s.longpoll.Collectors()...)
	if s.push != nil {
		s.registry.MustRegister(s.push.Collectors()...)
	}
	s.registry.MustRegister(s.flash.Collectors()...)
	s.registry.MustRegister(storeMetrics...)
	if node != nil {
		s.registry.MustRegister(node.bus.Metrics().Collectors()...)
		s.registry.MustRegister(node.historyCollectors()...)
		s.registry.MustRegister(node.pushCollectors()...)
	}
	s.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rtgate_connections_refused_per_ip_total",
		Help: "Connections refused because their IP address had limits.connectionsPerIP open (TCP and QUIC)."},
		func() float64 { return float64(s.perIP.Refused()) }))
	if cfg.QUICEnabled() {
		limits := framed.Limits{MaxFrameBytes: cfg.Limits.MaxFrameBytes, QueueBytes: cfg.Limits.QueueBytes,
			CommandsPerSecond: cfg.Limits.CommandsPerSecond, Burst: cfg.Limits.Burst}
		s.wt = webtransport.New(s.hub, webtransport.Config{AllowedOrigins: cfg.AllowedOrigins,
			Limits: limits, Logger: log.With("component", "webtransport")})
		q := cfg.QUICLimits
		s.quic = quictransport.New(s.hub, quictransport.Config{H3: s.wt, Admit: s.perIP.Admit,
			MaxIdleTimeout:             q.IdleTimeout.Std(),
			MaxStreamReceiveWindow:     q.MaxStreamReceiveWindow,
			MaxConnectionReceiveWindow: q.MaxConnectionReceiveWindow,
			MaxIncomingStreams:         q.MaxIncomingStreams,
			Limits:                     limits, Logger: log.With("component", "quic")})
		s.registry.MustRegister(s.quic.Collectors()...)
		s.registry.MustRegister(s.wt.Collectors()...)
	}
	s.apps = cfg.Apps
	if err := s.serveStatus(cfg); err != nil {
		s.closeStore()
		return nil, err
	}
	return s, nil
}

// closeStore closes the store once and returns the result of that close.
func (s *server) closeStore() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.store.Close()
		s.cluster.close()
	})
	return s.closeErr
}

// adminHandler serves the admin listener (--admin-addr): metrics, health
// and the debug endpoints, away from the client port.
func (s *server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metricsHandler())
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/cluster/status", s.clusterStatus(false))
	mux.HandleFunc("/cluster/kick", s.clusterKick(false))
	mux.HandleFunc("/cluster/sessions", s.clusterSessions(false))
	addDebug(mux)
	return mux
}

func (s *server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry})
}

// handler is the HTTP mux: WebSocket at / (what the router hands out) and
// /ws, long-poll under /lp/, the router, the REST API under /1.1/, health,
// and metrics unless an admin listener serves them (withMetrics false).
func (s *server) handler(withMetrics bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(router.Path, s.router)
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/certinfo", s.certs.CertInfoHandler(s.quicEndpoints))
	sdk, _ := fs.Sub(web.Files, "dist")
	demo, _ := fs.Sub(web.Files, "demo")
	mux.Handle("/sdk/", http.StripPrefix("/sdk/", http.FileServerFS(sdk)))
	mux.Handle("/demo/", http.StripPrefix("/demo/", http.FileServerFS(demo)))
	if withMetrics {
		mux.Handle("/metrics", s.metricsHandler())
	}
	mux.Handle("/ws", s.ws)
	mux.Handle(longpollPrefix, s.longpoll)
	mux.Handle(restPrefix, s.rest)
	mux.HandleFunc(statusPath, s.clusterStatus(true))
	mux.HandleFunc(kickPath, s.clusterKick(true))
	mux.HandleFunc(sessionsPath, s.clusterSessions(true))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			s.ws.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "rtgate: connect a WebSocket here or at /ws; GET /v1/route?appId=... for the v1 router")
	})
	return mux
}

// isUpgrade reports whether r asks for a WebSocket.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// healthz answers 200 {"status":"ok"} when the store answers a read, else
// 503 with the error.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	body := map[string]string{"status": "ok", "store": "ok"}
	status := http.StatusOK
	if _, err := s.store.Count(ctx, "_rtgate", "_healthz", true); err != nil {
		body["status"], body["store"] = "error", err.Error()
		status = http.StatusServiceUnavailable
	}
	if s.cluster != nil {
		body["cluster"], body["node"] = "ok", string(s.cluster.bus.Self())
		if err := s.cluster.bus.Healthy(); err != nil {
			body["status"], body["cluster"] = "error", err.Error()
			status = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// quicEndpoints tells /certinfo where QUIC and WebTransport listen. An
// unspecified listen host (0.0.0.0, ::) is replaced by the host the page
// used to reach this server.
func (s *server) quicEndpoints(r *http.Request) (webtransport, quic string) {
	a := s.quicAddr.Load()
	if a == nil {
		return "", ""
	}
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		} else {
			host = r.Host
		}
	}
	hp := net.JoinHostPort(host, strconv.Itoa(a.Port))
	return "https://" + hp + "/wt", "quic://" + hp
}

// storeCollectors exposes the Badger store's committer counters: the
// group-commit factor is ops/commits, and syncs/s is what fsync costs.
func storeCollectors(st *badger.Store) []prometheus.Collector {
	counter := func(name, help string, v func(badger.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(st.Stats())) })
	}
	return []prometheus.Collector{
		counter("rtgate_store_commits_total", "Badger write transactions committed (one per group commit).",
			func(s badger.Stats) uint64 { return s.Commits }),
		counter("rtgate_store_ops_total", "Store writes carried by those commits.",
			func(s badger.Stats) uint64 { return s.Ops }),
		counter("rtgate_store_syncs_total", "Syncs of Badger's logs (one per commit that carried a durable write).",
			func(s badger.Stats) uint64 { return s.Syncs }),
		counter("rtgate_store_inbox_writes_total", "Offline-inbox entries written to disk (still pending after storage.inboxDelay).",
			func(s badger.Stats) uint64 { return s.InboxWrites }),
		counter("rtgate_store_index_writes_total", "History index keys written for delayed index entries (one per conversation and per sender per storage.inboxDelay).",
			func(s badger.Stats) uint64 { return s.IndexWrites }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rtgate_store_inbox_delayed",
			Help: "New offline-inbox entries not settled yet: in memory only until storage.inboxDelay has passed (a crash may redeliver their acknowledged messages)."},
			func() float64 { return float64(st.Stats().Delayed) }),
	}
}

// clusterStoreCollectors are the cluster store's held inbox entries
// (storage/jetstream lazy.go), under the names the single-node store uses.
func clusterStoreCollectors(st *jsstore.Store) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rtgate_store_inbox_writes_total",
			Help: "Held inbox entries published to RT_INBOX (still unacknowledged after storage.inboxDelay, or read on another node)."},
			func() float64 { p, _, _ := st.Stats(); return float64(p) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rtgate_store_inbox_delayed",
			Help: "Inbox entries this node holds in memory only (another node publishes them if this one dies)."},
			func() float64 { _, h, _ := st.Stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rtgate_store_inbox_recovered_total",
			Help: "Held inbox entries of dead nodes that this node published."},
			func() float64 { _, _, r := st.Stats(); return float64(r) }),
	}
}

// openBadger opens the single-node store.
func openBadger(cfg *config.Config, log *slog.Logger) (*badger.Store, error) {
	syncEvery := cfg.Storage.SyncInterval.Std()
	if syncEvery == 0 {
		syncEvery = config.DefaultSyncInterval
	}
	store, err := badger.New(badger.Config{
		Dir: cfg.Data,
		Limits: storage.Limits{
			InboxSize: cfg.Limits.InboxSize,
			InboxTTL:  cfg.Limits.InboxTTL.Std(),
		},
		Logger:       log.With("component", "store"),
		MemTableSize: int64(cfg.Storage.MemTableMB) << 20,
		SyncInterval: syncEvery,
		InboxDelay:   cfg.Storage.InboxDelay.Std(),
	})
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", cfg.Data, err)
	}
	log.Info("store open", "dir", cfg.Data, "memtable_mb", store.MemTableSize()>>20,
		"sync_interval", max(syncEvery, 0), "inbox_delay", max(store.InboxDelay(), 0))
	return store, nil
}
