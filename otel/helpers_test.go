package oauthlinkotel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthlink/oauthlink"
	oauthlinkotel "github.com/oauthlink/oauthlink/otel"
)

// sink is a Telemetry over in-memory SDK providers.
type sink struct {
	t      *testing.T
	tel    *oauthlinkotel.Telemetry
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	// collectErr is the error the last collect got, when tolerated.
	collectErr     error
	tolerateErrors bool
}

func newSink(t *testing.T, p oauthlink.Provider, opts ...func(*oauthlinkotel.Options)) *sink {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	o := oauthlinkotel.Options{Provider: p}
	for _, f := range opts {
		f(&o)
	}
	tel, err := oauthlinkotel.New(mp, tp, o)
	require.NoError(t, err)
	return &sink{t: t, tel: tel, reader: reader, spans: rec}
}

// collect reads every metric, by name.
func (s *sink) collect() map[string]metricdata.Metrics {
	s.t.Helper()
	var rm metricdata.ResourceMetrics
	err := s.reader.Collect(context.Background(), &rm)
	if s.tolerateErrors {
		s.collectErr = err
	} else {
		require.NoError(s.t, err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// counts returns the event counter's points: attribute set -> value.
func (s *sink) counts() map[attribute.Distinct]int64 {
	s.t.Helper()
	m, ok := s.collect()[oauthlinkotel.MetricEvents]
	if !ok {
		return nil
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(s.t, ok, "%T", m.Data)
	out := map[attribute.Distinct]int64{}
	for _, dp := range sum.DataPoints {
		out[dp.Attributes.Equivalent()] = dp.Value
	}
	return out
}

func set(kv ...attribute.KeyValue) attribute.Distinct {
	as := attribute.NewSet(kv...)
	return as.Equivalent()
}

// allAttributes returns every attribute value of every span and metric
// point recorded so far, as text.
func (s *sink) allAttributes() []string {
	s.t.Helper()
	var out []string
	add := func(kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			out = append(out, string(kv.Key)+"="+kv.Value.Emit())
		}
	}
	for _, sp := range s.spans.Ended() {
		add(sp.Attributes())
		out = append(out, sp.Name(), sp.Status().Description)
		for _, ev := range sp.Events() {
			add(ev.Attributes)
		}
	}
	for _, m := range s.collect() {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes.ToSlice())
			}
		case metricdata.Histogram[float64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes.ToSlice())
			}
		case metricdata.Gauge[int64]:
			for _, dp := range d.DataPoints {
				add(dp.Attributes.ToSlice())
			}
		default:
			s.t.Fatalf("unexpected metric data %T", d)
		}
	}
	return out
}

var testProvider = oauthlink.Provider{
	Name:      "acme",
	TokenURL:  "https://auth.acme.test/oauth2/token",
	RevokeURL: "https://auth.acme.test/oauth2/revoke",
	APIURL:    "https://api.acme.test",
}
