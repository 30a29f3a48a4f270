package oauthlink

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// TokenKey is one AES-256 key for encrypting tokens at rest.
type TokenKey struct {
	// ID names the key inside every ciphertext, so keys can rotate. It
	// must match [A-Za-z0-9_-]{1,32} and be unique.
	ID string
	// Key is 32 random bytes.
	Key []byte
}

// String names the key by its ID; the key bytes are never printed.
func (k TokenKey) String() string { return "TokenKey{ID:" + strconv.Quote(k.ID) + " Key:[redacted]}" }

// GoString is String: %#v must not print the key either.
func (k TokenKey) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, %x ...).
func (k TokenKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue logs the key's ID only.
func (k TokenKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("key", "[redacted]"))
}

// MarshalJSON writes the key's ID only.
func (k TokenKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}{k.ID, "[redacted]"})
}

// ErrDecrypt is returned when a stored token cannot be used: unknown key
// id, a ciphertext moved from another row or field, tampering with a
// sealed value or with the metadata bound to it, or a value stored
// unencrypted while keys are configured. The error names the connection and
// the field, never a value.
var ErrDecrypt = errors.New("oauthlink: cannot decrypt stored token")

// The seal formats. A sealed value is prefix + key id + ":" + base64(nonce
// || ciphertext || tag).
const (
	// sealPrefix is the current format: the associated data binds the
	// provider, the owner, the field and the connection's metadata
	// (boundMetadata).
	sealPrefix = "olk2:"
	// sealPrefixV1 is the previous format, whose associated data bound only
	// the provider, the owner and the field. Read, never written.
	sealPrefixV1 = "olk1:"
)

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// EncryptedStoreOptions configure NewEncryptedStore.
type EncryptedStoreOptions struct {
	// Keys encrypt and decrypt the tokens: Keys[0] encrypts, every key
	// decrypts. At least one is required.
	Keys []TokenKey
	// MigratePlaintext makes the store read a record whose token values
	// are all unencrypted (written before encryption was enabled) as it
	// is; the next write of the record, or ResealConnections, encrypts
	// it. Only for the migration: while it is set, anyone who can write
	// to the store can plant tokens of their choice in such a record,
	// which is exactly what a store without it refuses. A record that
	// mixes unencrypted and encrypted values is refused even so.
	MigratePlaintext bool
}

// EncryptedStore wraps inner so that access tokens, refresh tokens, the
// extra token fields and the tokens of retired grants (Connection.Retired)
// are stored encrypted with AES-256-GCM, and so that whoever can write to
// the inner store, but has no key, cannot make oauthlink use a token or a
// token setting of their choice. keys[0] encrypts; every key decrypts.
// It is NewEncryptedStore with only Keys set, and Config.TokenKeys applies
// it for you. The wrapper passes store.VersionDeleter, store.Locker, store.ReplayGuard and
// store.Pinger through Unwrap.
//
// What is sealed and what is bound: every token value gets a random 96-bit
// nonce, and associated data binding the provider, the owner, the field
// (a retired token: its position in the list) and the connection's
// security-relevant metadata: store.Status, Expiry (to the millisecond, the
// precision stores keep; Save stores it so truncated), RedirectURI,
// AccountID, Scopes, TokenType, every retired grant's Kind and Since, and
// which token fields are set. A ciphertext copied to another row or
// field, or a record whose status, expiry, redirect URI, account, scopes
// or retired list was changed, or one of whose tokens was removed, fails
// to open: Load and List return an error wrapping ErrDecrypt, and nothing
// is changed. Every Save re-seals every value, so writes through the
// wrapper may change anything. Writes that bypass it (an UPDATE of the
// status column) are refused on the next read, as tampering.
//
// Plaintext is refused: with keys configured, a token value that is not
// sealed is an error wrapping ErrDecrypt that names the field, never read
// as a token, because a database writer could have planted it. Records
// written before encryption was enabled are migrated once: open the store
// with NewEncryptedStore and EncryptedStoreOptions.MigratePlaintext (as
// Config.Store, leaving Config.TokenKeys empty, or in a one-off job), run
// ResealConnections over every owner until it reports nothing left to
// reseal, then go back to Config.TokenKeys.
//
// Formats and rotation: values are written as "olk2:<key id>:…". Values
// of the previous format ("olk1:", which bound only the provider, the owner
// and the field) are still read, and upgraded on the record's next write
// (refresh, reconnect) or by ResealConnections; until then their metadata
// is not authenticated. Rotate keys by prepending a new one: each record
// is re-encrypted with it on its next write, or at once by
// ResealConnections, after which the old key can be dropped.
//
// What a writer without the key can still do, because no key-less check
// can tell: delete a record; put back an older copy of the same
// connection's record whole (from a backup, or one it saw earlier), with
// its older tokens and metadata, which rolls the connection back; change
// Version, CreatedAt and UpdatedAt, which change on every write and are
// not bound; change the metadata of a record that holds no token at all
// (nothing is sealed to bind it to); change the metadata of a record still
// in the previous format; and, while MigratePlaintext is set, replace a
// record's tokens by unencrypted ones of its choice.
//
// Errors: ErrConfig. The returned store's Load and List return ErrDecrypt
// for a value that cannot be decrypted or is not sealed, and every method
// returns the inner store's errors as they are (a Connector reports those
// as ErrStore).
func EncryptedStore(inner store.TokenStore, keys ...TokenKey) (store.TokenStore, error) {
	return NewEncryptedStore(inner, EncryptedStoreOptions{Keys: keys})
}

