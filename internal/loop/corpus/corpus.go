// Package corpus generates and reads the labelled loop-detection corpus:
// traces of realistic OpenAI chat-completions and Responses requests, each
// labelled loop or legit, with the kind of behaviour it shows. Generation is
// deterministic for a seed, so the committed testdata/corpus.jsonl can be
// regenerated and grown (go run ./internal/loop/internal/corpusgen).
package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// Labels and endpoints.
const (
	LabelLoop  = "loop"
	LabelLegit = "legit"

	EndpointChat      = "chat"      // POST /v1/chat/completions
	EndpointResponses = "responses" // POST /v1/responses

	SplitTune = "tune" // thresholds are chosen on these traces
	SplitTest = "test" // and reported on these
)

// DefaultSeed is the seed of the committed corpus.
const DefaultSeed = 20250601

// Request is one request of a trace.
type Request struct {
	// At is the time since the trace's first request, in milliseconds.
	At int64 `json:"t_ms"`
	// Endpoint is EndpointChat or EndpointResponses.
	Endpoint string `json:"endpoint"`
	// Body is the JSON request body as the client sent it.
	Body json.RawMessage `json:"body"`
}

// Trace is one client's labelled sequence of requests.
type Trace struct {
	ID     string `json:"id"`
	Client string `json:"client"`
	Label  string `json:"label"`
	Kind   string `json:"kind"`
	Split  string `json:"split"`
	// Onset is the index of the first request that belongs to the loop (a
	// loop may start after some progress); -1 for legit traces.
	Onset    int       `json:"onset"`
	Requests []Request `json:"requests"`
}

// kindSpec generates count traces of one kind.
type kindSpec struct {
	kind, label string
	count       int
	gen         func(b *builder)
}

// Generate returns the corpus for seed: every kind's traces, in a fixed order,
// split alternately into tune and test within each kind.
func Generate(seed uint64) []Trace {
	var out []Trace
	seen := map[string]bool{}
	base := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	for ki, k := range append(loopKinds(), legitKinds()...) {
		for i := range k.count {
			rng := rand.New(rand.NewPCG(seed, uint64(ki)<<32|uint64(i))) //nolint:gosec // G404: one seed must give one corpus; nothing here is secret
			b := &builder{
				rng:   rng,
				index: i,
				start: base.Add(time.Duration(ki*1000+i) * 7 * time.Minute),
				tr: Trace{
					ID:    fmt.Sprintf("%s-%03d", k.kind, i),
					Label: k.label,
					Kind:  k.kind,
					Split: [2]string{SplitTune, SplitTest}[i%2],
					Onset: -1,
				},
			}
			if k.label == LabelLoop {
				b.tr.Onset = 0
			}
			k.gen(b)
			b.tr.Client = clientID(rng, k.kind, i)
			for seen[b.tr.Client] { // one client per trace
				b.tr.Client += "x"
			}
			seen[b.tr.Client] = true
			out = append(out, b.tr)
		}
	}
	return out
}

func clientID(rng *rand.Rand, kind string, i int) string {
	switch rng.IntN(4) {
	case 0:
		return fmt.Sprintf("agent-%s", hexID(rng, 8))
	case 1:
		return fmt.Sprintf("user-%05d", rng.IntN(100000))
	case 2:
		return fmt.Sprintf("tenant-%s-%d", pick(rng, words("acme globex initech umbrella hooli stark wayne")), i)
	default:
		return fmt.Sprintf("%s-%s", kind, id(rng, "", 6))
	}
}

// builder accumulates one trace.
type builder struct {
	rng   *rand.Rand
	index int           // of the trace within its kind
	start time.Time     // wall clock of the first request, for timestamps in texts
	at    time.Duration // since the first request
	tr    Trace
}

// now is the wall-clock time of the next request.
func (b *builder) now() time.Time { return b.start.Add(b.at) }

// send appends a request at the current time, then advances the clock by a
// random delay in [lo, hi).
func (b *builder) send(endpoint string, body json.RawMessage, lo, hi time.Duration) {
	b.tr.Requests = append(b.tr.Requests, Request{At: b.at.Milliseconds(), Endpoint: endpoint, Body: body})
	b.at += lo + time.Duration(b.rng.Int64N(int64(hi-lo)+1))
}

// Write writes traces as JSON lines.
func Write(w io.Writer, traces []Trace) error {
	bw := bufio.NewWriter(w)
	for i := range traces {
		line, err := json.Marshal(&traces[i])
		if err != nil {
			return fmt.Errorf("corpus: trace %s: %w", traces[i].ID, err)
		}
		if _, err := bw.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("corpus: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("corpus: write: %w", err)
	}
	return nil
}

// WriteFile writes traces to path, gzipped when it ends in ".gz".
func WriteFile(path string, traces []Trace) error {
	f, err := os.Create(path) //nolint:gosec // G304: the caller names the corpus file; writing it is the point
	if err != nil {
		return err
	}
	if !strings.HasSuffix(path, ".gz") {
		return errors.Join(Write(f, traces), f.Close())
	}
	zw := gzip.NewWriter(f)
	return errors.Join(Write(zw, traces), zw.Close(), f.Close())
}

// ReadFile reads a corpus file written by WriteFile.
func ReadFile(path string) (_ []Trace, err error) {
	f, err := os.Open(path) //nolint:gosec // G304: the caller names the corpus file; reading it is the point
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorpus, path, err)
		}
		defer func() { err = errors.Join(err, zr.Close()) }()
		r = zr
	}
	return Read(r)
}

// ErrCorpus is wrapped by Read's errors.
var ErrCorpus = errors.New("corpus: malformed corpus")

// Read parses a corpus written by Write and checks its invariants.
func Read(r io.Reader) ([]Trace, error) {
	var out []Trace
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var t Trace
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrCorpus, line, err)
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrCorpus, line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("corpus: read: %w", err)
	}
	return out, nil
}

func (t *Trace) check() error {
	switch {
	case t.ID == "" || t.Client == "":
		return errors.New("missing id or client")
	case t.Label != LabelLoop && t.Label != LabelLegit:
		return fmt.Errorf("trace %s: label %q", t.ID, t.Label)
	case len(t.Requests) == 0:
		return fmt.Errorf("trace %s: no requests", t.ID)
	case t.Label == LabelLoop && (t.Onset < 0 || t.Onset >= len(t.Requests)):
		return fmt.Errorf("trace %s: onset %d out of range", t.ID, t.Onset)
	}
	for i, r := range t.Requests {
		if r.Endpoint != EndpointChat && r.Endpoint != EndpointResponses {
			return fmt.Errorf("trace %s request %d: endpoint %q", t.ID, i, r.Endpoint)
		}
		if i > 0 && r.At < t.Requests[i-1].At {
			return fmt.Errorf("trace %s request %d: time goes back", t.ID, i)
		}
	}
	return nil
}
