// Package tracing sets up OpenTelemetry traces: off unless the standard
// OTEL_* environment asks for an OTLP exporter, so a sidecar that nobody
// traces pays nothing for it.
//
//	OTEL_TRACES_EXPORTER=otlp            (or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT set)
//	OTEL_EXPORTER_OTLP_PROTOCOL=grpc | http/protobuf (default)
//	OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _TIMEOUT, _INSECURE …  read by the exporter itself
//	OTEL_SERVICE_NAME (default proxide), OTEL_RESOURCE_ATTRIBUTES
//	OTEL_TRACES_SAMPLER / _ARG            read by the SDK (default parentbased_always_on)
//	OTEL_SDK_DISABLED=true                off
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Setup returns the tracer Proxide's spans go to, or nil when tracing is
// off, and a shutdown that flushes the exporter.
func Setup(ctx context.Context, getenv func(string) string, version string) (trace.Tracer, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	on, err := enabled(getenv)
	if err != nil || !on {
		return nil, noop, err
	}
	var exp *otlptrace.Exporter
	switch proto := protocol(getenv); proto {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "http/protobuf", "":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, noop, fmt.Errorf("tracing: OTEL_EXPORTER_OTLP_PROTOCOL %q: use grpc or http/protobuf", proto)
	}
	if err != nil {
		return nil, noop, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "proxide"
	}
	// resource.WithFromEnv reads OTEL_RESOURCE_ATTRIBUTES; the service name set
	// here comes after it, as the SDK's default would.
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, noop, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp.Tracer("github.com/proxide/proxide"), tp.Shutdown, nil
}

// enabled reads the standard variables: an OTLP traces exporter asked for
// by name or implied by an endpoint, and the SDK not disabled.
func enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "otlp":
		return true, nil
	case "none":
		return false, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER %q: Proxide exports traces with otlp (or none)", exp)
	}
}

func protocol(getenv func(string) string) string {
	if p := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"); p != "" {
		return p
	}
	return getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
}
