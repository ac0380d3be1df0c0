package k8s_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// proxideConfig mirrors the keys `proxide serve` accepts (cmd/proxide
// config.go; DESIGN.md §2). Decoding with KnownFields rejects any other key,
// as Proxide does at start-up. TestRenderedConfigsStartProxide checks the
// same files against the real binary.
type proxideConfig struct {
	Listen struct {
		GRPC            string `yaml:"grpc"`
		Admin           string `yaml:"admin"`
		MaxMessageBytes int    `yaml:"max_message_bytes"`
		ShutdownTimeout string `yaml:"shutdown_timeout"`
		// EnvoyMessageTimeout is the chart's envoy.messageTimeout, which
		// store.timeout must stay inside.
		EnvoyMessageTimeout string `yaml:"envoy_message_timeout"`
		TLS                 struct {
			CertFile     string `yaml:"cert_file"`
			KeyFile      string `yaml:"key_file"`
			ClientCAFile string `yaml:"client_ca_file"`
		} `yaml:"tls"`
	} `yaml:"listen"`
	Store struct {
		RedisURL    string `yaml:"redis_url"`
		FailureMode string `yaml:"failure_mode"`
		Retention   string `yaml:"retention"`
		Prefix      string `yaml:"prefix"`
		Timeout     string `yaml:"timeout"`
		SpillDir    string `yaml:"spill_dir"`
	} `yaml:"store"`
	Keys []struct {
		Name      string   `yaml:"name"`
		SHA256    string   `yaml:"sha256"`
		Key       string   `yaml:"key"`
		Scopes    []string `yaml:"scopes"`
		ClientIDs []string `yaml:"client_ids"`
	} `yaml:"keys"`
	Upstream struct {
		APIKeyEnv  string `yaml:"api_key_env"`
		APIKeyFile string `yaml:"api_key_file"`
	} `yaml:"upstream"`
	ClientID struct {
		Header  string `yaml:"header"`
		Default string `yaml:"default"`
		Strip   *bool  `yaml:"strip"`
	} `yaml:"client_id"`
	Budgets struct {
		Timezone               string       `yaml:"timezone"`
		Default                budgetRule   `yaml:"default"`
		Rules                  []budgetRule `yaml:"rules"`
		DefaultMaxOutputTokens int          `yaml:"default_max_output_tokens"`
		ReservationTTL         string       `yaml:"reservation_ttl"`
		BlockCacheTTL          string       `yaml:"block_cache_ttl"`
	} `yaml:"budgets"`
	Pricing struct {
		File          string           `yaml:"file"`
		Fallback      *price           `yaml:"fallback"`
		RefuseUnknown bool             `yaml:"refuse_unknown"`
		Custom        map[string]price `yaml:"custom"`
	} `yaml:"pricing"`
	LoopDetection *loopDetection `yaml:"loop_detection"`
	PathPrefixes  []string       `yaml:"path_prefixes"`
	Log           struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

type budgetRule struct {
	ClientID        string    `yaml:"client_id"`
	Match           string    `yaml:"match"`
	DailyLimitUSD   *float64  `yaml:"daily_limit_usd"`
	MonthlyLimitUSD *float64  `yaml:"monthly_limit_usd"`
	Action          string    `yaml:"action"`
	AlertThresholds []float64 `yaml:"alert_thresholds"`
	LoopDetection   *ruleLoop `yaml:"loop_detection"`
}

// loopDetection is the global loop_detection section (cmd/proxide LoopConfig);
// durations stay strings, as Proxide parses them itself.
type loopDetection struct {
	Enabled    *bool   `yaml:"enabled"`
	Window     string  `yaml:"window"`
	MaxRepeats int     `yaml:"max_repeats"`
	Similarity float64 `yaml:"similarity"`
	Cooldown   string  `yaml:"cooldown"`
	Action     string  `yaml:"action"`
	Status     int     `yaml:"status"`
}

// ruleLoop is a rule's loop_detection override (cmd/proxide RuleLoopConfig);
// absent fields inherit the global section.
type ruleLoop struct {
	Mode       string  `yaml:"mode"`
	Window     string  `yaml:"window"`
	MaxRepeats int     `yaml:"max_repeats"`
	Similarity float64 `yaml:"similarity"`
	Cooldown   string  `yaml:"cooldown"`
}

type price struct {
	InputPerMTok       float64  `yaml:"input_per_mtok"`
	OutputPerMTok      float64  `yaml:"output_per_mtok"`
	CachedInputPerMTok *float64 `yaml:"cached_input_per_mtok"`
}

// parseProxideConfig decodes proxide.yaml strictly.
func parseProxideConfig(b []byte) (proxideConfig, error) {
	var c proxideConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("proxide.yaml: %w", err)
	}
	return c, nil
}

// listenPort is the port of a listen address like ":50051" or "127.0.0.1:50051".
func listenPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, "listen address %q", addr)
	n, err := strconv.ParseInt(p, 10, 32)
	require.NoError(t, err)
	return int32(n)
}

// buildProxide compiles the sidecar from the parent module as `make build`
// does (static: CGO_ENABLED=0, -trimpath), sharing its build cache.
func buildProxide(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "proxide")
	goTool, err := exec.LookPath("go") // the go command that runs the tests
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), goTool, "build", "-trimpath", "-o", bin, "./cmd/proxide")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/proxide: %s", out)
	return bin
}

// startsWith runs `proxide serve` on cfg until it reports "proxide serving",
// then stops it with SIGTERM and expects a clean exit. The ledger is forced
// to memory and the upstream key file to a temporary one, as neither Redis
// nor the Secret exists here; everything else is the file as deployed.
func startsWith(t *testing.T, bin string, cfg []byte) {
	t.Helper()
	served, log := serve(t, bin, cfg)
	require.True(t, served, "proxide refused the config:\n%s", log)
}

// refusedBy runs `proxide serve` on cfg and expects it to exit before
// serving; it returns Proxide's log, which names the bad keys.
func refusedBy(t *testing.T, bin string, cfg []byte) string {
	t.Helper()
	served, log := serve(t, bin, cfg)
	require.False(t, served, "proxide accepted the config:\n%s", log)
	return log
}

// serve starts `proxide serve` as startsWith describes and reports whether it
// served (then stopped cleanly) or exited first, with its log either way.
func serve(t *testing.T, bin string, cfg []byte) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "proxide.yaml")
	require.NoError(t, os.WriteFile(path, cfg, 0o600))
	keyFile := filepath.Join(dir, "api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte("sk-test-only\n"), 0o600))
	cmd := exec.CommandContext(t.Context(), bin, "serve", "--config", path, "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "info")
	cmd.Env = []string{"HOME=" + dir, "PROXIDE_STORE_REDIS_URL=", "PROXIDE_UPSTREAM_API_KEY_FILE=" + keyFile, "OPENAI_API_KEY=sk-test-only"}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = cmd.Stderr // usage and errors may go to either
	require.NoError(t, cmd.Start())

	serving := make(chan struct{})
	var log bytes.Buffer
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var l struct{ Msg string }
			if !once && (json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "proxide serving" || strings.Contains(sc.Text(), "proxide serving")) {
				once = true
				close(serving)
			}
		}
	}()
	select {
	case <-serving:
	case <-scanned:
		_ = cmd.Wait()
		return false, log.String()
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-scanned
		_ = cmd.Wait()
		t.Fatalf("proxide neither served nor exited in 30s:\n%s", log.String())
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	<-scanned
	require.NoError(t, cmd.Wait(), "clean exit after SIGINT")
	return true, log.String()
}
