// Package memstore is an in-memory store.TokenStore.
//
// It is meant for tests, demos and single-instance apps: everything lives in
// the process's memory, so every connection is lost on restart and nothing is
// shared with another instance. Besides TokenStore it implements the
// optional VersionDeleter, Locker, ReplayGuard and Pinger capabilities,
// with the same single-process reach: the lock excludes goroutines of this
// process only, and the replay guard remembers the states this process
// consumed, so two instances behind a load balancer need sqlstore or
// redisstore instead.
//
// The replay guard is bounded: expired states are swept on every Consume,
// and at most Options.MaxStates unexpired states (default 100,000) are kept;
// beyond that Consume refuses new states with ErrTooManyStates rather than
// grow without bound or forget a state early. Lock entries whose holder let
// them expire are swept too.
//
// A Store is safe for concurrent use. It copies connections on the way in and
// on the way out, so callers never share memory with it, and it strips the
// monotonic clock reading from the times it keeps, as a database would.
//
// memstore starts no goroutine and holds no resource beyond memory: there is
// nothing to close.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/internal/replayguard"
	"github.com/oauthlink/oauthlink/store"
)

// DefaultMaxStates is the default Options.MaxStates.
const DefaultMaxStates = 100_000

// ErrTooManyStates is returned by Store.Consume when the replay guard
// already holds Options.MaxStates unexpired states. The guard refuses the
// new state instead of growing without bound (or forgetting a state early,
// which would let a replay through); the callback fails closed.
var ErrTooManyStates = errors.New("memstore: too many pending states")

// Options configures a Store. The zero value gives the defaults.
type Options struct {
	// MaxStates caps how many consumed callback states the replay guard
	// remembers at once. Expired states are swept before the cap is
	// checked; when the guard is still full, Consume returns
	// ErrTooManyStates. Zero or negative means DefaultMaxStates (100,000).
	MaxStates int
}

// Store is an in-memory TokenStore, VersionDeleter, Locker, ReplayGuard and
// Pinger. Create one with New or NewWithOptions; the zero value is not
// usable.
type Store struct {
	mu    sync.RWMutex
	conns map[string]map[string]*store.Connection // owner → provider → record

	locks     lockTable
	guard     *replayguard.Guard // the one in-memory guard, on the real clock
	maxStates int
}

var (
	_ store.TokenStore     = (*Store)(nil)
	_ store.VersionDeleter = (*Store)(nil)
	_ store.Locker         = (*Store)(nil)
	_ store.ReplayGuard    = (*Store)(nil)
	_ store.Pinger         = (*Store)(nil)
	_ store.Scanner        = (*Store)(nil)
)

// New returns an empty Store with the default Options.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty Store configured by o.
func NewWithOptions(o Options) *Store {
	if o.MaxStates <= 0 {
		o.MaxStates = DefaultMaxStates
	}
	return &Store{
		conns: make(map[string]map[string]*store.Connection),
		locks: lockTable{held: make(map[connKey]*lockEntry)},
		guard: replayguard.New(o.MaxStates, time.Now), maxStates: o.MaxStates,
	}
}

// connKey identifies a connection. A struct key keeps ("a:b", "c") and
// ("a", "b:c") apart, which a joined string would not.
type connKey struct{ provider, owner string }

// Load returns a copy of the connection for (provider, owner), or an error
// wrapping store.ErrNotFound.
func (s *Store) Load(ctx context.Context, provider, owner string) (*store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.conns[owner][provider]
	if c == nil {
		return nil, fmt.Errorf("memstore: load %q for %q: %w", provider, owner, store.ErrNotFound)
	}
	return c.Clone(), nil
}

// List returns copies of owner's connections ordered by provider (byte
// order), or an empty slice when there are none.
func (s *Store) List(ctx context.Context, owner string) ([]*store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	byProvider := s.conns[owner]
	out := make([]*store.Connection, 0, len(byProvider))
	for _, c := range byProvider {
		out = append(out, c.Clone())
	}
	slices.SortFunc(out, func(a, b *store.Connection) int { return strings.Compare(a.Provider, b.Provider) })
	return out, nil
}

// Save stores a copy of c with compare-and-swap on c.Version, as described
// by store.TokenStore: Version 0 creates, any other value must match the
// stored version. A mismatch returns an error wrapping
// store.ErrVersionConflict and changes nothing. On success c.Version,
// c.UpdatedAt and, on create, c.CreatedAt are set; an update keeps the
// stored CreatedAt.
func (s *Store) Save(ctx context.Context, c *store.Connection) error {
	if c == nil {
		return errors.New("memstore: save: nil connection")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: save: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.conns[c.Owner][c.Provider]
	switch {
	case c.Version == 0 && cur != nil:
		return fmt.Errorf("memstore: create %q for %q: already exists: %w", c.Provider, c.Owner, store.ErrVersionConflict)
	case c.Version != 0 && cur == nil:
		return fmt.Errorf("memstore: update %q for %q: no record: %w", c.Provider, c.Owner, store.ErrVersionConflict)
	case c.Version != 0 && cur.Version != c.Version:
		return fmt.Errorf("memstore: update %q for %q: version %d, stored %d: %w",
			c.Provider, c.Owner, c.Version, cur.Version, store.ErrVersionConflict)
	}

	now := time.Now().Round(0) // drop the monotonic reading, as a database would
	// Clone copies Scopes and Retired too: no backing array is shared.
	rec := c.Clone()
	rec.Expiry, rec.RefreshedAt = rec.Expiry.Round(0), rec.RefreshedAt.Round(0)
	for i := range rec.Retired {
		rec.Retired[i].Since = rec.Retired[i].Since.Round(0)
	}
	rec.UpdatedAt = now
	if cur == nil {
		rec.Version = 1
		rec.CreatedAt = now
	} else {
		rec.Version = cur.Version + 1
		rec.CreatedAt = cur.CreatedAt
	}
	byProvider := s.conns[c.Owner]
	if byProvider == nil {
		byProvider = make(map[string]*store.Connection)
		s.conns[c.Owner] = byProvider
	}
	byProvider[c.Provider] = rec

	c.Version = rec.Version
	c.UpdatedAt = now
	if cur == nil {
		c.CreatedAt = now
	}
	return nil
}

// Delete removes the connection for (provider, owner). Deleting a missing
// connection returns nil.
func (s *Store) Delete(ctx context.Context, provider, owner string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byProvider := s.conns[owner]
	delete(byProvider, provider)
	if len(byProvider) == 0 {
		delete(s.conns, owner)
	}
	return nil
}

// DeleteVersion removes the connection for (provider, owner) only if its
// Version is version, as described by store.VersionDeleter: another
// stored version returns an error wrapping store.ErrVersionConflict and
// changes nothing, and a missing connection returns nil. A version below 1
// is an error.
func (s *Store) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	if version < 1 {
		return fmt.Errorf("memstore: delete %q for %q: version %d is not positive", provider, owner, version)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byProvider := s.conns[owner]
	cur := byProvider[provider]
	if cur == nil {
		return nil
	}
	if cur.Version != version {
		return fmt.Errorf("memstore: delete %q for %q: version %d, stored %d: %w",
			provider, owner, version, cur.Version, store.ErrVersionConflict)
	}
	delete(byProvider, provider)
	if len(byProvider) == 0 {
		delete(s.conns, owner)
	}
	return nil
}

// Ping reports whether the store is usable: it always is, unless ctx is
// done.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: ping: %w", err)
	}
	return nil
}
