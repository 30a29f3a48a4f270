package oauthlinkotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	oauthlinkotel "github.com/oauthlink/oauthlink/otel"
)

func TestOnEventCountsByKindProviderOutcome(t *testing.T) {
	s := newSink(t, testProvider)
	ctx := context.Background()
	refreshErr := fmt.Errorf("%w: provider said secret-refresh-token-xyz", oauthlink.ErrRefresh)
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventConnected, Provider: "acme", Owner: "user-42"})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventConnected, Provider: "acme", Owner: "user-43"})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventRefreshFailed, Provider: "acme", Owner: "user-42", Err: refreshErr})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventReauthRequired, Provider: "acme", Owner: "user-42",
		Err: fmt.Errorf("%w: %w", oauthlink.ErrReauthRequired, &oauthlink.ProviderError{StatusCode: 400, Code: "invalid_grant"})})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventFlowFailed, Provider: "acme",
		Err: &oauthlink.ProviderError{Code: "access_denied"}})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: fleet.EventKeeperPass, Provider: "acme"})

	got := s.counts()
	acme := oauthlinkotel.AttrProvider.String("acme")
	ok := oauthlinkotel.AttrOutcome.String("ok")
	failed := oauthlinkotel.AttrOutcome.String("failed")
	require.Equal(t, map[any]int64{
		set(oauthlinkotel.AttrEvent.String("connected"), acme, ok):                                                              2,
		set(oauthlinkotel.AttrEvent.String("refresh_failed"), acme, failed, oauthlinkotel.AttrError.String("refresh")):          1,
		set(oauthlinkotel.AttrEvent.String("reauth_required"), acme, failed, oauthlinkotel.AttrError.String("reauth_required")): 1,
		set(oauthlinkotel.AttrEvent.String("flow_failed"), acme, failed, oauthlinkotel.AttrError.String("provider_cancelled")):  1,
		set(oauthlinkotel.AttrEvent.String("keeper_pass"), acme, ok):                                                            1,
	}, toAny(got))
	for _, v := range s.allAttributes() {
		require.NotContains(t, v, "user-4", "owner recorded by default")
		require.NotContains(t, v, "secret", "error text recorded")
	}
}

