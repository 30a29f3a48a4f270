// Package lifecycle is the narrow door from the packages beside the root
// (keeper) into a Connector's engine. The root package registers Of; the
// engine stays unexported, and what a fleet operation may ask of it is
// exactly the Engine interface.
package lifecycle

import (
	"context"
	"log/slog"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// Engine is what a fleet operation may ask of one Connector's engine.
type Engine interface {
	// Provider returns the provider's name and Provider.IdleLifetime.
	Provider() (name string, idleLifetime time.Duration)
	// Scanner returns the store's store.Scanner, found through wrappers.
	Scanner() (store.Scanner, bool)
	// Now reads the Connector's clock; Logger is its logger.
	Now() time.Time
	Logger() *slog.Logger
	// CallTimeout is Config.Tokens.ExchangeTimeout.
	CallTimeout() time.Duration
	// RefreshAt refreshes owner's connection, forced at the version the
	// caller read: when the stored version moved past it (a peer
	// refreshed), the engine returns without calling the provider.
	// refreshed reports whether this call refreshed at the provider, and
	// reauth whether it marked the connection reauth_required.
	RefreshAt(ctx context.Context, owner string, version int64) (refreshed, reauth bool, err error)
	// Load reads owner's connection from the Connector's store (through
	// its encryption), without the cache.
	Load(ctx context.Context, owner string) (*store.Connection, error)
	// Disconnect is Connector.Disconnect.
	Disconnect(ctx context.Context, owner string) error
	// Retire revokes the grants owner's connection lists in Retired and
	// returns the record as it stands after.
	Retire(ctx context.Context, owner string) (*store.Connection, error)
	// MarkRevoked is fleet.MarkRevoked: match (nil: any) decides, under
	// the connection lock, on the record as it stands whether it is the
	// revoked one. marked reports whether this call marked it.
	MarkRevoked(ctx context.Context, owner string, match func(*store.Connection) bool) (marked bool, err error)
	// Emit sends an event of kind, with the operation's duration d and
	// its failure err (nil when it succeeded), to Hooks.OnEvent.
	Emit(ctx context.Context, kind string, d time.Duration, err error)
}

// KindRevoked is the event kind of a connection marked revoked
// (fleet.EventRevoked).
const KindRevoked = "revoked"

// Of returns the engine of connector (an *oauthlink.Connector); the root
// package sets it when it is initialised.
var Of func(connector any) (Engine, bool)
