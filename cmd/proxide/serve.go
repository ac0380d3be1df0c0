package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/memory"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/resilient"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/extproc"
	"github.com/proxide/proxide/internal/admin"
	"github.com/proxide/proxide/internal/alerts"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/internal/dashboard"
	"github.com/proxide/proxide/internal/metrics"
	"github.com/proxide/proxide/internal/tracing"
	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// app is everything `proxide serve` wires together, built in one place.
type app struct {
	cfg Config
	log *slog.Logger
	// store is the backend (memory or Redis), ledger its request path that
	// survives an outage; the gateway and the admin API use the store through
	// a blockcache.Store over both.
	store   budget.Store
	ledger  *resilient.Ledger
	rules   *rules.Dynamic
	extproc *extproc.Server
	adminv1 *admin.Service
	admin   http.Handler
	keys    *auth.Keys
	metrics *metrics.Metrics
	alerts  *alerts.Dispatcher // nil without webhooks
	// closeAccessLog closes the access log's file, if it has one.
	closeAccessLog func()
	// shutdownTracing flushes the spans not exported yet (a no-op without tracing).
	shutdownTracing func(context.Context) error

	// grpcOpts carry listen.tls's credentials (tls.go).
	grpcOpts []grpc.ServerOption
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	fs := serveFlags()
	if err := parseFlags(fs, args, stdout, stderr, serveUsage); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, environ)
	if err != nil {
		return err
	}
	a, err := newApp(cfg, stderr, environ)
	if err != nil {
		return err
	}
	untune := tuneRuntime(envLookup(environ), a.log)
	defer untune()
	var lc net.ListenConfig
	var opened []net.Listener
	listen := func(key, addr string) (net.Listener, error) {
		lis, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range opened {
				_ = l.Close() // nothing was served on it
			}
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		opened = append(opened, lis)
		return lis, nil
	}
	grpcLis, err := listen("listen.grpc", cfg.Listen.GRPC)
	if err != nil {
		return err
	}
	adminLis, err := listen("listen.admin", cfg.Listen.Admin)
	if err != nil {
		return err
	}
	if cfg.Listen.PProf != "" {
		lis, err := listen("listen.pprof", cfg.Listen.PProf)
		if err != nil {
			return err
		}
		a.log.Warn("Go profiler serving: bind it to loopback only", "pprof", lis.Addr().String())
		srv := pprofServer(lis)
		defer func() { _ = srv.Close() }() // a profile in flight is cut at exit
	}
	return a.serve(ctx, grpcLis, adminLis)
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToLower(cfg.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// appOption adjusts how newApp wires the app (tests only; a zero set is production).
type appOption func(*appSettings)

type appSettings struct {
	now func() time.Time
}

// withClock makes the gateway read time from now instead of the wall clock.
func withClock(now func() time.Time) appOption {
	return func(s *appSettings) { s.now = now }
}

// newApp builds every component from the config; all problems are reported together.
func newApp(cfg Config, logOut io.Writer, environ []string, options ...appOption) (*app, error) {
	settings := appSettings{now: time.Now}
	for _, o := range options {
		o(&settings)
	}
	log := newLogger(cfg.Log, logOut)
	getenv := envLookup(environ)
	var errs []error

	pricer, err := buildPricer(cfg.Pricing)
	errs = append(errs, err)
	fileRules, err := buildRules(cfg.Budgets)
	errs = append(errs, err)
	cal, err := budget.NewCalendar(cfg.Budgets.Timezone)
	if err != nil {
		errs = append(errs, fmt.Errorf("budgets.timezone: %w", err))
	}
	specs := make([]auth.KeySpec, 0, len(cfg.Keys))
	for _, k := range cfg.Keys {
		specs = append(specs, auth.KeySpec{Name: k.Name, SHA256: k.SHA256, Key: k.Key, Scopes: k.Scopes, ClientIDs: k.ClientIDs})
	}
	keys, err := auth.NewKeys(specs)
	errs = append(errs, err)
	grpcOpts, err := grpcServerOptions(cfg.Listen, log)
	errs = append(errs, err)
	upstreamKey, err := cfg.upstreamKey(getenv)
	errs = append(errs, err)
	if err == nil && upstreamKey == "" && keys.Enabled() {
		errs = append(errs, fmt.Errorf("upstream: no OpenAI key (set %s or upstream.api_key_file); with Proxide keys configured the client's Authorization cannot be forwarded", cfg.Upstream.APIKeyEnv))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// Load the embedded BPE tables now, not on the first request.
	if err := usage.PreloadTokenizers(); err != nil {
		return nil, fmt.Errorf("tokenizers: %w", err)
	}
	m := metrics.New()
	if cfg.Store.RedisURL != "" {
		budgetredis.RouteLogs(log) // go-redis's own lines: through slog, rate-limited
	}
	store, err := openStore(cfg.Store, log)
	if err != nil {
		return nil, err
	}
	ledger, err := openLedger(cfg, store, log) // ledger.go
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	cache := blockcache.New(store, ledger, blockcache.Options{TTL: cfg.Budgets.BlockCacheTTL})
	closeStores := func() {
		_ = ledger.Close()
		_ = store.Close()
	}

	if !keys.Enabled() {
		log.Warn("no Proxide keys configured: the gateway and the admin API accept every caller (development only)")
	}
	if upstreamKey == "" {
		log.Warn("no upstream OpenAI key: the client's own Authorization header is forwarded")
	}
	// File rules merged with the admin API's rules from the store (API wins);
	// every replica polls for changes so a write applies everywhere within 1s.
	// The poll goes through the cache, which forgets its refusals on a change.
	dyn, err := rules.NewDynamic(context.Background(), rules.DynamicOptions{File: fileRules, Store: cache, Logger: log})
	if err != nil {
		closeStores()
		return nil, err
	}
	m.TrackClients(cfg.Metrics.ClientIDs)
	notifier, err := newAlerts(cfg.Alerts, store, getenv, log, m, settings.now)
	if err != nil {
		dyn.Close()
		closeStores()
		return nil, err
	}
	accessLog, closeAccessLog, err := cfg.AccessLog.accessLog(os.Stdout, logOut)
	if err != nil {
		_ = closeAlerts(notifier)
		dyn.Close()
		closeStores()
		return nil, err
	}
	tracer, shutdownTracing, err := tracing.Setup(context.Background(), getenv, version)
	if err != nil {
		closeAccessLog()
		_ = closeAlerts(notifier)
		dyn.Close()
		closeStores()
		return nil, err
	}
	ep, err := extproc.New(extproc.Options{
		Ledger:                 cache,
		Pricer:                 pricer,
		Rules:                  dyn,
		Calendar:               cal,
		Keys:                   keys,
		UpstreamKey:            upstreamKey,
		ClientIDHeader:         cfg.ClientID.Header,
		DefaultClientID:        cfg.ClientID.Default,
		KeepClientID:           !cfg.ClientID.Strip,
		NormalizeClientIDs:     cfg.ClientID.Normalize,
		ClientIDFromPeer:       cfg.ClientID.Source == "peer_uri_san",
		PathPrefixes:           cfg.PathPrefixes,
		DefaultMaxOutputTokens: cfg.Budgets.DefaultMaxOutputTokens,
		DefaultMaxToolCalls:    cfg.Budgets.DefaultMaxToolCalls,
		DefaultServiceTier:     cfg.Budgets.DefaultServiceTier,
		Region:                 cfg.Pricing.Region,
		ReservationTTL:         cfg.Budgets.ReservationTTL,
		BackgroundTTL:          cfg.Budgets.BackgroundTTL,
		BatchTTL:               cfg.Budgets.BatchTTL,
		LedgerTimeout:          cfg.Store.Timeout,
		MaxBodyBytes:           cfg.Listen.MaxRequestBodyBytes,
		StreamIdleTimeout:      cfg.Listen.StreamIdleTimeout,
		Unmetered:              rules.EndpointPolicy(cfg.Endpoints.Unmetered),
		Loop:                   cfg.Loop.defaults(),
		LoopStatus:             cfg.Loop.Status,
		Now:                    settings.now,
		Logger:                 log,
		Metrics:                m,
		Alerts:                 alertSink(notifier),
		AccessLog:              accessLog,
		Tracer:                 tracer,
	})
	if err != nil {
		closeAccessLog()
		_ = closeAlerts(notifier)
		dyn.Close()
		closeStores()
		return nil, err
	}
	m.TrackReservations(ep.ReservationsInFlight)
	m.TrackLedger(ledger.Open, ledger.Trips, ledger.Buffered)
	svc, err := admin.NewService(admin.ServiceOptions{Store: cache, Rules: dyn, Calendar: cal, Logger: log, Now: settings.now})
	if err != nil {
		dyn.Close()
		closeStores()
		return nil, err
	}
	dash, err := dashboard.New(dashboard.Options{Keys: keys, Logger: log, Now: settings.now})
	if err != nil {
		dyn.Close()
		closeStores()
		return nil, err
	}
	adminHandler := admin.New(admin.Options{Service: svc, Keys: keys, Metrics: m.Handler(), Logger: log, Ready: ledger.Ready,
		Dashboard: dash, Sessions: dash, Activity: m.TrackDaily(settings.now, func(t time.Time) string { return cal.Periods(t).Day.Key })})
	return &app{cfg: cfg, log: log, store: store, ledger: ledger, rules: dyn, extproc: ep, adminv1: svc,
		admin: adminHandler, keys: keys, metrics: m, grpcOpts: grpcOpts, alerts: notifier, closeAccessLog: closeAccessLog, shutdownTracing: shutdownTracing}, nil
}

// serve runs both servers until ctx is done, then drains: gRPC health goes
// NOT_SERVING, open streams get ShutdownTimeout to finish (their settlements
// included), and the ledger flushes what it buffered.
func (a *app) serve(ctx context.Context, grpcLis, adminLis net.Listener) error {
	// No grpc.StatsHandler here (nor EnableTracing): extproc takes a chunk's
	// reply back for reuse once Send returned, and gRPC lets a stats handler
	// read a sent message later.
	gs := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(a.cfg.Listen.MaxMessageBytes),
		grpc.MaxSendMsgSize(a.cfg.Listen.MaxMessageBytes), grpc.InTapHandle(a.extproc.InTapHandle)}, a.grpcOpts...)...)
	extprocv3.RegisterExternalProcessorServer(gs, a.extproc)
	// The admin API's gRPC front door shares the ext_proc port (same keys, admin scope).
	proxidev1.RegisterAdminServiceServer(gs, admin.NewGRPCServer(a.adminv1, a.keys))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(extprocv3.ExternalProcessor_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	hsrv := &http.Server{Handler: a.admin, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	leaseCtx, stopLeases := context.WithCancel(context.Background())
	defer stopLeases()
	go a.extproc.KeepLeases(leaseCtx)
	go func() { errc <- gs.Serve(grpcLis) }()
	go func() { errc <- hsrv.Serve(adminLis) }()
	a.log.Info("proxide serving", "grpc", grpcLis.Addr().String(), "admin", adminLis.Addr().String(),
		"ledger", ledgerName(a.cfg.Store), "prices", pricing.Snapshot, "version", buildVersion())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info("shutting down", "timeout", a.cfg.Listen.ShutdownTimeout.String())
	hs.Shutdown()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	timer := time.NewTimer(a.cfg.Listen.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		a.log.Warn("open streams did not finish in time; closing them")
		gs.Stop()
		<-stopped
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hsrv.Shutdown(sctx)
	a.rules.Close()
	if err := closeAlerts(a.alerts); err != nil {
		a.log.Error("alerts close", "err", err)
	}
	a.closeAccessLog()
	if err := a.shutdownTracing(sctx); err != nil {
		a.log.Warn("tracing shutdown", "err", err)
	}
	// Flush the settlements buffered during an outage before the store goes.
	if err := a.ledger.Close(); err != nil {
		a.log.Error("ledger close", "err", err)
	}
	if err := a.store.Close(); err != nil {
		a.log.Error("store close", "err", err)
	}
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) && !errors.Is(runErr, grpc.ErrServerStopped) {
		return runErr
	}
	return nil
}

func ledgerName(s StoreConfig) string {
	if s.RedisURL == "" {
		return "memory"
	}
	return "redis"
}

// openStore opens the backend of store.redis_url: embedded memory when empty.
// The Redis ledger logs through the app's logger (JSON when configured).
func openStore(s StoreConfig, log *slog.Logger) (budget.Store, error) {
	if s.RedisURL == "" {
		return memory.New(memory.Options{Retention: s.Retention}), nil
	}
	r, err := budgetredis.Open(s.RedisURL, budgetredis.Options{Prefix: s.Prefix, Retention: s.Retention, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("store.redis_url: %w", err)
	}
	return r, nil
}

func envLookup(environ []string) func(string) string {
	return func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
}
