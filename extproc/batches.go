package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/endpoints"
	"github.com/proxide/proxide/internal/media"
	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
)

// Batches are billed at batch prices while they run, long after the request
// that created them, and their result is known only when they complete. They
// are metered exactly once like this:
//
//  1. The input file's upload (POST /v1/files, purpose "batch") passes through
//     Proxide, which reads its JSONL line by line as it streams and remembers
//     the file's worst case (every line's, at batch prices) for the client.
//  2. POST /v1/batches reserves that worst case — a batch whose input file did
//     not pass through Proxide cannot be bounded and is refused — and, once
//     OpenAI answers with the batch's id, holds it as "batch:<id>".
//  3. The first GET /v1/batches/{id} that shows the batch finished with its
//     usage settles the hold at batch prices (once, on any replica). A batch
//     never looked at again is charged its worst case when the hold expires.

// batchFileTTL is how long an input file's estimate is remembered.
const batchFileTTL = 30 * 24 * time.Hour

// maxBatchLine bounds one JSONL line of a batch input file.
const maxBatchLine = 16 << 20

// batchKey is the ledger id of a batch's held charge, fileKey the key of an
// input file's remembered worst case.
func batchKey(id string) string { return "batch:" + id }
func fileKey(id string) string  { return "batchfile:" + id }

// batchLines estimates a batch input file as it streams: an io.Writer given
// the file part's bytes. Lines it cannot read make the file unbounded.
type batchLines struct {
	x         *exchange
	line      []byte
	total     int64
	lines     int
	unbounded bool
	why       string
}

func (b *batchLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.add(p)
			break
		}
		b.add(p[:i])
		b.endLine()
		p = p[i+1:]
	}
	return n, nil
}

func (b *batchLines) add(p []byte) {
	if len(b.line)+len(p) > maxBatchLine {
		b.fail("a line is longer than Proxide reads")
		b.line = b.line[:0]
		return
	}
	b.line = append(b.line, p...)
}

func (b *batchLines) fail(why string) {
	if !b.unbounded {
		b.unbounded, b.why = true, why
	}
}

// close ends the file: a last line without a newline is still a line.
func (b *batchLines) close() { b.endLine() }

