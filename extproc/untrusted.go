package extproc

import (
	"bytes"

	"github.com/proxide/proxide/internal/usage"
)

// An upstream answer may lie: a usage with negative, non-numeric or absurd
// counts, no usage at all in a response that completed, a body that is not
// what its content-type says (SSE labelled as JSON), a compressed body. Such
// an answer is never charged less than the reservation's worst case: the
// request may have cost anything up to it. Each is counted in
// proxide_upstream_untrusted_total{reason} and logged once per reason (a
// misbehaving upstream would otherwise log every request).

// absurdFactor: usage priced above this many times the worst case should not
// happen — the worst case bounds every token the request may use. It is
// charged as reported all the same (that is more than the worst case, and an
// estimate that was no true bound must not lose spend), and reported.
const absurdFactor = 4

// untrusted says why the metered answer's usage cannot be trusted ("" when it
// can), and whether the worst case is charged instead of the usage; cost is
// what its usage prices to (0 without usage).
func (x *exchange) untrusted(r usage.Result, cost int64) (why string, worst bool) {
	switch {
	case x.mislabelled:
		return "content_type_mismatch", true
	case r.HasUsage && r.Usage.Invalid:
		return "invalid_usage", true
	case r.HasUsage && r.Usage.PromptTokens == 0 && r.Usage.CompletionTokens == 0 && x.req.PromptTokens > 0:
		return "zero_usage", true // a prompt was sent and nothing was billed
	case r.HasUsage && x.est.nano > 0 && cost/absurdFactor > x.est.nano:
		return "absurd_usage", false
	case !r.HasUsage && r.Malformed > 0:
		return "malformed_body", true
	case !r.HasUsage && r.Complete && x.usageExpected():
		return "missing_usage", true
	}
	return "", false
}

// usageExpected: the answer should carry its usage — every answer but a chat or
// completions stream whose usage nobody asked for (the client did not, and its body came
// in pieces Proxide could not rewrite to ask): that one is charged its counted tokens.
func (x *exchange) usageExpected() bool {
	if !x.req.Stream || x.endpoint == usage.Responses {
		return true
	}
	return x.req.IncludeUsage || x.injected
}

// distrust counts an untrusted answer and logs the first of each reason.
func (x *exchange) distrust(why string) {
	s := x.s
	s.opts.Metrics.Untrusted(why)
	if _, seen := s.untrustedSeen.LoadOrStore(why, true); seen {
		if x.debugOn() {
			x.logger().Debug("upstream answer not trusted", "reason", why, "model", x.req.Model)
		}
		return
	}
	x.logger().Warn("upstream answer not trusted (logged once per reason; see proxide_upstream_untrusted_total)",
		"reason", why, "model", x.req.Model, "path", x.path.Suffix, "worst_case_nano", x.est.nano)
}

// sniffBody checks the first chunk of a body labelled JSON: an event stream
// there (a proxy that relabelled it) is a content-type mismatch.
func (x *exchange) sniffBody(chunk []byte) {
	x.sniffed = true
	b := bytes.TrimLeft(chunk, " \t\r\n")
	if bytes.HasPrefix(b, []byte("data:")) || bytes.HasPrefix(b, []byte("event:")) || bytes.HasPrefix(b, []byte(":")) {
		x.mislabelled = true
	}
}
