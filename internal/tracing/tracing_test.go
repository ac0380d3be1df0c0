package tracing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetupReadsTheStandardVariables(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		on      bool
		wantErr string
	}{
		"nothing set: off":         {nil, false, ""},
		"exporter otlp":            {map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		"an endpoint implies otlp": {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, ""},
		"a traces endpoint too":    {map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, ""},
		"grpc":                     {map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, ""},
		"none wins over endpoint":  {map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, false, ""},
		"sdk disabled":             {map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		"an exporter not built in": {map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, `OTEL_TRACES_EXPORTER "zipkin"`},
		"an unknown protocol":      {map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "udp"}, false, `OTEL_EXPORTER_OTLP_PROTOCOL "udp"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tracer, shutdown, err := Setup(context.Background(), func(k string) string { return tt.env[k] }, "test")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.on, tracer != nil)
			require.NoError(t, shutdown(context.Background())) // nothing was exported: nothing to flush
		})
	}
}
