package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/spf13/pflag"

	"github.com/proxide/proxide/envoy"
)

// rejectEscapedSlashes is the shipped configs' path_with_escaped_slashes_action.
const rejectEscapedSlashes = hcmv3.HttpConnectionManager_REJECT_REQUEST

// devStatsPath serves the front's counters as JSON. Envoy's route sends only
// /openai/v1/* to the sidecar, so the path cannot collide with OpenAI's.
const devStatsPath = "/_dev/stats"

// devFront is the HTTP front of `proxide dev`: the Envoy stand-in, plus the
// counters a test needs to see what reached the front (requests, TCP
// connections: an SDK that retries, or a dropped keep-alive connection,
// shows up there).
type devFront struct {
	srv   *http.Server
	si    *envoy.StandIn
	conns atomic.Int64
}

// devStats is the JSON of devStatsPath.
type devStats struct {
	Requests     int64 `json:"requests"`      // HTTP requests the stand-in served
	Connections  int64 `json:"connections"`   // TCP connections accepted
	LocalReplies int64 `json:"local_replies"` // 402/429/… answered without the upstream
	Upstream     int64 `json:"upstream_requests"`
}

func newDevFront(si *envoy.StandIn) *devFront {
	f := &devFront{si: si}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+devStatsPath, f.stats)
	mux.Handle("/", si)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				f.conns.Add(1)
			}
		}}
	return f
}

func (f *devFront) stats(w http.ResponseWriter, _ *http.Request) {
	st := f.si.Stats()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(devStats{Requests: st.Requests, Connections: f.conns.Load(),
		LocalReplies: st.ImmediateResponses, Upstream: st.UpstreamRequests})
}

// announce prints what a newcomer needs: where to point an SDK, the key, the
// dashboard, a curl to paste.
func announce(w io.Writer, fs *pflag.FlagSet, r devReady, cfg Config) error {
	key := r.Key
	keyNote := "(the demo key of the built-in config; the upstream gets its own)"
	switch {
	case key == "" && len(cfg.Keys) == 0:
		key, keyNote = "any", "(no keys configured: every caller is accepted)"
	case key == "":
		key, keyNote = "<one of your config's keys>", ""
	}
	upstream := r.Upstream
	if r.FakeURL != "" {
		upstream = "the built-in fake OpenAI, " + r.FakeURL + " (no account needed; --upstream https://api.openai.com uses $OPENAI_API_KEY)"
	}
	ledger := "in-memory (--redis-url to share it between replicas)"
	if cfg.Store.RedisURL != "" {
		ledger = "redis"
	}
	auth := ""
	if len(cfg.Keys) > 0 {
		auth = " -H 'authorization: Bearer " + key + "'"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nProxide dev: the sidecar with a local front on %s that speaks ext_proc to it as Envoy does\n", strings.TrimPrefix(r.Front, "http://"))
	fmt.Fprintf(&b, "(a development front: in production Envoy sits there, see docs/deploy.md)\n\n")
	fmt.Fprintf(&b, "  base URL    %s\n", r.BaseURL)
	fmt.Fprintf(&b, "  API key     %s %s\n", key, keyNote)
	fmt.Fprintf(&b, "  client id   header %s: <who is calling>\n", r.ClientHdr)
	fmt.Fprintf(&b, "  dashboard   %s/\n", r.Admin)
	fmt.Fprintf(&b, "  admin API   %s/v1/clients\n", r.Admin)
	fmt.Fprintf(&b, "  upstream    %s\n", upstream)
	fmt.Fprintf(&b, "  ledger      %s\n\n", ledger)
	fmt.Fprintf(&b, "Try it:\n  curl -s %s/chat/completions%s -H '%s: user-12345' \\\n", r.BaseURL, auth, r.ClientHdr)
	fmt.Fprintf(&b, "    -H 'content-type: application/json' -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n")
	fmt.Fprintf(&b, "  curl -s %s/v1/clients/user-12345%s\n\n", r.Admin, auth)
	if demo, _ := fs.GetBool("demo"); !demo {
		fmt.Fprintf(&b, "Ctrl-C stops it.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