func toAny[K comparable](m map[K]int64) map[any]int64 {
	out := map[any]int64{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestOnEventRecordOwnerOptIn(t *testing.T) {
	s := newSink(t, testProvider, func(o *oauthlinkotel.Options) { o.RecordOwner = true })
	s.tel.OnEvent(context.Background(), oauthlink.Event{Kind: oauthlink.EventRefreshed, Provider: "acme", Owner: "user-42"})
	require.Equal(t, map[any]int64{set(oauthlinkotel.AttrEvent.String("refreshed"), oauthlinkotel.AttrProvider.String("acme"),
		oauthlinkotel.AttrOutcome.String("ok"), oauthlinkotel.AttrOwner.String("user-42")): 1}, toAny(s.counts()))
}

func TestErrorClass(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context with text: %w", err) }
	for err, want := range map[error]string{
		nil:                                             "",
		wrap(oauthlink.ErrRefresh):                      "refresh",
		wrap(oauthlink.ErrReauthRequired):               "reauth_required",
		wrap(oauthlink.ErrExchange):                     "exchange",
		wrap(oauthlink.ErrRevoke):                       "revoke",
		wrap(oauthlink.ErrStore):                        "store",
		wrap(oauthlink.ErrStoreUnavailable):             "store_unavailable",
		wrap(oauthlink.ErrInvalidState):                 "invalid_state",
		wrap(oauthlink.ErrIssuer):                       "issuer",
		wrap(oauthlink.ErrNoFlowCookie):                 "no_flow_cookie",
		wrap(oauthlink.ErrStateExpired):                 "state_expired",
		wrap(oauthlink.ErrStateReplayed):                "state_replayed",
		wrap(oauthlink.ErrAlreadyConnected):             "already_connected",
		wrap(oauthlink.ErrOwnerMismatch):                "owner_mismatch",
		wrap(oauthlink.ErrNoOwner):                      "no_owner",
		wrap(oauthlink.ErrBadRequest):                   "bad_request",
		wrap(oauthlink.ErrCrossOrigin):                  "cross_origin",
		wrap(oauthlink.ErrDisconnected):                 "disconnected",
		wrap(oauthlink.ErrConfig):                       "config",
		wrap(context.DeadlineExceeded):                  "timeout",
		wrap(context.Canceled):                          "canceled",
		&oauthlink.ProviderError{Code: "access_denied"}: "provider_cancelled",
		&oauthlink.ProviderError{StatusCode: 503}:       "provider",
		fmt.Errorf("%w: %w", oauthlink.ErrExchange, &oauthlink.ProviderError{StatusCode: 400}): "exchange",
		errors.New("something else"): "other",
	} {
		require.Equal(t, want, oauthlinkotel.ErrorClass(err), "%v", err)
	}
}

func TestChain(t *testing.T) {
	var calls []string
	hook := func(name string) func(context.Context, oauthlink.Event) {
		return func(_ context.Context, e oauthlink.Event) { calls = append(calls, name+":"+string(e.Kind)) }
	}
	h := oauthlinkotel.Chain(hook("a"), nil, hook("b"))
	h(context.Background(), oauthlink.Event{Kind: oauthlink.EventConnected})
	require.Equal(t, "a:connected b:connected", strings.Join(calls, " "))
}

func TestNewValidates(t *testing.T) {
	_, err := oauthlinkotel.New(nil, nil, oauthlinkotel.Options{})
	require.Error(t, err)
	_, err = oauthlinkotel.New(nil, nil, oauthlinkotel.Options{Provider: oauthlink.Provider{Name: "x", TokenURL: "/relative"}})
	require.Error(t, err)
	tel, err := oauthlinkotel.New(nil, nil, oauthlinkotel.Options{Provider: testProvider})
	require.NoError(t, err)
	tel.OnEvent(context.Background(), oauthlink.Event{Kind: oauthlink.EventConnected}) // global no-op providers
}

// TestOnEventRecordsDuration: each event's Duration lands in
// oauthlink.event.duration under the event's attributes, a keeper pass
// of minutes in a bucket of its own.
func TestOnEventRecordsDuration(t *testing.T) {
	s := newSink(t, testProvider)
	ctx := context.Background()
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventRefreshed, Provider: "acme", Duration: 250 * time.Millisecond})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: oauthlink.EventRefreshed, Provider: "acme", Duration: 750 * time.Millisecond})
	s.tel.OnEvent(ctx, oauthlink.Event{Kind: fleet.EventKeeperPass, Provider: "acme", Duration: 4 * time.Minute})

	m, ok := s.collect()[oauthlinkotel.MetricEventDuration]
	require.True(t, ok, "no %s recorded", oauthlinkotel.MetricEventDuration)
	require.Equal(t, "s", m.Unit)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%T", m.Data)
	acme, okAttr := oauthlinkotel.AttrProvider.String("acme"), oauthlinkotel.AttrOutcome.String("ok")
	got := map[attribute.Distinct]metricdata.HistogramDataPoint[float64]{}
	for _, dp := range h.DataPoints {
		got[dp.Attributes.Equivalent()] = dp
	}
	require.Len(t, got, 2)
	refreshed := got[set(oauthlinkotel.AttrEvent.String("refreshed"), acme, okAttr)]
	require.Equal(t, uint64(2), refreshed.Count)
	require.InDelta(t, 1.0, refreshed.Sum, 1e-9)
	pass := got[set(oauthlinkotel.AttrEvent.String("keeper_pass"), acme, okAttr)]
	require.Equal(t, uint64(1), pass.Count)
	require.InDelta(t, 240.0, pass.Sum, 1e-9)
	// 240 s falls in (60, 300]: a bucket beyond the provider latencies'.
	i := slices.Index(pass.Bounds, 300.0)
	require.Positive(t, i, "bounds %v", pass.Bounds)
	require.Equal(t, uint64(1), pass.BucketCounts[i], "bounds %v counts %v", pass.Bounds, pass.BucketCounts)
}
