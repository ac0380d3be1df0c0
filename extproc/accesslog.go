package extproc

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/proxide/proxide/budget"
)

// AccessLog writes one line per metered request (and per refusal) when its
// Logger is set: who, what, what it cost and what Proxide decided. It never
// holds keys or bodies: the line is built from fields, not from headers.
type AccessLog struct {
	Logger *slog.Logger
	// Sample is the fraction of allowed requests logged (0 or 1 = all);
	// refusals are always logged.
	Sample float64
}

// accessEntry is what an exchange learned for its access-log line.
type accessEntry struct {
	requestID string
	start     time.Time
	decision  string
	settled   bool
	model     string
	costNano  int64
	tokens    budget.Tokens
	estimated bool
}

// writeAccessLog ends the exchange with its line, after its settlement.
func (x *exchange) writeAccessLog() {
	al := x.s.opts.AccessLog
	if al.Logger == nil || x.access.decision == "" {
		return
	}
	if x.access.decision == DecisionAllowed {
		if x.kind != kindMetered && x.kind != kindAllowed {
			return // free calls (model lists, file reads) are not worth a line
		}
		if al.Sample > 0 && al.Sample < 1 && rand.Float64() >= al.Sample { //nolint:gosec // sampling, not security
			return
		}
	}
	a := &x.access
	attrs := []slog.Attr{
		slog.String("request_id", a.requestID),
		slog.String("client_id", x.clientID),
		slog.String("endpoint", x.opName()),
		slog.String("decision", a.decision),
		slog.Float64("latency_ms", float64(time.Since(a.start).Microseconds())/1000),
	}
	if a.settled {
		attrs = append(attrs,
			slog.String("model", a.model),
			slog.Float64("cost_usd", float64(a.costNano)/1e9),
			slog.Bool("estimated", a.estimated),
			slog.Int64("prompt_tokens", a.tokens.Prompt),
			slog.Int64("cached_tokens", a.tokens.Cached),
			slog.Int64("completion_tokens", a.tokens.Completion),
			slog.Int64("reasoning_tokens", a.tokens.Reasoning))
	} else if x.req.Model != "" {
		attrs = append(attrs, slog.String("model", x.req.Model))
	}
	al.Logger.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}
