package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingEnv is what the standard OTEL_* variables say about traces. The
// SDK and the OTLP exporter read the rest themselves (endpoint, headers,
// timeouts, sampler, batching, resource attributes).
type tracingEnv struct {
	exporter string // OTEL_TRACES_EXPORTER: otlp, console, none
	endpoint bool   // an OTLP endpoint is set
	protocol string // OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL
	disabled bool   // OTEL_SDK_DISABLED=true
}

func readTracingEnv(getenv func(string) string) tracingEnv {
	e := tracingEnv{
		exporter: strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")),
		endpoint: getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "",
		protocol: getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
		disabled: strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true"),
	}
	if e.protocol == "" {
		e.protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	return e
}

// openTracing builds the tracer provider the environment asks for, or
// returns nil: tracing is off unless OTEL_TRACES_EXPORTER names an
// exporter or an OTLP endpoint is set (the specification's default
// exporter is otlp, but a server that starts sending spans to
// localhost:4318 because nothing was configured would surprise its admin).
// console writes spans as JSON lines to w (stdout), for a look without a
// collector.
func openTracing(ctx context.Context, env tracingEnv, service, instance, version string, w io.Writer) (*sdktrace.TracerProvider, error) {
	name := env.exporter
	if name == "" && env.endpoint {
		name = "otlp"
	}
	if env.disabled || name == "" || name == "none" {
		return nil, nil
	}
	var exp sdktrace.SpanExporter
	var err error
	switch name {
	case "otlp":
		if p := env.protocol; p != "" && p != "http/protobuf" {
			return nil, fmt.Errorf("tracing: OTLP protocol %q is not supported; use http/protobuf (port 4318)", p)
		}
		exp, err = otlptracehttp.New(ctx)
	case "console":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	default:
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q: want otlp, console or none", name)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %s exporter: %w", name, err)
	}
	// Ours first, so that OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// (read by WithFromEnv) override them.
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.version", version),
			attribute.String("service.instance.id", instance)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
