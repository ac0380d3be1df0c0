package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/extproc"
	"github.com/proxide/proxide/internal/alerts"
	"github.com/proxide/proxide/internal/metrics"
)

// AccessLogConfig is the access log (`access_log:`): a line per metered
// request and per refusal, without keys or bodies.
type AccessLogConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Format is json (default) or text.
	Format string `mapstructure:"format"`
	// Output is stdout (default), stderr or a file path (appended to).
	Output string `mapstructure:"output"`
	// Sample is the fraction of allowed requests logged, in (0, 1] (default
	// 1); refusals are always logged.
	Sample float64 `mapstructure:"sample"`
}

func (a AccessLogConfig) validate() error {
	var errs []error
	if a.Format != "" && a.Format != "json" && a.Format != "text" {
		errs = append(errs, fmt.Errorf("access_log.format: %q must be json or text", a.Format))
	}
	if a.Sample < 0 || a.Sample > 1 || math.IsNaN(a.Sample) {
		errs = append(errs, fmt.Errorf("access_log.sample: %v must be in (0, 1]", a.Sample))
	}
	return errors.Join(errs...)
}

// accessLog opens the access log; the closer closes its file, if any.
func (a AccessLogConfig) accessLog(stdout, stderr io.Writer) (extproc.AccessLog, func(), error) {
	if !a.Enabled {
		return extproc.AccessLog{}, func() {}, nil
	}
	w, closeFn := stdout, func() {}
	switch a.Output {
	case "", "stdout":
	case "stderr":
		w = stderr
	default:
		f, err := os.OpenFile(a.Output, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return extproc.AccessLog{}, nil, fmt.Errorf("access_log.output: %w", err)
		}
		w, closeFn = f, func() { _ = f.Close() }
	}
	var h slog.Handler = slog.NewJSONHandler(w, nil)
	if a.Format == "text" {
		h = slog.NewTextHandler(w, nil)
	}
	return extproc.AccessLog{Logger: slog.New(h).With("log", "access"), Sample: a.Sample}, closeFn, nil
}

// MetricsConfig tunes /metrics (`metrics:`).
type MetricsConfig struct {
	// ClientIDs get a proxide_client_spend_usd_total series each; every other
	// client's spend is only in the admin API (a label per client would not scale).
	ClientIDs []string `mapstructure:"client_ids"`
}

// AlertsConfig configures the alert webhooks (`alerts:`).
type AlertsConfig struct {
	// Webhooks receive every event as a JSON POST.
	Webhooks []string `mapstructure:"webhooks"`
	// SecretEnv names the environment variable holding the HMAC-SHA256
	// secret deliveries are signed with (X-Proxide-Signature).
	SecretEnv string `mapstructure:"secret_env"`
	// Format is json (the event, default) or slack ({"text": ...}).
	Format      string        `mapstructure:"format"`
	QueueSize   int           `mapstructure:"queue_size"`
	MaxAttempts int           `mapstructure:"max_attempts"`
	Timeout     time.Duration `mapstructure:"timeout"`
}

func (a AlertsConfig) options() alerts.Options {
	return alerts.Options{Webhooks: a.Webhooks, Format: a.Format, QueueSize: a.QueueSize, MaxAttempts: a.MaxAttempts, Timeout: a.Timeout}
}

func (a AlertsConfig) validate() error {
	return a.options().Validate()
}

// newAlerts starts the webhook dispatcher, or returns nil when no webhook is
// configured. Events are claimed in store when it can (Redis: once across
// replicas), else in this process.
func newAlerts(cfg AlertsConfig, store budget.Store, getenv func(string) string, log *slog.Logger, m *metrics.Metrics, now func() time.Time) (*alerts.Dispatcher, error) {
	if len(cfg.Webhooks) == 0 {
		return nil, nil //nolint:nilnil // no webhooks: no dispatcher, and nothing wrong
	}
	opts := cfg.options()
	if cfg.SecretEnv != "" {
		secret := getenv(cfg.SecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("alerts.secret_env: %s is empty or not set", cfg.SecretEnv)
		}
		opts.Secret = []byte(secret)
	} else {
		log.Warn("alerts: webhooks are sent unsigned (set alerts.secret_env to sign them)")
	}
	// With Redis the ledger claims each event once across replicas; with the
	// memory ledger (one replica) the dispatcher's own claim is enough.
	if d, ok := store.(alerts.Deduper); ok {
		opts.Dedup = d
	}
	opts.Now, opts.Logger, opts.Metrics = now, log, m
	return alerts.New(opts)
}

// alertSink is d as extproc's AlertSink: nil (no webhooks) stays a nil interface.
func alertSink(d *alerts.Dispatcher) extproc.AlertSink {
	if d == nil {
		return nil
	}
	return d
}

// closeAlerts sends what is queued, for at most five seconds.
func closeAlerts(d *alerts.Dispatcher) error {
	if d == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
