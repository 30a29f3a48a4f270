package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by TokenStore.Load when no connection exists for
// the (provider, owner) pair.
var ErrNotFound = errors.New("oauthlink: connection not found")

// ErrVersionConflict is returned by TokenStore.Save when the stored version
// is not the one the caller read: another request or instance wrote first.
// The caller must re-read and decide again; it must never blindly retry the
// write.
var ErrVersionConflict = errors.New("oauthlink: connection version conflict")

// TokenStore persists connections. Implementations live in store/memstore,
// store/sqlstore and store/redisstore; storetest.Run is the conformance suite
// every implementation must pass.
//
// The contract:
//
//   - Every method is safe for concurrent use and honours ctx: a cancelled or
//     expired context makes the call return an error wrapping ctx.Err()
//     without having changed anything.
//   - Load returns a nil Connection and ErrNotFound (test with errors.Is)
//     when nothing is stored.
//   - Save is compare-and-swap on Connection.Version. c.Version must be the
//     version the caller read; 0 means "create", and fails with
//     ErrVersionConflict when a record already exists. On success the store
//     sets c.Version to the new version (old+1), sets c.UpdatedAt (and
//     c.CreatedAt on create) and keeps a copy: later changes to c do not
//     reach the store. A conflict changes nothing, neither in the store nor
//     in c. A Save writes the whole record atomically: a reader sees the old
//     record or the new one, never a mix.
//   - Delete removes the record whatever its version; deleting a missing
//     record returns nil. VersionDeleter is the optional conditional
//     delete.
//   - Values returned by Load and List are the caller's to change: they never
//     alias the store's copy.
//   - List returns the owner's connections ordered by provider in byte
//     order (as strings.Compare; SQL stores need a binary collation), and an
//     empty slice (not an error) when there are none.
//   - Provider and owner are opaque strings: any valid UTF-8 without NUL,
//     including separators such as ':' or '/', must round-trip exactly and
//     never collide with another pair.
//   - Times are kept to at least millisecond precision, in UTC, without a
//     monotonic clock reading; CreatedAt survives updates. A zero Expiry
//     (a token without a known lifetime) reads back as the zero time.
//   - Retired round-trips exactly: the same tokens and kinds in the same
//     order, Since to millisecond precision; an empty list may read back
//     as nil.
//   - Versions may restart at 1 when a deleted record is created again.
//     Writers that could race a delete and re-create (refresh, reconnect,
//     the final delete of a disconnect) hold the Locker lock, which is how
//     oauthlink keeps an old refresh from landing on a new grant. The final
//     delete of a disconnect also uses VersionDeleter when the store has
//     it, so that a reconnect committed while the provider revoked the old
//     grant survives on a store without Locker (or after the lock expired).
type TokenStore interface {
	Load(ctx context.Context, provider, owner string) (*Connection, error)
	List(ctx context.Context, owner string) ([]*Connection, error)
	Save(ctx context.Context, c *Connection) error
	Delete(ctx context.Context, provider, owner string) error
}

// Locker is an optional TokenStore capability: a lock per connection that
// holds across every process sharing the store, so only one of them
// refreshes a token, commits a reconnect or deletes a disconnected record
// at a time.
//
// Lock blocks until the lock is held, ctx ends (the error wraps ctx.Err()),
// or the store fails. The lock is a lease: it lasts ttl (which must be
// positive) unless the holder renews it, and expires by itself so a crashed
// holder cannot wedge the connection for longer than ttl. ctx bounds only
// the wait: the lease, once held, does not end with ctx. Because a lease
// can expire while its holder still works, the holder also writes with
// Save's compare-and-swap.
type Locker interface {
	Lock(ctx context.Context, provider, owner string, ttl time.Duration) (Lease, error)
}

// ErrLeaseLost is returned (wrapped) by Lease.Renew when the lease is no
// longer the caller's: it expired, or another holder took it.
var ErrLeaseLost = errors.New("oauthlink: lock lease lost")

// Lease is a lock held through Locker.Lock. Its methods are safe for
// concurrent use.
type Lease interface {
	// Deadline is a time on this process's clock before which the lease
	// is certainly still held (barring the store losing data): the moment
	// the store call that acquired or last renewed it was sent, plus its
	// ttl. The store's own expiry is never earlier, because the store
	// starts counting ttl when the call arrives.
	Deadline() time.Time
	// Renew extends the lease to ttl from now, on the store's clock, if
	// the caller still holds it, and moves Deadline on success. When the
	// lease expired or another holder took it, Renew returns an error
	// wrapping ErrLeaseLost and the lease stays lost. Any other error (the
	// store is unreachable, ctx ended) leaves the lease as it was: still
	// held until Deadline, maybe longer.
	Renew(ctx context.Context, ttl time.Duration) error
	// Release ends the lease early if the caller still holds it, so a
	// holder whose lease expired and was taken cannot release the new
	// holder's lease. It is best effort (a lease whose release fails still
	// expires), may be called more than once, and is harmless after the
	// lease was lost.
	Release()
}

