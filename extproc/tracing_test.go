package extproc

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/proxide/proxide/budget"
)

const (
	envoyTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	envoySpanID  = "00f067aa0ba902b7"
)

func tracedFixture(t *testing.T) (*fixture, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return newFixture(t, func(o *Options) { o.Tracer = tp.Tracer("test") }), rec
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// A request's span continues Envoy's trace (traceparent in the request
// headers); admission and settlement are its children.
func TestTraceOfAMeteredRequest(t *testing.T) {
	f, rec := tracedFixture(t)
	f.run(t, nil,
		chatHeaders("traceparent", "00-"+envoyTraceID+"-"+envoySpanID+"-01"),
		reqBody(`{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`),
		respHeaders(false, ":status", "200", "content-type", "application/json"),
		respBody(`{"model":"gpt-4o-mini-2024-07-18","usage":{"prompt_tokens":100,"completion_tokens":10}}`, true))

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	require.Len(t, spans, 3, "ext_proc, admission, settle")
	root := spans["proxide.ext_proc"]
	require.Equal(t, envoyTraceID, root.SpanContext().TraceID().String())
	require.Equal(t, envoySpanID, root.Parent().SpanID().String(), "the child of Envoy's span")
	require.True(t, root.Parent().IsRemote())
	require.Equal(t, trace.SpanKindServer, root.SpanKind())
	a := spanAttrs(root)
	require.Equal(t, "user-12345", a["proxide.client_id"].AsString())
	require.Equal(t, "chat.completions.create", a["proxide.endpoint"].AsString())
	require.Equal(t, "allowed", a["proxide.decision"].AsString())
	require.Equal(t, "gpt-4o-mini-2024-07-18", a["proxide.model"].AsString())
	// gpt-4o-mini: 100 × $0.15/M + 10 × $0.60/M
	require.InDelta(t, 0.000021, a["proxide.cost_usd"].AsFloat64(), 1e-12)
	for _, name := range []string{"proxide.admission", "proxide.settle"} {
		require.Equal(t, root.SpanContext().SpanID(), spans[name].Parent().SpanID(), name)
		require.Equal(t, root.SpanContext().TraceID(), spans[name].SpanContext().TraceID(), name)
	}
	require.True(t, spanAttrs(spans["proxide.admission"])["proxide.admitted"].AsBool())
	require.InDelta(t, 0.000021, spanAttrs(spans["proxide.settle"])["proxide.cost_usd"].AsFloat64(), 1e-12)
}

// A refusal marks the span as an error with the decision; without a
// traceparent the span starts a trace of its own.
func TestTraceOfARefusal(t *testing.T) {
	f, rec := tracedFixture(t)
	f.ledger.admit = func(r budget.ReserveRequest) (budget.Admission, error) {
		return budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, LimitNano: 1, SpentNano: 2, Period: r.Periods.Day}}, nil
	}
	f.run(t, nil, chatHeaders(), reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	var root sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "proxide.ext_proc" {
			root = s
		}
	}
	require.NotNil(t, root)
	require.False(t, root.Parent().IsValid(), "a new trace")
	require.Equal(t, codes.Error, root.Status().Code)
	require.Equal(t, "budget_exceeded", root.Status().Description)
}
