package extproc

import (
	"context"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Spans (when Options.Tracer is set): one "proxide.ext_proc" per request,
// the child of the traceparent Envoy forwards in the request headers, with
// children "proxide.admission" (parse, price, reserve) and "proxide.settle".
// Without a tracer none of this runs.

var traceContext = propagation.TraceContext{}

// headerCarrier reads the W3C trace context from Envoy's request headers.
type headerCarrier struct{ hm *corev3.HeaderMap }

func (c headerCarrier) Get(key string) string { v, _ := headerLookup(c.hm, key); return v }
func (headerCarrier) Set(string, string)      {}
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c.hm.GetHeaders()))
	for _, h := range c.hm.GetHeaders() {
		keys = append(keys, h.GetKey())
	}
	return keys
}

// startTrace opens the request's span under Envoy's trace context.
func (x *exchange) startTrace(hm *corev3.HeaderMap) {
	t := x.s.opts.Tracer
	if t == nil {
		return
	}
	parent := traceContext.Extract(context.Background(), headerCarrier{hm})
	x.traceCtx, x.span = t.Start(parent, "proxide.ext_proc", trace.WithSpanKind(trace.SpanKindServer))
}

// childSpan opens a step's span under the request's; nil without tracing.
func (x *exchange) childSpan(name string) trace.Span {
	if x.span == nil {
		return nil
	}
	_, sp := x.s.opts.Tracer.Start(x.traceCtx, name)
	return sp
}

// endTrace closes the request's span with what Proxide decided.
func (x *exchange) endTrace() {
	if x.span == nil {
		return
	}
	x.span.SetAttributes(
		attribute.String("proxide.client_id", x.clientID),
		attribute.String("proxide.endpoint", x.opName()),
		attribute.String("proxide.decision", x.access.decision))
	if x.access.settled {
		x.span.SetAttributes(attribute.String("proxide.model", x.access.model),
			attribute.Float64("proxide.cost_usd", float64(x.access.costNano)/1e9),
			attribute.Bool("proxide.estimated", x.access.estimated))
	}
	if x.access.decision != "" && x.access.decision != DecisionAllowed {
		x.span.SetStatus(codes.Error, x.access.decision)
	}
	x.span.End()
}