// VersionDeleter is an optional TokenStore capability: a conditional delete,
// for a caller that must delete the record it read and not one written
// since. DeleteVersion removes the record for (provider, owner) only if its
// Version is still version, atomically: no Save lands between the check and
// the delete, and the record leaves Load and List together. Otherwise:
//
//   - A stored record with another version: an error wrapping
//     ErrVersionConflict, and nothing changes. A store may report a record
//     created during the call the same way, whatever its version: it is not
//     the record the caller read.
//   - No record (never stored, or deleted by someone else, even during the
//     call): nil, as Delete returns; the record read is gone either way.
//   - A version below 1 names no stored record: an error other than
//     ErrVersionConflict, and nothing changes.
//   - A done ctx: an error wrapping ctx.Err(), and nothing changes.
//
// What it guarantees: a record updated by any Save after the caller's read
// is never deleted, since every Save moves the version, and neither is a
// record deleted and created again whose version differs from the one
// read. But versions may restart at 1, so a record deleted and created
// again that has come back to the version read cannot be told from the
// record read, and is deleted. A caller that may race a delete and a
// re-create still holds the Locker lock when the store has one; oauthlink
// also re-reads the record (its status tells a new grant from the one it
// disconnected) just before the conditional delete, so that case needs a
// delete, a re-create and enough writes to reach the same version within
// that one round trip.
type VersionDeleter interface {
	DeleteVersion(ctx context.Context, provider, owner string, version int64) error
}

// ReplayGuard records consumed callback states so each one is accepted once,
// even when the browser (or an attacker) replays the callback with the
// original cookie. A TokenStore that also implements ReplayGuard shares the
// record between instances; otherwise an in-memory guard is used.
//
// Consume records key until expires and reports whether this call was the
// first to do so. It must be atomic: of two concurrent calls with one key,
// exactly one sees true. The key is a digest of the state, never the state.
type ReplayGuard interface {
	Consume(ctx context.Context, key string, expires time.Time) (first bool, err error)
}

// Pinger is an optional TokenStore capability used by the callback to check
// that the store is reachable before spending an authorization code (a code
// spent into a store that cannot save it is a lost connection).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Capability finds an optional capability T (Locker, VersionDeleter,
// ReplayGuard, Pinger, or any interface) on s or on the stores it wraps: a
// store that wraps another (an encrypting or instrumenting decorator)
// exposes it with a method Unwrap() TokenStore, and oauthlink looks
// through it. Decorators should implement Unwrap rather than forward each
// capability.
func Capability[T any](s TokenStore) (T, bool) {
	for s != nil {
		if v, ok := s.(T); ok {
			return v, true
		}
		u, ok := s.(interface{ Unwrap() TokenStore })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}

// Scanner is an optional TokenStore capability: it enumerates connections
// across owners, a page at a time, for the work that is about the whole
// fleet rather than one request: keeping idle connections alive, finding
// the connections of a provider account a webhook names, and operators'
// listings.
//
// Scan returns the connections that match q, at most q.Limit of them, in
// q's order (see Query), starting after q.Cursor. Page.Next is the cursor
// of the next page, "" after the last one. A cursor is opaque, stays valid
// while records change (a page never repeats or skips a connection that
// was present, unchanged, during the whole scan) and is only meaningful
// with the same filters. The connections are the caller's to change, like
// Load's. A store that encrypts tokens (store/encrypted) scans through its
// inner store and opens each record.
type Scanner interface {
	Scan(ctx context.Context, q Query) (Page, error)
}

// Query selects connections for Scanner.Scan. A zero field selects
// everything.
type Query struct {
	// Provider keeps the connections of this provider only.
	Provider string
	// Status keeps the connections in this status only.
	Status Status
	// AccountID keeps the connections to this provider account only
	// (Connection.AccountID: a Mollie or Qonto organization id), as a
	// webhook names it. It needs Provider.
	AccountID string
	// RefreshedBefore keeps the connections whose tokens were last
	// obtained from the provider (Connection.RefreshedAt) before this
	// time, zero RefreshedAt included, and orders the result by
	// RefreshedAt, oldest first: the query for connections whose refresh
	// token would otherwise expire from disuse. Without it the order is by
	// provider, then owner, in byte order.
	RefreshedBefore time.Time
	// PendingRevocation keeps the connections that still have work left
	// at the provider (Connection.PendingRevocation): a disconnected
	// record whose revocation is not confirmed, or a record that lists
	// grants in Retired. It is the keeper's query for the revocations to
	// retry, which a store should answer from an index (sqlstore and
	// redisstore do, memstore walks every record anyway), so that it
	// costs what the pending connections cost, not what the fleet does.
	// It changes no order: with RefreshedBefore, the upkeep order's.
	PendingRevocation bool
	// Cursor is the Page.Next of the previous page; "" for the first.
	Cursor string
	// Limit caps the page. Default 100; at most 1000.
	Limit int
}

// Page is one page of a Scan.
type Page struct {
	// Connections are the page's connections, in the query's order.
	Connections []*Connection
	// Next is the cursor of the next page, "" when there is none.
	Next string
}

// PageLimit returns the page size q asks for: q.Limit, or 100 when it is
// not positive, and at most 1000. Stores use it so every store pages
// alike.
func (q Query) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return 100
	case q.Limit > 1000:
		return 1000
	}
	return q.Limit
}

// ErrBadCursor is returned by Scan for a cursor it did not issue (or one
// issued for other filters).
var ErrBadCursor = errors.New("oauthlink: invalid scan cursor")