// NewEncryptedStore is EncryptedStore with options: see EncryptedStore for
// what is encrypted and authenticated, and EncryptedStoreOptions for the
// plaintext migration.
func NewEncryptedStore(inner store.TokenStore, opts EncryptedStoreOptions) (store.TokenStore, error) {
	keys := opts.Keys
	if inner == nil {
		return nil, fmt.Errorf("%w: EncryptedStore needs a store", ErrConfig)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: EncryptedStore needs at least one key", ErrConfig)
	}
	s := &sealedStore{inner: inner, aeads: make(map[string]cipher.AEAD, len(keys)), migrate: opts.MigratePlaintext}
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
	inner   store.TokenStore
	current string
	aeads   map[string]cipher.AEAD
	migrate bool // EncryptedStoreOptions.MigratePlaintext
}

// Unwrap returns the wrapped store, for capability discovery.
func (s *sealedStore) Unwrap() store.TokenStore { return s.inner }

// secretRef is one secret field of a connection.
type secretRef struct {
	// name is the field as errors name it and the current format binds
	// it: "access_token", "refresh_token", "extra", "retired[i]".
	name string
	// v1 is the field as the previous format bound it: every retired
	// token was "retired".
	v1 string
	v  *store.Secret
}

// secretRefs lists c's secret fields, in a fixed order.
func secretRefs(c *Connection) []secretRef {
	refs := make([]secretRef, 0, 3+len(c.Retired))
	refs = append(refs,
		secretRef{"access_token", "access_token", &c.AccessToken},
		secretRef{"refresh_token", "refresh_token", &c.RefreshToken},
		secretRef{"extra", "extra", &c.Extra})
	for i := range c.Retired {
		refs = append(refs, secretRef{"retired[" + strconv.Itoa(i) + "]", "retired", &c.Retired[i].Token})
	}
	return refs
}

// sealFormat is how a stored value is written; a higher value is newer.
type sealFormat int

const (
	formatEmpty sealFormat = iota
	formatPlain
	formatV1
	formatV2
)

func formatOf(v store.Secret) sealFormat {
	switch raw := v.Reveal(); {
	case raw == "":
		return formatEmpty
	case strings.HasPrefix(raw, sealPrefix):
		return formatV2
	case strings.HasPrefix(raw, sealPrefixV1):
		return formatV1
	default:
		return formatPlain
	}
}

// appendPart appends a length-prefixed part, so ("a:b", "c") and
// ("a", "b:c") differ.
func appendPart(b []byte, part string) []byte {
	b = binary.AppendUvarint(b, uint64(len(part)))
	return append(b, part...)
}

// appendTime appends t to the millisecond, or a marker for the zero time.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixMilli())
}

func appendSet(b []byte, v store.Secret) []byte {
	if v == "" {
		return append(b, 0)
	}
	return append(b, 1)
}

// boundMetadata is the part of c that decides how its tokens are used, as
// the current format binds it into every value's associated data. It
// leaves out Version, CreatedAt and UpdatedAt, which every write changes.
func boundMetadata(c *Connection) []byte {
	b := make([]byte, 0, 256)
	for _, part := range []string{string(c.Status), c.AccountID, c.TokenType, c.RedirectURI} {
		b = appendPart(b, part)
	}
	b = appendTime(b, c.Expiry)
	b = binary.AppendUvarint(b, uint64(len(c.Scopes)))
	for _, sc := range c.Scopes {
		b = appendPart(b, sc)
	}
	b = appendSet(b, c.AccessToken)
	b = appendSet(b, c.RefreshToken)
	b = appendSet(b, c.Extra)
	b = binary.AppendUvarint(b, uint64(len(c.Retired)))
	for _, r := range c.Retired {
		b = appendPart(b, r.Kind)
		b = appendTime(b, r.Since)
		b = appendSet(b, r.Token)
	}
	return b
}

