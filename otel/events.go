package oauthlinkotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/oauthlink/oauthlink"
)

// Outcomes of an event (attribute oauthlink.outcome).
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)

// OnEvent counts e in oauthlink.events, with its kind, provider, outcome
// and, for a failure, the error's class (ErrorClass), and records its
// Duration in oauthlink.event.duration with the same attributes. Plug it
// into Config.Hooks.OnEvent, alone or with Chain. It never blocks.
func (t *Telemetry) OnEvent(ctx context.Context, e oauthlink.Event) {
	if ctx == nil {
		ctx = context.Background()
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, AttrEvent.String(string(e.Kind)), AttrProvider.String(e.Provider))
	if failed(e) {
		attrs = append(attrs, AttrOutcome.String(OutcomeFailed), AttrError.String(ErrorClass(e.Err)))
	} else {
		attrs = append(attrs, AttrOutcome.String(OutcomeOK))
	}
	if t.recordOwner && e.Owner != "" {
		attrs = append(attrs, AttrOwner.String(e.Owner))
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	t.events.Add(ctx, 1, set)
	t.opTime.Record(ctx, e.Duration.Seconds(), set)
}

// failed reports whether e is a failure: it carries an error, or its kind
// is one (a reauth_required event always carries its cause, but the kind
// decides even without one).
func failed(e oauthlink.Event) bool {
	if e.Err != nil {
		return true
	}
	switch e.Kind {
	case oauthlink.EventFlowFailed, oauthlink.EventRefreshFailed,
		oauthlink.EventReauthRequired, oauthlink.EventRevokeFailed:
		return true
	}
	return false
}

// Chain returns an OnEvent hook that calls each non-nil hook in turn, to
// count events and still run the app's own hook:
//
//	cfg.Hooks.OnEvent = oauthlinkotel.Chain(tel.OnEvent, app.OnEvent)
func Chain(hooks ...func(context.Context, oauthlink.Event)) func(context.Context, oauthlink.Event) {
	var hs []func(context.Context, oauthlink.Event)
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	return func(ctx context.Context, e oauthlink.Event) {
		for _, h := range hs {
			h(ctx, e)
		}
	}
}

// errorClasses map the root sentinels to labels, the more specific first
// (ErrReauthRequired before ErrRefresh, ErrStoreUnavailable before
// ErrStore, the state errors before ErrInvalidState).
var errorClasses = []struct {
	err   error
	label string
}{
	{oauthlink.ErrReauthRequired, "reauth_required"},
	{oauthlink.ErrRefresh, "refresh"},
	{oauthlink.ErrExchange, "exchange"},
	{oauthlink.ErrRevoke, "revoke"},
	{oauthlink.ErrStoreUnavailable, "store_unavailable"},
	{oauthlink.ErrStore, "store"},
	{oauthlink.ErrIssuer, "issuer"},
	{oauthlink.ErrNoFlowCookie, "no_flow_cookie"},
	{oauthlink.ErrAlreadyConnected, "already_connected"},
	{oauthlink.ErrStateExpired, "state_expired"},
	{oauthlink.ErrStateReplayed, "state_replayed"},
	{oauthlink.ErrInvalidState, "invalid_state"},
	{oauthlink.ErrOwnerMismatch, "owner_mismatch"},
	{oauthlink.ErrNoOwner, "no_owner"},
	{oauthlink.ErrCrossOrigin, "cross_origin"},
	{oauthlink.ErrBadRequest, "bad_request"},
	{oauthlink.ErrDisconnected, "disconnected"},
	{oauthlink.ErrConfig, "config"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
}

// ErrorClass returns a short, stable label for err, never its text: the
// first root sentinel err wraps ("refresh", "exchange", "revoke", "store",
// "reauth_required", "invalid_state", "bad_request"...; see the package
// documentation for the list), else "provider_cancelled" for a user who
// declined on the consent page, "provider" for another *ProviderError,
// "timeout" or "canceled" for a context's error, "" for nil and "other"
// for anything else.
func ErrorClass(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range errorClasses {
		if errors.Is(err, c.err) {
			return c.label
		}
	}
	var pe *oauthlink.ProviderError
	if errors.As(err, &pe) {
		if pe.Cancelled() {
			return "provider_cancelled"
		}
		return "provider"
	}
	return "other"
}
