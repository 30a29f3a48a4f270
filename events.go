package oauthlink

import (
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
	// EventRevoked: the merchant revoked consent at the provider and
	// Connector.MarkRevoked recorded it.
	EventRevoked EventKind = "revoked"
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
}
