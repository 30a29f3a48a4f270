package oauthlink

import (
	"context"
	"time"
)

// EventKind names something that happened to a flow or a connection.
type EventKind string

// The events a Connector emits through Config.Hooks.OnEvent.
const (
	EventFlowStarted    EventKind = "flow_started"
	EventFlowFailed     EventKind = "flow_failed"
	EventConnected      EventKind = "connected"
	EventRefreshed      EventKind = "refreshed"
	EventRefreshFailed  EventKind = "refresh_failed"
	EventReauthRequired EventKind = "reauth_required"
	EventDisconnected   EventKind = "disconnected"
	EventRevokeFailed   EventKind = "revoke_failed"
)

// Event is one observable occurrence, for the app's metrics. It never
// carries a secret.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Provider is the Connector's provider name.
	Provider string
	// Owner is the platform account, when known.
	Owner string
	// Err is the failure for *_failed and reauth events, else nil.
	Err error
	// Time is when it happened, by Config.Now.
	Time time.Time
	// Duration is how long the operation behind the event took, by
	// Config.Now: the start handler's work for flow_started; the callback,
	// from the request's arrival, for connected and flow_failed (the
	// exchange, identifying and committing included); the refresh, from
	// the call that started it (waiting for the lock, the provider's
	// answer and the save included) for refreshed, refresh_failed and
	// reauth_required; the revocation and delete for disconnected and
	// revoke_failed (from the callback or refresh that retried it, when
	// one did); marking the record for revoked; the pass for keeper_pass.
	// The outcome is the kind (refreshed or refresh_failed) and, for a
	// failure, Err; oauthlinkotel labels both.
	Duration time.Duration
}

// opStartKey keys the start time of the operation a context belongs to
// (see engine.opStart).
type opStartKey struct{}

// opStart returns ctx marked as the start of an operation whose events
// carry its Duration. An enclosing operation's start is kept: a
// revocation retried by a callback is timed from the callback. Nothing is
// marked when no OnEvent hook would read it.
func (e *engine) opStart(ctx context.Context) context.Context {
	if e.onEvent == nil {
		return ctx
	}
	if _, ok := ctx.Value(opStartKey{}).(time.Time); ok {
		return ctx
	}
	return context.WithValue(ctx, opStartKey{}, e.now())
}
