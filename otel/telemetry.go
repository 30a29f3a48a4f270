package oauthlinkotel

import (
	"errors"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthlink/oauthlink"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/oauthlink/oauthlink/otel"

// Metric and span names.
const (
	// MetricEvents counts the Connector's events (Config.Hooks.OnEvent).
	MetricEvents = "oauthlink.events"
	// MetricEventDuration is the duration of the operation behind each
	// event (Event.Duration), in seconds: the callback, the refresh, the
	// disconnect, the keeper pass.
	MetricEventDuration = "oauthlink.event.duration"
	// MetricProviderDuration is the latency of each call to the provider,
	// in seconds, until the response headers arrived.
	MetricProviderDuration = "oauthlink.provider.duration"
	// MetricConnections is the number of stored connections by status,
	// observed through a store.Scanner (ObserveConnections).
	MetricConnections = "oauthlink.connections"

	// SpanToken is the span of a call to the provider's token endpoint
	// (code exchange, refresh).
	SpanToken = "oauthlink.token"
	// SpanRevoke is the span of a call to the provider's revocation
	// endpoint.
	SpanRevoke = "oauthlink.revoke"
	// SpanAPI is the span of any other call through the transport: the
	// provider's API, through Connector.Client.
	SpanAPI = "oauthlink.api"
)

// Attribute keys. Every value is a short, stable label: never an error's
// text, a URL's query, a header value, a token, a code, a state or a
// secret. The owner is recorded only with Options.RecordOwner.
const (
	// AttrProvider is the provider's name (Provider.Name, Event.Provider).
	AttrProvider = attribute.Key("oauthlink.provider")
	// AttrEvent is the event's kind (oauthlink.EventKind).
	AttrEvent = attribute.Key("oauthlink.event")
	// AttrOutcome is OutcomeOK or OutcomeFailed.
	AttrOutcome = attribute.Key("oauthlink.outcome")
	// AttrError is a failed event's ErrorClass.
	AttrError = attribute.Key("oauthlink.error")
	// AttrOwner is the event's owner, only with Options.RecordOwner.
	AttrOwner = attribute.Key("oauthlink.owner")
	// AttrOperation is OperationToken, OperationRevoke or OperationAPI.
	AttrOperation = attribute.Key("oauthlink.operation")
	// AttrStatus is a stored connection's store.Status.
	AttrStatus = attribute.Key("oauthlink.status")
	// AttrStatusClass is a provider call's status class: 2xx, 3xx, 4xx,
	// 5xx, or error when no response came.
	AttrStatusClass = attribute.Key("oauthlink.status_class")

	// OpenTelemetry's semantic conventions for HTTP clients.
	AttrMethod     = attribute.Key("http.request.method")
	AttrStatusCode = attribute.Key("http.response.status_code")
	AttrServerAddr = attribute.Key("server.address")
	AttrServerPort = attribute.Key("server.port")
	AttrErrorType  = attribute.Key("error.type")
)

// Options configures a Telemetry.
type Options struct {
	// Provider is the Connector's provider (Config.Provider). Its Name
	// labels the transport's spans and latencies; its TokenURL and
	// RevokeURL tell token and revocation calls from API calls. Only
	// those fields are read. Required: Name and TokenURL.
	Provider oauthlink.Provider
	// RecordOwner adds the owner (Event.Owner) to the event counter as
	// oauthlink.owner. Owner ids are unbounded in number (one time series
	// per owner) and may be personal data. Default false.
	RecordOwner bool
}

// Telemetry turns a Connector's events into metrics and its calls to the
// provider into spans and latencies. Create it with New; it is safe for
// concurrent use.
type Telemetry struct {
	provider    string
	tokenURL    endpoint
	revokeURL   endpoint
	recordOwner bool

	tracer   trace.Tracer
	meter    metric.Meter
	events   metric.Int64Counter
	opTime   metric.Float64Histogram
	duration metric.Float64Histogram
	provAttr attribute.KeyValue
}

// endpoint is a URL without its query and fragment, for comparison.
type endpoint struct{ scheme, host, path string }

func endpointOf(u *url.URL) endpoint {
	return endpoint{scheme: u.Scheme, host: u.Host, path: u.EscapedPath()}
}

func parseEndpoint(raw string) (endpoint, error) {
	if raw == "" {
		return endpoint{}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return endpoint{}, errors.New("not an absolute URL")
	}
	return endpointOf(u), nil
}

// latencyBuckets suit calls over the internet: 5 ms to 30 s.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// operationBuckets add the minutes a keeper pass over many connections
// takes to the latencies of single operations: 5 ms to 1 h.
var operationBuckets = append(latencyBuckets[:len(latencyBuckets):len(latencyBuckets)], 60, 300, 900, 3600)

// New returns the Telemetry of one Connector's provider. A nil
// meterProvider or tracerProvider means OpenTelemetry's global one. It
// fails when opts.Provider has no Name or no valid TokenURL, or an
// instrument cannot be created.
func New(meterProvider metric.MeterProvider, tracerProvider trace.TracerProvider, opts Options) (*Telemetry, error) {
	if meterProvider == nil {
		meterProvider = otel.GetMeterProvider()
	}
	if tracerProvider == nil {
		tracerProvider = otel.GetTracerProvider()
	}
	p := opts.Provider
	if p.Name == "" || p.TokenURL == "" {
		return nil, errors.New("oauthlinkotel: Options.Provider needs a Name and a TokenURL")
	}
	t := &Telemetry{provider: p.Name, recordOwner: opts.RecordOwner, provAttr: AttrProvider.String(p.Name)}
	var err error
	if t.tokenURL, err = parseEndpoint(p.TokenURL); err != nil {
		return nil, fmt.Errorf("oauthlinkotel: Provider.TokenURL: %w", err)
	}
	if t.revokeURL, err = parseEndpoint(p.RevokeURL); err != nil {
		return nil, fmt.Errorf("oauthlinkotel: Provider.RevokeURL: %w", err)
	}
	t.tracer = tracerProvider.Tracer(ScopeName)
	t.meter = meterProvider.Meter(ScopeName)
	t.events, err = t.meter.Int64Counter(MetricEvents,
		metric.WithDescription("Events of oauthlink connect flows and connections, by kind, provider and outcome."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("oauthlinkotel: %s: %w", MetricEvents, err)
	}
	t.opTime, err = t.meter.Float64Histogram(MetricEventDuration,
		metric.WithDescription("Duration of the oauthlink operation behind each event (callback, refresh, disconnect, keeper pass), by kind, provider and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(operationBuckets...))
	if err != nil {
		return nil, fmt.Errorf("oauthlinkotel: %s: %w", MetricEventDuration, err)
	}
	t.duration, err = t.meter.Float64Histogram(MetricProviderDuration,
		metric.WithDescription("Duration of calls to the OAuth provider, until the response headers arrived."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, fmt.Errorf("oauthlinkotel: %s: %w", MetricProviderDuration, err)
	}
	return t, nil
}
