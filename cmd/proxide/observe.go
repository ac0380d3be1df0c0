package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/extproc"
	"github.com/proxide/proxide/internal/alerts"
	"github.com/proxide/proxide/internal/metrics"
)

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
	if d, ok := store.(alerts.Deduper); ok {
		opts.Dedup = d
	} else {
		opts.Dedup = alerts.NewLocalDeduper(now)
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
