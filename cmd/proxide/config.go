package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// Config is the whole of Proxide's configuration, one plain struct filled
// from the file, then PROXIDE_* environment variables, then flags.
type Config struct {
	Listen       ListenConfig    `mapstructure:"listen"`
	Store        StoreConfig     `mapstructure:"store"`
	Keys         []KeyConfig     `mapstructure:"keys"`
	Upstream     UpstreamConfig  `mapstructure:"upstream"`
	ClientID     ClientIDConfig  `mapstructure:"client_id"`
	Budgets      BudgetsConfig   `mapstructure:"budgets"`
	Pricing      PricingConfig   `mapstructure:"pricing"`
	Loop         LoopConfig      `mapstructure:"loop_detection"`
	Endpoints    EndpointsConfig `mapstructure:"endpoints"`
	PathPrefixes []string        `mapstructure:"path_prefixes"`
	Log          LogConfig       `mapstructure:"log"`
	Alerts       AlertsConfig    `mapstructure:"alerts"`
	Metrics      MetricsConfig   `mapstructure:"metrics"`
	AccessLog    AccessLogConfig `mapstructure:"access_log"`
}

// ListenConfig holds the two ports and gRPC limits.
type ListenConfig struct {
	GRPC            string        `mapstructure:"grpc"`
	Admin           string        `mapstructure:"admin"`
	MaxMessageBytes int           `mapstructure:"max_message_bytes"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// PProf is where Go's profiler listens (/debug/pprof/); empty, the
	// default, serves no profiler. Bind it to loopback.
	PProf string `mapstructure:"pprof"`
	// EnvoyMessageTimeout is the ext_proc message_timeout of the Envoy in
	// front (2s in every shipped config): store.timeout is checked against it
	// at start-up, so a hung ledger gets the failure mode's answer, not
	// Envoy's bare 504.
	EnvoyMessageTimeout time.Duration `mapstructure:"envoy_message_timeout"`
	// StreamIdleTimeout closes an ext_proc stream on which Envoy sent nothing
	// for this long (a caller on the ext_proc port that opens streams and
	// walks away); longer than Envoy's own stream and route idle timeouts, so
	// Envoy ends real requests first.
	StreamIdleTimeout time.Duration `mapstructure:"stream_idle_timeout"`
	// MaxRequestBodyBytes caps a request body Proxide collects from STREAMED
	// pieces (413 past it).
	MaxRequestBodyBytes int `mapstructure:"max_request_body_bytes"`
	// TLS is mutual TLS on the gRPC port (tls.go); off when empty.
	TLS TLSConfig `mapstructure:"tls"`
}

// StoreConfig selects the ledger.
type StoreConfig struct {
	RedisURL string `mapstructure:"redis_url"`
	// Timeout bounds each ledger call on the request path; it must end well
	// inside Envoy's ext_proc message_timeout (2s in the shipped configs).
	Timeout     time.Duration `mapstructure:"timeout"`
	FailureMode string        `mapstructure:"failure_mode"`
	Retention   time.Duration `mapstructure:"retention"`
	Prefix      string        `mapstructure:"prefix"`
	// SpillDir keeps the settlements buffered during a Redis outage on disk,
	// so none is dropped past the memory bound and a restarted sidecar
	// replays them (budget/resilient); "" is a directory of this sidecar's
	// own under the OS temp dir, "off" keeps them in memory only.
	SpillDir string `mapstructure:"spill_dir"`
}

// KeyConfig is one Proxide API key.
type KeyConfig struct {
	Name   string   `mapstructure:"name"`
	SHA256 string   `mapstructure:"sha256"`
	Key    string   `mapstructure:"key"`
	Scopes []string `mapstructure:"scopes"`
	// ClientIDs binds the key to the client ids it may speak for (exact ids
	// and "prefix*" patterns); empty: any.
	ClientIDs []string `mapstructure:"client_ids"`
}

// UpstreamConfig says where the OpenAI key comes from.
type UpstreamConfig struct {
	APIKeyEnv  string `mapstructure:"api_key_env"`
	APIKeyFile string `mapstructure:"api_key_file"`
}

// ClientIDConfig names the client-id header and its defaults.
type ClientIDConfig struct {
	Header  string `mapstructure:"header"`
	Default string `mapstructure:"default"`
	Strip   bool   `mapstructure:"strip"`
	// Normalize folds ids to Unicode NFKC and refuses invisible, unassigned
	// and mixed-script ids with 400 (internal/clientid).
	Normalize bool `mapstructure:"normalize"`
	// Source is where the id comes from: "header" (default) or
	// "peer_uri_san", the URI SAN (SPIFFE id) of the peer certificate Envoy
	// verified, sent as the connection.uri_san_peer_certificate attribute.
	Source string `mapstructure:"source"`
}

// BudgetsConfig holds the file's budget rules and how reservations are made.
// A rule is a rules.Spec: the same keys as the admin API's JSON.
type BudgetsConfig struct {
	Timezone string       `mapstructure:"timezone"`
	Default  rules.Spec   `mapstructure:"default"`
	Rules    []rules.Spec `mapstructure:"rules"`
	// DefaultMaxOutputTokens (0 = the model's max_output_tokens) is reserved
	// for a request without an output limit; a value below the model's
	// maximum breaks the worst-case bound (explicit opt-in).
	DefaultMaxOutputTokens int64 `mapstructure:"default_max_output_tokens"`
	// DefaultMaxToolCalls bounds a Responses request's built-in tool calls
	// when it sets no max_tool_calls.
	DefaultMaxToolCalls int64 `mapstructure:"default_max_tool_calls"`
	// DefaultServiceTier is the tier requests without one are reserved at:
	// the project's default tier (default or priority).
	DefaultServiceTier string `mapstructure:"default_service_tier"`
	// ReservationTTL is how long a dead sidecar's reservations survive it;
	// live requests renew theirs.
	ReservationTTL time.Duration `mapstructure:"reservation_ttl"`
	// BackgroundTTL is how long a background response's held charge waits
	// for its result before it is charged as estimated.
	BackgroundTTL time.Duration `mapstructure:"background_ttl"`
	// BatchTTL is how long a batch's held charge waits for a GET showing it
	// finished before it is charged as estimated.
	BatchTTL time.Duration `mapstructure:"batch_ttl"`
	// BlockCacheTTL bounds how long a client certain to be refused is refused
	// without a ledger round trip (budget/blockcache).
	BlockCacheTTL time.Duration `mapstructure:"block_cache_ttl"`
}

// EndpointsConfig is the endpoints section: what happens to paid endpoints
// Proxide cannot meter (realtime, fine-tuning): refuse (default) or allow. A
// rule's endpoints key has the same shape.
type EndpointsConfig = rules.EndpointsSpec

// LoopConfig is the global loop_detection section.
type LoopConfig struct {
	Enabled    bool          `mapstructure:"enabled"`
	Window     time.Duration `mapstructure:"window"`
	MaxRepeats int           `mapstructure:"max_repeats"`
	Similarity float64       `mapstructure:"similarity"`
	Cooldown   time.Duration `mapstructure:"cooldown"`
	Action     string        `mapstructure:"action"`
	Status     int           `mapstructure:"status"`
}

// PricingConfig overrides or extends the embedded price table.
type PricingConfig struct {
	File          string                 `mapstructure:"file"`
	Fallback      *PriceConfig           `mapstructure:"fallback"`
	RefuseUnknown bool                   `mapstructure:"refuse_unknown"`
	Custom        map[string]PriceConfig `mapstructure:"custom"`
	// Region is the data-residency region of the upstream (eu, us): prices
	// carry the model's regional-processing uplift.
	Region string `mapstructure:"region"`
}

// PriceConfig is a price in USD per million tokens.
type PriceConfig struct {
	InputPerMTok       float64  `mapstructure:"input_per_mtok"`
	OutputPerMTok      float64  `mapstructure:"output_per_mtok"`
	CachedInputPerMTok *float64 `mapstructure:"cached_input_per_mtok"`
}

// LogConfig sets the log level and format.
type LogConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// defaults are set on viper so that every key is known to it: PROXIDE_* env
// variables only reach keys viper knows.
var defaults = map[string]any{
	"listen.grpc":                       ":50051",
	"listen.admin":                      ":8080",
	"listen.max_message_bytes":          16 << 20,
	"listen.shutdown_timeout":           "30s",
	"listen.pprof":                      "",
	"listen.envoy_message_timeout":      "2s",
	"listen.stream_idle_timeout":        "10m",
	"listen.max_request_body_bytes":     16 << 20,
	"store.spill_dir":                   "",
	"listen.tls.cert_file":              "",
	"listen.tls.key_file":               "",
	"listen.tls.client_ca_file":         "",
	"store.redis_url":                   "",
	"store.failure_mode":                "closed",
	"store.timeout":                     "500ms",
	"store.retention":                   "2160h",
	"store.prefix":                      "px",
	"upstream.api_key_env":              "OPENAI_API_KEY",
	"upstream.api_key_file":             "",
	"client_id.header":                  "x-proxide-client-id",
	"client_id.default":                 "",
	"client_id.strip":                   true,
	"client_id.normalize":               false,
	"client_id.source":                  "header",
	"budgets.timezone":                  "UTC",
	"budgets.default_max_output_tokens": 0,
	"budgets.default_max_tool_calls":    8,
	"budgets.default_service_tier":      "default",
	"budgets.reservation_ttl":           "2m",
	"budgets.background_ttl":            "6h",
	"budgets.batch_ttl":                 "48h",
	"endpoints.unmetered":               "refuse",
	"pricing.region":                    "",
	"budgets.block_cache_ttl":           "1s",
	"pricing.file":                      "",
	"pricing.refuse_unknown":            false,
	"pricing.fallback.input_per_mtok":   10.0,
	"pricing.fallback.output_per_mtok":  30.0,
	"path_prefixes":                     []string{"/openai/v1", "/v1"},
	"loop_detection.enabled":            true,
	"loop_detection.window":             "60s",
	"loop_detection.max_repeats":        5,
	"loop_detection.similarity":         0.9,
	"loop_detection.cooldown":           "5m",
	"loop_detection.action":             "block",
	"loop_detection.status":             429,
	"log.level":                         "info",
	"log.format":                        "json",
}

// serveFlags are the command-line overrides of `proxide serve`.
func serveFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("config", "", "YAML config file")
	fs.String("grpc-addr", "", "ext_proc gRPC listen address (listen.grpc)")
	fs.String("admin-addr", "", "admin HTTP listen address (listen.admin)")
	fs.String("redis-url", "", "Redis URL; empty = in-memory ledger (store.redis_url)")
	fs.String("log-level", "", "debug, info, warn or error (log.level)")
	fs.String("pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty (listen.pprof)")
	return fs
}

var flagKeys = map[string]string{
	"grpc-addr":  "listen.grpc",
	"admin-addr": "listen.admin",
	"redis-url":  "store.redis_url",
	"log-level":  "log.level",
	"pprof-addr": "listen.pprof",
}

// loadConfig reads file, then env, then flags, and validates the result.
func loadConfig(fs *pflag.FlagSet, environ []string) (Config, error) {
	return loadConfigWith(fs, environ, nil)
}

// loadConfigWith is loadConfig where base (YAML, e.g. `proxide dev`'s
// embedded config) stands in for the file when --config is not given.
func loadConfigWith(fs *pflag.FlagSet, environ []string, base []byte) (Config, error) {
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	// The environment is passed in (not read by viper) so tests control it;
	// explicit Set calls rank above the file, and flags are set after env.
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "PROXIDE_") {
			key := strings.ToLower(strings.TrimPrefix(k, "PROXIDE_"))
			if dotted, ok := envKey(key); ok {
				v.Set(dotted, val)
			}
		}
	}
	if path, _ := fs.GetString("config"); path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	} else if base != nil {
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(base)); err != nil {
			return Config{}, fmt.Errorf("built-in config: %w", err)
		}
	}
	for flag, key := range flagKeys {
		if f := fs.Lookup(flag); f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}
	// One pass (configcheck.go): what cannot be decoded, what Validate
	// finds and what building the rules, keys and prices finds.
	var cfg Config
	var errs []error
	var failed []string
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.StringToSliceHookFunc(","))
	}); err != nil {
		errs, failed = decodeProblems(err)
	}
	errs = append(errs, withoutFailed(unjoin(cfg.Validate()), failed)...)
	errs = append(errs, withoutFailed(unjoin(errors.Join(cfg.checkBuild()...)), failed)...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %d problem(s):\n%w", len(unjoin(err)), err)
	}
	return cfg, nil
}

// envKey maps an env suffix like "store_redis_url" to the dotted key
// "store.redis_url" by matching the known keys (underscores are ambiguous).
func envKey(suffix string) (string, bool) {
	for k := range defaults {
		if strings.ReplaceAll(k, ".", "_") == suffix {
			return k, true
		}
	}
	return "", false
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	errs = append(errs, c.Alerts.validate(), c.AccessLog.validate())
	if c.Listen.GRPC == "" {
		add("listen.grpc: must not be empty")
	}
	if c.Listen.Admin == "" {
		add("listen.admin: must not be empty")
	}
	if err := c.Listen.TLS.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Listen.MaxMessageBytes < 1<<20 || c.Listen.MaxMessageBytes > 1<<30 {
		add("listen.max_message_bytes: %d is outside 1 MiB..1 GiB", c.Listen.MaxMessageBytes)
	}
	if c.Store.FailureMode != "open" && c.Store.FailureMode != "closed" {
		add("store.failure_mode: %q must be open or closed", c.Store.FailureMode)
	}
	if c.Listen.EnvoyMessageTimeout < 100*time.Millisecond || c.Listen.EnvoyMessageTimeout > time.Hour {
		add("listen.envoy_message_timeout: %s must be between 100ms and 1h (Envoy's ext_proc message_timeout)", c.Listen.EnvoyMessageTimeout)
	} else if limit := c.Listen.EnvoyMessageTimeout * 3 / 4; c.Store.Timeout < 10*time.Millisecond || c.Store.Timeout > limit {
		// A quarter of Envoy's timeout is left for parsing, pricing and the
		// reply: past it Envoy answers 504 whatever failure_mode says.
		add("store.timeout: %s must be between 10ms and %s (3/4 of listen.envoy_message_timeout %s): a ledger call must end inside Envoy's ext_proc message_timeout",
			c.Store.Timeout, limit, c.Listen.EnvoyMessageTimeout)
	}
	if c.Listen.StreamIdleTimeout < time.Second {
		add("listen.stream_idle_timeout: %s must be at least 1s", c.Listen.StreamIdleTimeout)
	}
	if c.Listen.MaxRequestBodyBytes < 64<<10 || c.Listen.MaxRequestBodyBytes > 1<<30 {
		add("listen.max_request_body_bytes: %d is outside 64 KiB..1 GiB", c.Listen.MaxRequestBodyBytes)
	}
	if c.Store.Retention < 24*time.Hour {
		add("store.retention: %s must be at least 24h", c.Store.Retention)
	}
	if c.Upstream.APIKeyEnv != "" && c.Upstream.APIKeyFile != "" && c.Upstream.APIKeyEnv != defaults["upstream.api_key_env"] {
		add("upstream: set api_key_env or api_key_file, not both")
	}
	if c.ClientID.Header == "" || strings.ContainsAny(c.ClientID.Header, " :\t") {
		add("client_id.header: %q is not a header name", c.ClientID.Header)
	}
	if c.ClientID.Source != "header" && c.ClientID.Source != "peer_uri_san" {
		add("client_id.source: %q must be header or peer_uri_san", c.ClientID.Source)
	}
	if c.Budgets.DefaultMaxOutputTokens < 0 {
		add("budgets.default_max_output_tokens: must not be negative (0 reserves the model's maximum)")
	}
	if c.Budgets.DefaultMaxToolCalls < 1 || c.Budgets.DefaultMaxToolCalls > 1000 {
		add("budgets.default_max_tool_calls: %d must be between 1 and 1000", c.Budgets.DefaultMaxToolCalls)
	}
	switch c.Budgets.DefaultServiceTier {
	case "default", "priority", "flex", "scale":
	default:
		add("budgets.default_service_tier: %q must be default, priority, flex or scale", c.Budgets.DefaultServiceTier)
	}
	if c.Budgets.ReservationTTL < 3*time.Second || c.Budgets.ReservationTTL > budget.MaxReservationTTL {
		add("budgets.reservation_ttl: %s must be between 3s and %s", c.Budgets.ReservationTTL, budget.MaxReservationTTL)
	}
	if c.Budgets.BatchTTL < time.Minute || c.Budgets.BatchTTL > budget.MaxHoldTTL {
		add("budgets.batch_ttl: %s must be between 1m and %s", c.Budgets.BatchTTL, budget.MaxHoldTTL)
	}
	if c.Budgets.BackgroundTTL < time.Minute || c.Budgets.BackgroundTTL > budget.MaxHoldTTL {
		add("budgets.background_ttl: %s must be between 1m and %s", c.Budgets.BackgroundTTL, budget.MaxHoldTTL)
	}
	switch c.Endpoints.Unmetered {
	case "refuse", "allow":
	default:
		add("endpoints.unmetered: %q must be refuse or allow", c.Endpoints.Unmetered)
	}
	switch c.Pricing.Region {
	case "", "eu", "us":
	default:
		add("pricing.region: %q must be empty, eu or us", c.Pricing.Region)
	}
	if c.Budgets.BlockCacheTTL < 0 {
		add("budgets.block_cache_ttl: must not be negative")
	}
	if c.Pricing.Fallback != nil {
		checkPrice(add, "pricing.fallback", *c.Pricing.Fallback)
	}
	for model, p := range c.Pricing.Custom {
		checkPrice(add, "pricing.custom."+model, p)
	}
	if err := c.Loop.config().Validate(); err != nil {
		add("loop_detection: %w", err)
	}
	if c.Loop.Action != "block" && c.Loop.Action != "alert" {
		add("loop_detection.action: %q must be block or alert", c.Loop.Action)
	}
	if c.Loop.Status < 400 || c.Loop.Status > 599 {
		add("loop_detection.status: %d must be an HTTP error status (400-599)", c.Loop.Status)
	}
	for i, p := range c.PathPrefixes {
		if !strings.HasPrefix(p, "/") {
			add("path_prefixes[%d]: %q must start with /", i, p)
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q must be debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		add("log.format: %q must be json or text", c.Log.Format)
	}
	errs = append(errs, c.checkNormalIDs()...)
	// Rules, keys, timezone and price files are checked where they are built
	// (see buildRules, auth.NewKeys) so their messages name the field too.
	return errors.Join(errs...)
}

func checkPrice(add func(string, ...any), field string, p PriceConfig) {
	for name, v := range map[string]float64{"input_per_mtok": p.InputPerMTok, "output_per_mtok": p.OutputPerMTok} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6 {
			add("%s.%s: %v must be a price between 0 and 1e6 USD per million tokens", field, name, v)
		}
	}
	if c := p.CachedInputPerMTok; c != nil && (math.IsNaN(*c) || math.IsInf(*c, 0) || *c < 0 || *c > 1e6) {
		add("%s.cached_input_per_mtok: %v must be a price between 0 and 1e6", field, *c)
	}
}

// upstreamKey reads the OpenAI key from the file or the env var; "" if neither.
func (c Config) upstreamKey(getenv func(string) string) (string, error) {
	if c.Upstream.APIKeyFile != "" {
		b, err := os.ReadFile(c.Upstream.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("upstream.api_key_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if c.Upstream.APIKeyEnv != "" {
		return strings.TrimSpace(getenv(c.Upstream.APIKeyEnv)), nil
	}
	return "", nil
}

func (l LoopConfig) config() loop.Config {
	return loop.Config{Window: l.Window, MaxRepeats: l.MaxRepeats, Similarity: l.Similarity, Cooldown: l.Cooldown}
}

// defaults turns the section into what extproc applies when a rule does not override it.
func (l LoopConfig) defaults() rules.LoopDefaults {
	return rules.LoopDefaults{Enabled: l.Enabled, Block: l.Action == "block", Config: l.config()}
}
