package oauthlink

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// TokenKey is one AES-256 key for encrypting tokens at rest.
type TokenKey struct {
	// ID names the key inside every ciphertext, so keys can rotate. It
	// must match [A-Za-z0-9_-]{1,32} and be unique.
	ID string
	// Key is 32 random bytes.
	Key []byte
}

// ErrDecrypt is returned when a stored token cannot be decrypted: unknown
// key id, a ciphertext moved from another row or field, or tampering.
var ErrDecrypt = errors.New("oauthlink: cannot decrypt stored token")

const sealPrefix = "olk1:"

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// EncryptedStore wraps inner so that access tokens, refresh tokens, the
// extra token fields and the tokens of retired grants (Connection.Retired)
// are stored encrypted with AES-256-GCM: a random 96-bit
// nonce per value, and associated data binding the provider, the owner and
// the field, so a ciphertext copied to another row or field fails to
// decrypt (security.md J36). keys[0] encrypts; every key decrypts, so rotate
// by prepending a new key: each connection is re-encrypted with it on its
// next write (refresh or reconnect). Values written before encryption was
// enabled (no "olk1:" prefix) are read as they are and encrypted on their
// next write.
//
// Config.TokenKeys applies this wrapper for you. The wrapper passes
// VersionDeleter, Locker, ReplayGuard and Pinger through Unwrap.
//
// Errors: ErrConfig. The returned store's Load and List return ErrDecrypt
// for a value that cannot be decrypted, and every method returns the inner
// store's errors as they are (a Connector reports those as ErrStore).
func EncryptedStore(inner TokenStore, keys ...TokenKey) (TokenStore, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: EncryptedStore needs a store", ErrConfig)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: EncryptedStore needs at least one key", ErrConfig)
	}
	s := &sealedStore{inner: inner, aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if !keyID.MatchString(k.ID) {
			return nil, fmt.Errorf("%w: TokenKeys[%d]: id must match [A-Za-z0-9_-]{1,32}", ErrConfig, i)
		}
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("%w: TokenKeys[%d] (%s): key must be 32 bytes, got %d", ErrConfig, i, k.ID, len(k.Key))
		}
		if _, dup := s.aeads[k.ID]; dup {
			return nil, fmt.Errorf("%w: TokenKeys: duplicate id %s", ErrConfig, k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: TokenKeys[%d]: %v", ErrConfig, i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: TokenKeys[%d]: %v", ErrConfig, i, err)
		}
		s.aeads[k.ID] = aead
	}
	s.current = keys[0].ID
	return s, nil
}

type sealedStore struct {
	inner   TokenStore
	current string
	aeads   map[string]cipher.AEAD
}

// Unwrap returns the wrapped store, for capability discovery.
func (s *sealedStore) Unwrap() TokenStore { return s.inner }

// associatedData binds a ciphertext to its row and field. Each part is
// length-prefixed so ("a:b", "c") and ("a", "b:c") differ.
func associatedData(provider, owner, field string) []byte {
	ad := []byte("oauthlink token v1")
	for _, part := range []string{provider, owner, field} {
		ad = binary.AppendUvarint(ad, uint64(len(part)))
		ad = append(ad, part...)
	}
	return ad
}

func (s *sealedStore) seal(provider, owner, field string, v Secret) (Secret, error) {
	if v == "" {
		return "", nil
	}
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(v)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("oauthlink: reading nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(v.Reveal()), associatedData(provider, owner, field))
	return Secret(sealPrefix + s.current + ":" + base64.RawStdEncoding.EncodeToString(out)), nil
}

func (s *sealedStore) open(provider, owner, field string, v Secret) (Secret, error) {
	raw := v.Reveal()
	if !strings.HasPrefix(raw, sealPrefix) {
		return v, nil // written before encryption was enabled
	}
	id, b64, ok := strings.Cut(raw[len(sealPrefix):], ":")
	aead, known := s.aeads[id]
	if !ok || !known {
		return "", fmt.Errorf("%w: key id %q is not configured", ErrDecrypt, sanitize(id, 32))
	}
	b, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(b) < aead.NonceSize() {
		return "", fmt.Errorf("%w: malformed ciphertext", ErrDecrypt)
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], associatedData(provider, owner, field))
	if err != nil {
		return "", fmt.Errorf("%w: %s of %s/%s failed authentication", ErrDecrypt, field, provider, owner)
	}
	return Secret(plain), nil
}

func (s *sealedStore) openConn(c *Connection) (*Connection, error) {
	var err error
	if c.AccessToken, err = s.open(c.Provider, c.Owner, "access_token", c.AccessToken); err != nil {
		return nil, err
	}
	if c.RefreshToken, err = s.open(c.Provider, c.Owner, "refresh_token", c.RefreshToken); err != nil {
		return nil, err
	}
	if c.Extra, err = s.open(c.Provider, c.Owner, "extra", c.Extra); err != nil {
		return nil, err
	}
	for i := range c.Retired {
		if c.Retired[i].Token, err = s.open(c.Provider, c.Owner, "retired", c.Retired[i].Token); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (s *sealedStore) Load(ctx context.Context, provider, owner string) (*Connection, error) {
	c, err := s.inner.Load(ctx, provider, owner)
	if err != nil {
		return nil, err
	}
	return s.openConn(c)
}

func (s *sealedStore) List(ctx context.Context, owner string) ([]*Connection, error) {
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

// Save encrypts a copy of c with the newest key; on success c gets the new
// version and timestamps, as the contract says, and keeps its plaintext.
func (s *sealedStore) Save(ctx context.Context, c *Connection) error {
	enc := c.Clone()
	var err error
	if enc.AccessToken, err = s.seal(c.Provider, c.Owner, "access_token", c.AccessToken); err != nil {
		return err
	}
	if enc.RefreshToken, err = s.seal(c.Provider, c.Owner, "refresh_token", c.RefreshToken); err != nil {
		return err
	}
	if enc.Extra, err = s.seal(c.Provider, c.Owner, "extra", c.Extra); err != nil {
		return err
	}
	// Every retired token shares the field "retired": a ciphertext moved
	// between entries of one record's list still opens, but never in
	// another record or field. Clone gave enc a list of its own.
	for i := range enc.Retired {
		if enc.Retired[i].Token, err = s.seal(c.Provider, c.Owner, "retired", c.Retired[i].Token); err != nil {
			return err
		}
	}
	if err := s.inner.Save(ctx, enc); err != nil {
		return err
	}
	c.Version, c.CreatedAt, c.UpdatedAt = enc.Version, enc.CreatedAt, enc.UpdatedAt
	return nil
}

func (s *sealedStore) Delete(ctx context.Context, provider, owner string) error {
	return s.inner.Delete(ctx, provider, owner)
}

// capability finds an optional capability on s or on the stores it wraps
// (through an Unwrap() TokenStore method).
func capability[T any](s TokenStore) (T, bool) {
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