// associatedData binds a ciphertext to its row, its field and (current
// format) the row's metadata; meta nil is the previous format.
func associatedData(provider, owner, field string, meta []byte) []byte {
	var ad []byte
	if meta == nil {
		ad = []byte("oauthlink token v1")
	} else {
		ad = make([]byte, 0, 32+len(provider)+len(owner)+len(field)+len(meta))
		ad = append(ad, "oauthlink token v2"...)
	}
	for _, part := range []string{provider, owner, field} {
		ad = appendPart(ad, part)
	}
	return append(ad, meta...)
}

func (s *sealedStore) seal(ad []byte, v store.Secret) (store.Secret, error) {
	if v == "" {
		return "", nil
	}
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(v)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("oauthlink: reading nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(v.Reveal()), ad)
	return store.Secret(sealPrefix + s.current + ":" + base64.RawStdEncoding.EncodeToString(out)), nil
}

// open decrypts a value of format f (formatV1 or formatV2). Its errors
// name the field and the connection, never the value.
func (s *sealedStore) open(c *Connection, r secretRef, f sealFormat, meta []byte) (store.Secret, error) {
	raw, prefix, field := r.v.Reveal(), sealPrefix, r.name
	if f == formatV1 {
		prefix, field, meta = sealPrefixV1, r.v1, nil
	}
	id, b64, ok := strings.Cut(raw[len(prefix):], ":")
	if !ok || !keyID.MatchString(id) {
		return "", fmt.Errorf("%w: %s of connection %q/%q is malformed", ErrDecrypt, r.name, c.Provider, c.Owner)
	}
	aead, known := s.aeads[id]
	if !known {
		return "", fmt.Errorf("%w: %s of connection %q/%q is sealed with key id %q, which is not configured",
			ErrDecrypt, r.name, c.Provider, c.Owner, id)
	}
	b, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(b) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("%w: %s of connection %q/%q is malformed", ErrDecrypt, r.name, c.Provider, c.Owner)
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], associatedData(c.Provider, c.Owner, field, meta))
	if err != nil {
		if f == formatV1 {
			return "", fmt.Errorf("%w: %s of connection %q/%q failed authentication: changed outside oauthlink, or taken from another connection or field",
				ErrDecrypt, r.name, c.Provider, c.Owner)
		}
		return "", fmt.Errorf("%w: %s of connection %q/%q failed authentication: the value, or the connection's status, expiry, "+
			"redirect URI, account, scopes, token type or retired grants, were changed outside oauthlink, or the value was taken from another connection or field",
			ErrDecrypt, r.name, c.Provider, c.Owner)
	}
	return store.Secret(plain), nil
}