func (b *batchLines) endLine() {
	line := bytes.TrimSpace(b.line)
	b.line = b.line[:0]
	if len(line) == 0 || b.unbounded {
		return
	}
	var l struct {
		URL  string          `json:"url"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		b.fail("a line is not JSON")
		return
	}
	nano, ok := b.x.batchLineWorstCase(l.URL, l.Body)
	if !ok {
		b.fail("a line cannot be priced (" + l.URL + ")")
		return
	}
	b.total = addSat(b.total, nano)
	b.lines++
}

func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

// batchLineWorstCase prices one batch request like a live one, at batch prices.
func (x *exchange) batchLineWorstCase(url string, body []byte) (int64, bool) {
	p, err := endpoints.Canonicalize(url, x.s.opts.PathPrefixes)
	if err != nil {
		return 0, false
	}
	op := endpoints.Classify("POST", p, nil).Operation
	if op == endpoints.Moderations {
		return 0, true
	}
	ep, ok := meteredEndpoints[op]
	if !ok {
		return 0, false
	}
	req, err := usage.ParseRequest(ep, body, x.s.opts.Usage)
	if err != nil {
		return 0, false
	}
	line := &exchange{s: x.s, access: accessEntry{requestID: x.access.requestID}, clientID: x.clientID, endpoint: ep, req: req, batch: true}
	e, resp := line.estimate(context.Background())
	if resp != nil {
		return 0, false
	}
	return e.nano, true
}

// uploadHeaders starts a file upload: free, but a batch input file is read as
// it passes to bound the batch it will feed.
func (x *exchange) uploadHeaders(mutation *extprocv3.HeaderMutation) (*extprocv3.ProcessingResponse, phase) {
	x.kind, x.upload = kindUpload, &batchLines{x: x}
	form, err := media.NewForm(x.contentType, media.FormLimits{FileSink: func(field, _, _ string) io.Writer {
		if field != "file" {
			return nil
		}
		return x.upload
	}})
	if err != nil {
		return x.release(mutation, "unmetered") // not a form OpenAI takes either
	}
	x.uploadForm = form
	x.s.opts.Metrics.Request(x.opName(), "unmetered")
	resp := headersReply(mutation)
	resp.ModeOverride = streamRequestBody
	return resp, phaseRequestBody
}

// onUploadBody reads a piece of an upload and passes it on unchanged.
func (x *exchange) onUploadBody(b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, phase) {
	if err := x.uploadForm.Write(b.GetBody()); err != nil {
		x.upload.fail("the form cannot be read")
	}
	if !b.GetEndOfStream() && !x.uploadForm.Complete() {
		return continueBody(), phaseRequestBody
	}
	res, err := x.uploadForm.Close()
	x.upload.close()
	if err != nil && !x.uploadForm.Complete() {
		x.upload.fail("the form cannot be read")
	}
	if purpose, _ := res.Value("purpose"); purpose != "batch" {
		x.upload = nil // not a batch input: nothing to remember
	}
	return continueBody(), phaseUpstream
}

// rememberUpload keeps a batch input file's worst case under its file id.
func (x *exchange) rememberUpload(ctx context.Context) {
	if x.upload == nil || x.meter == nil || x.status != 200 {
		return
	}
	r := x.meter.Result()
	if r.ResponseID == "" {
		return
	}
	if x.upload.unbounded || x.upload.lines == 0 {
		x.logger().Info("batch input file cannot be bounded; a batch made from it will be refused", "file_id", r.ResponseID, "why", x.upload.why)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), x.s.opts.SettleTimeout)
	defer cancel()
	err := x.s.opts.Ledger.Remember(ctx, x.clientID, []budget.Remember{{Key: fileKey(r.ResponseID),
		Tokens: max(x.upload.total, 1), TTL: batchFileTTL}}, x.s.opts.Now())
	if err != nil {
		x.logger().Error("cannot remember the batch input file's estimate", "err", err, "file_id", r.ResponseID)
		return
	}
	x.logger().Info("batch input file estimated", "file_id", r.ResponseID, "lines", x.upload.lines, "worst_case_nano", x.upload.total)
}

// estimateBatch reserves the worst case of the batch's input file.
func (x *exchange) estimateBatch(ctx context.Context) (estimate, *extprocv3.ProcessingResponse) {
	var r struct {
		InputFileID string `json:"input_file_id"`
	}
	if err := json.Unmarshal(x.body, &r); err != nil || r.InputFileID == "" {
		x.s.opts.Metrics.Request(x.opName(), "bad_request")
		return estimate{}, openAIError(400, "invalid_request_error", "invalid_body", "input_file_id",
			"A batch needs an input_file_id.")
	}
	ctx, cancel := context.WithTimeout(ctx, x.s.opts.LedgerTimeout)
	defer cancel()
	got, err := x.s.opts.Ledger.Contexts(ctx, x.clientID, []string{fileKey(r.InputFileID)}, x.s.opts.Now())
	if err != nil {
		x.s.opts.Metrics.Request(x.opName(), "ledger_unavailable")
		return estimate{}, openAIError(503, "budget_unavailable", "budget_unavailable", "",
			"Proxide cannot reach its budget ledger right now; retry shortly.")
	}
	if len(got) != 1 || got[0] <= 0 {
		x.s.opts.Metrics.Request(x.opName(), "endpoint_not_metered")
		return estimate{}, openAIError(403, "invalid_request_error", "batch_not_metered", "input_file_id",
			"Proxide cannot bound this batch's cost: its input file "+r.InputFileID+" was not uploaded through Proxide by this client "+
				"(POST /v1/files with purpose \"batch\"), or a line of it cannot be priced. Upload the file through Proxide, then create the batch.")
	}
	return estimate{model: "batch", known: true, nano: got[0]}, nil
}

// holdBatch turns the create's reservation into the batch's hold.
func (x *exchange) holdBatch(ctx context.Context) {
	r := x.meter.Result()
	if r.ResponseID == "" {
		x.settle(ctx, x.worstCase()) // a batch was made but cannot be followed: charge its worst case
		return
	}
	x.holdAs(ctx, batchKey(r.ResponseID), x.s.opts.BatchTTL)
}

// settleBatch settles a held batch from a batch object that shows it finished.
func (x *exchange) settleBatch(ctx context.Context) {
	if x.meter == nil || x.compressed || x.status != 200 {
		return
	}
	r := x.meter.Result()
	id := r.ResponseID
	if id == "" {
		id = batchIDFromPath(x.path.Suffix)
	}
	switch r.Status {
	case "completed", "failed", "expired", "cancelled":
	default:
		return
	}
	if id == "" || !r.HasUsage {
		return // without usage the held worst case is charged when it expires
	}
	x.rule = x.s.opts.Rules.Resolve(x.clientID)
	tp, known, err := x.s.opts.Pricer.TierFor(r.Model, pricing.Quote{Batch: true, Region: x.s.opts.Region})
	if err != nil || !known {
		x.logger().Warn("batch model not priced; its held worst case stays and is charged when it expires", "model", r.Model, "batch", id)
		return
	}
	u := toPricing(r.Usage)
	cost, err := pricing.CostOf(tp, u)
	if err != nil {
		return
	}
	x.resID = batchKey(id)
	res, err := x.record(ctx, budget.SettleRequest{ID: x.resID, ClientID: x.clientID, Rule: x.rule, ActualNano: cost,
		Model: r.Model, Tokens: budget.Tokens{Prompt: u.PromptTokens, Cached: u.CachedTokens, Completion: u.CompletionTokens,
			Reasoning: r.Usage.ReasoningTokens}, OnlyIfHeld: true})
	if err != nil || res.Duplicate || res.NotHeld {
		return
	}
	x.logger().Info("batch settled", "batch", id, "cost_nano", cost)
	x.recorded(res, r.Model, cost, charge{usage: u, reasoning: r.Usage.ReasoningTokens})
}

// batchIDFromPath takes the id out of "/batches/{id}".
func batchIDFromPath(suffix string) string {
	parts := strings.Split(strings.Trim(suffix, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "batches") {
		return parts[1]
	}
	return ""
}
