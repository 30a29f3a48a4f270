package encrypted

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// Store is a store.TokenStore that keeps tokens encrypted in the store it
// wraps. Make one with New; it is safe for concurrent use when the inner
// store is.
type Store struct {
	inner   store.TokenStore
	current string
	aeads   map[string]cipher.AEAD
	migrate bool // Options.MigratePlaintext
}

var _ store.TokenStore = (*Store)(nil)

// New wraps inner so that tokens are stored encrypted with opts.Keys:
// Keys[0] encrypts, every key decrypts. See the package documentation for
// what is encrypted and authenticated, and Options for the plaintext
// migration.
//
// It fails when inner is nil, when there is no key, or when a key's ID is
// malformed or repeated or its length is not 32 bytes.
func New(inner store.TokenStore, opts Options) (*Store, error) {
	keys := opts.Keys
	if inner == nil {
		return nil, errors.New("oauthlink: encrypted.New needs a store")
	}
	if len(keys) == 0 {
		return nil, errors.New("oauthlink: encrypted.New needs at least one key")
	}
	s := &Store{inner: inner, aeads: make(map[string]cipher.AEAD, len(keys)), migrate: opts.MigratePlaintext}
	for i, k := range keys {
		if !keyID.MatchString(k.ID) {
			return nil, fmt.Errorf("oauthlink: encrypted.New: Keys[%d]: id must match [A-Za-z0-9_-]{1,32}", i)
		}
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("oauthlink: encrypted.New: Keys[%d] (%s): key must be 32 bytes, got %d", i, k.ID, len(k.Key))
		}
		if _, dup := s.aeads[k.ID]; dup {
			return nil, fmt.Errorf("oauthlink: encrypted.New: Keys: duplicate id %s", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("oauthlink: encrypted.New: Keys[%d]: %v", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("oauthlink: encrypted.New: Keys[%d]: %v", i, err)
		}
		s.aeads[k.ID] = aead
	}
	s.current = keys[0].ID
	return s, nil
}

// Unwrap returns the wrapped store, for capability discovery: oauthlink
// finds the inner store's store.Locker, store.VersionDeleter,
// store.ReplayGuard and store.Pinger through it.
func (s *Store) Unwrap() store.TokenStore { return s.inner }

// EncryptsAtRest reports true: oauthlink looks for this method along the
// Unwrap chain to tell that tokens are stored encrypted.
func (s *Store) EncryptsAtRest() bool { return true }

// Load reads the connection and opens its tokens; a value that cannot be
// opened, or is not sealed, is an error wrapping ErrDecrypt.
func (s *Store) Load(ctx context.Context, provider, owner string) (*store.Connection, error) {
	c, err := s.inner.Load(ctx, provider, owner)
	if err != nil {
		return nil, err
	}
	return s.openConn(c)
}

// List reads the owner's connections and opens their tokens; one that
// cannot be opened fails the whole call with an error wrapping ErrDecrypt.
func (s *Store) List(ctx context.Context, owner string) ([]*store.Connection, error) {
	cs, err := s.inner.List(ctx, owner)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if cs[i], err = s.openConn(c); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// ErrNoScan is returned by Scan when the inner store cannot enumerate
// connections (it does not implement store.Scanner).
var ErrNoScan = errors.New("oauthlink: encrypted: the inner store cannot scan")

// Scan scans the inner store (store.Scanner) and opens each connection, as
// Load does: a record that fails to open fails the page with ErrDecrypt.
// Filters work on the metadata, which is not encrypted.
func (s *Store) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	sc, ok := store.Capability[store.Scanner](s.inner)
	if !ok {
		return store.Page{}, ErrNoScan
	}
	p, err := sc.Scan(ctx, q)
	if err != nil {
		return store.Page{}, err
	}
	for i, c := range p.Connections {
		if p.Connections[i], err = s.openConn(c); err != nil {
			return store.Page{}, err
		}
	}
	return p, nil
}

// Save encrypts a copy of c with the newest key, in the current format,
// binding c's metadata; on success c gets the new version and timestamps,
// as the contract says, and keeps its plaintext. The copy's Expiry and
// retired Since times are truncated to the millisecond, the precision the
// metadata binds and every store keeps.
func (s *Store) Save(ctx context.Context, c *store.Connection) error {
	enc := c.Clone() // Clone gives enc a Retired list of its own
	enc.Expiry = enc.Expiry.Truncate(time.Millisecond)
	for i := range enc.Retired {
		enc.Retired[i].Since = enc.Retired[i].Since.Truncate(time.Millisecond)
	}
	meta := boundMetadata(enc)
	for _, r := range secretRefs(enc) {
		v, err := s.seal(associatedData(enc.Provider, enc.Owner, r.name, meta), *r.v)
		if err != nil {
			return err
		}
		*r.v = v
	}
	if err := s.inner.Save(ctx, enc); err != nil {
		return err
	}
	c.Version, c.CreatedAt, c.UpdatedAt = enc.Version, enc.CreatedAt, enc.UpdatedAt
	return nil
}

// Delete deletes the connection from the inner store.
func (s *Store) Delete(ctx context.Context, provider, owner string) error {
	return s.inner.Delete(ctx, provider, owner)
}