// openConn decrypts c's secret fields in place. A record is written whole
// by Save, so all its values share one format: the newest one found is
// the record's, and a value in another format (an unencrypted value, or a
// previous-format value put back next to current ones) was changed outside
// oauthlink.
func (s *sealedStore) openConn(c *Connection) (*Connection, error) {
	refs := secretRefs(c)
	format := formatEmpty
	for _, r := range refs {
		format = max(format, formatOf(*r.v))
	}
	switch format {
	case formatEmpty:
		return c, nil
	case formatPlain:
		if s.migrate {
			return c, nil
		}
		for _, r := range refs {
			if formatOf(*r.v) == formatPlain {
				return nil, fmt.Errorf("%w: %s of connection %q/%q is stored unencrypted, and token keys are set: refused, since anyone "+
					"who can write to the store could have planted it (a record written before encryption was enabled is read "+
					"only while EncryptedStoreOptions.MigratePlaintext is set; see EncryptedStore)", ErrDecrypt, r.name, c.Provider, c.Owner)
			}
		}
	}
	var meta []byte
	if format == formatV2 {
		meta = boundMetadata(c)
	}
	opened := make([]store.Secret, len(refs))
	for i, r := range refs {
		switch f := formatOf(*r.v); {
		case f == formatEmpty:
			continue
		case f == formatPlain:
			return nil, fmt.Errorf("%w: %s of connection %q/%q is stored unencrypted next to encrypted values: changed outside oauthlink",
				ErrDecrypt, r.name, c.Provider, c.Owner)
		case f != format:
			return nil, fmt.Errorf("%w: %s of connection %q/%q is sealed in the previous format next to values in the current one: changed outside oauthlink",
				ErrDecrypt, r.name, c.Provider, c.Owner)
		default:
			v, err := s.open(c, r, f, meta)
			if err != nil {
				return nil, err
			}
			opened[i] = v
		}
	}
	for i, r := range refs {
		*r.v = opened[i]
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

// Save encrypts a copy of c with the newest key, in the current format,
// binding c's metadata; on success c gets the new version and timestamps,
// as the contract says, and keeps its plaintext. The copy's Expiry and
// retired Since times are truncated to the millisecond, the precision the
// metadata binds and every store keeps.
func (s *sealedStore) Save(ctx context.Context, c *Connection) error {
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

func (s *sealedStore) Delete(ctx context.Context, provider, owner string) error {
	return s.inner.Delete(ctx, provider, owner)
}

// resealLockTTL is the lease ResealConnections takes on each connection:
// ample for one read and one write.
const resealLockTTL = 30 * time.Second

// ResealConnections rewrites, through s, every connection of the given
// owners that is not yet stored in the current format with s's newest key:
// records written before encryption was enabled (s must then have
// EncryptedStoreOptions.MigratePlaintext), records of the previous format,
// and records sealed with an older key. Run it until it reports 0 to
// finish a plaintext migration, a format upgrade or a key rotation without
// waiting for each connection's next write; it is safe to run again and
// while the app runs. s is a store made by EncryptedStore or
// NewEncryptedStore, or one that wraps it (Connector.Store with
// Config.TokenKeys); the store can only list by owner, so the caller
// names the owners.
//
// Each record is rewritten with compare-and-swap, under the connection's
// store.Locker lease when the store has one, so it never overwrites a concurrent
// refresh or reconnect (it waits for them, within ctx). It returns how
// many records it rewrote, and every failure joined, each naming its
// connection (a record that cannot be read, e.g. unencrypted without
// MigratePlaintext, is reported and left as it is); ctx ending stops it.
func ResealConnections(ctx context.Context, s store.TokenStore, owners ...string) (resealed int, err error) {
	ss, ok := capability[*sealedStore](s)
	if !ok {
		return 0, fmt.Errorf("%w: ResealConnections needs a store made by EncryptedStore or NewEncryptedStore", ErrConfig)
	}
	var errs []error
	for _, owner := range owners {
		raws, err := ss.inner.List(ctx, owner)
		if err != nil {
			errs = append(errs, fmt.Errorf("oauthlink: reseal: listing the connections of %q: %w", owner, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		for _, raw := range raws {
			if !ss.stale(raw) {
				continue
			}
			done, err := ss.reseal(ctx, raw.Provider, owner)
			if err != nil {
				errs = append(errs, fmt.Errorf("oauthlink: reseal: connection %q/%q: %w", raw.Provider, owner, err))
				if ctx.Err() != nil {
					return resealed, errors.Join(errs...)
				}
			}
			if done {
				resealed++
			}
		}
	}
	return resealed, errors.Join(errs...)
}

// stale reports whether a stored record has a value that is not sealed in
// the current format with the current key.
func (s *sealedStore) stale(raw *Connection) bool {
	want := sealPrefix + s.current + ":"
	for _, r := range secretRefs(raw) {
		if v := r.v.Reveal(); v != "" && !strings.HasPrefix(v, want) {
			return true
		}
	}
	return false
}

// reseal rewrites one record if it is still stale, under its lease when
// the store has a store.Locker, and reports whether it wrote.
func (s *sealedStore) reseal(ctx context.Context, provider, owner string) (bool, error) {
	if l, ok := capability[store.Locker](s.inner); ok {
		lease, err := l.Lock(ctx, provider, owner, resealLockTTL)
		if err != nil {
			return false, fmt.Errorf("%w: connection lock: %w", ErrStore, err)
		}
		defer lease.Release()
		// Write only while the lease is certainly ours, with the margin
		// the Connector keeps.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, lease.Deadline().Add(-resealLockTTL/10))
		defer cancel()
	}
	// Without a lease a concurrent write can land between the read and
	// the write: read again and retry, a few times.
	for range 3 {
		raw, err := s.inner.Load(ctx, provider, owner)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // deleted meanwhile
		}
		if err != nil {
			return false, err
		}
		if !s.stale(raw) {
			return false, nil // written meanwhile
		}
		c, err := s.openConn(raw)
		if err != nil {
			return false, err
		}
		err = s.Save(ctx, c)
		if errors.Is(err, store.ErrVersionConflict) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("%w: written concurrently on every attempt; run again", store.ErrVersionConflict)
}

// capability finds an optional capability on s or on the stores it wraps
// (through an Unwrap() store.TokenStore method).
func capability[T any](s store.TokenStore) (T, bool) {
	for s != nil {
		if v, ok := s.(T); ok {
			return v, true
		}
		u, ok := s.(interface{ Unwrap() store.TokenStore })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}
