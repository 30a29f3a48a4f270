package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// DefaultPrefix is the default Options.Prefix.
const DefaultPrefix = "oauthlink:"

// DefaultWaitTimeout is the default Options.WaitTimeout.
const DefaultWaitTimeout = time.Second

// releaseTimeout bounds unlock, which has no context of its own.
const releaseTimeout = 5 * time.Second

// ErrNotReplicated is returned (wrapped) by Save, Delete and DeleteVersion
// when Options.WaitReplicas is set and fewer replicas acknowledged the
// write within Options.WaitTimeout. The primary did apply the write.
var ErrNotReplicated = errors.New("redisstore: write not acknowledged by enough replicas")

// Options configures a Store. The zero value gives the defaults.
type Options struct {
	// Prefix starts every key the Store uses, so that several stores or
	// applications can share one Redis. It must not contain '{' or '}'
	// (the keys use a hash tag of their own). Default DefaultPrefix
	// ("oauthlink:").
	Prefix string
	// WaitReplicas, when positive, makes Save, Delete and DeleteVersion
	// send WAIT after the write so that they return only once that many
	// replicas have it (see the package documentation on durability).
	// Default 0: no WAIT. Not supported with a *redis.Ring.
	WaitReplicas int
	// WaitTimeout is how long WAIT waits for the replicas. Default
	// DefaultWaitTimeout (1 s); it never waits forever.
	WaitTimeout time.Duration
	// AllowVolatile lets New accept a Redis whose settings can lose saved
	// connections, or whose settings it cannot read; New then does not
	// contact Redis. Without it New checks every server (CheckDurability)
	// and refuses, with an error wrapping ErrVolatile, a server without an
	// append-only file (appendonly no: a restart loses everything saved
	// since the last RDB snapshot, or everything without one), with
	// appendfsync no (a host crash loses what the kernel had not written)
	// or with a maxmemory-policy other than noeviction (eviction deletes
	// connections silently). The package documentation on durability
	// gives what each setting risks, with measured figures. Set it for
	// development and tests on a Redis without persistence, or when the
	// risk is accepted knowingly (and log CheckDurability's answer).
	AllowVolatile bool
}

// Store is a TokenStore, VersionDeleter, Locker, ReplayGuard and Pinger on
// Redis. Create one with New; it is safe for concurrent use.
type Store struct {
	client       redis.UniversalClient
	prefix       string
	waitReplicas int
	waitTimeout  time.Duration
}

var (
	_ store.TokenStore     = (*Store)(nil)
	_ store.VersionDeleter = (*Store)(nil)
	_ store.Locker         = (*Store)(nil)
	_ store.ReplayGuard    = (*Store)(nil)
	_ store.Pinger         = (*Store)(nil)
)

// New returns a Store that keeps its data in client under opts.Prefix.
// Unless opts.AllowVolatile is set it first checks, with CheckDurability
// (at most 10 s, one round trip per server), that no server behind client
// can lose a saved connection, and returns its error otherwise: one
// wrapping ErrVolatile naming each risky setting, ErrDurabilityUnknown
// when a server refuses to show its settings, or the error that kept it
// from asking (so New needs the server reachable). With AllowVolatile it
// does not contact Redis. Call Ping to check that the server accepts
// writes.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q contains a brace", opts.Prefix)
	}
	if opts.WaitReplicas < 0 {
		return nil, errors.New("redisstore: negative WaitReplicas")
	}
	if opts.WaitReplicas > 0 {
		if _, ok := client.(*redis.Ring); ok {
			return nil, errors.New("redisstore: WaitReplicas is not supported with a Ring client")
		}
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if !opts.AllowVolatile {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		if err := CheckDurability(ctx, client); err != nil {
			return nil, err
		}
	}
	return &Store{client: client, prefix: opts.Prefix, waitReplicas: opts.WaitReplicas, waitTimeout: opts.WaitTimeout}, nil
}

// escape encodes a key component: ASCII letters, digits and "-._~@+" stay,
// every other byte becomes %XX. Since '%' itself is escaped the encoding is
// injective, and the result never contains ':', '{', '}' or glob
// characters.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '@', c == '+':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// ownerTag returns the Redis Cluster hash tag of owner's keys. Redis
// hashes the whole key when the braces hold nothing, which would put the
// empty owner's record and index in different slots, so the empty owner's
// tag is "{%}": escape never returns a lone '%', so no other owner has it.
func ownerTag(owner string) string {
	if owner == "" {
		return "{%}"
	}
	return "{" + escape(owner) + "}"
}

func (s *Store) connKey(provider, owner string) string {
	return s.prefix + "conn:" + ownerTag(owner) + ":" + escape(provider)
}

func (s *Store) indexKey(owner string) string { return s.prefix + "owner:" + ownerTag(owner) }

func (s *Store) lockKey(provider, owner string) string {
	return s.prefix + "lock:" + ownerTag(owner) + ":" + escape(provider)
}

func (s *Store) stateKey(key string) string { return s.prefix + "state:" + escape(key) }

// fail wraps err for op, adding ctx.Err() when the context ended so that
// errors.Is(err, context.Canceled) holds whatever go-redis returned.
func fail(ctx context.Context, op string, err error) error {
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, ce, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// Hash field names of a connection record.
const (
	fVersion     = "v"
	fWriteID     = "w"
	fCreated     = "created"
	fUpdated     = "updated"
	fAccountID   = "account_id"
	fAccess      = "access_token"
	fRefresh     = "refresh_token"
	fTokenType   = "token_type"
	fExpiry      = "expiry"
	fScopes      = "scopes"
	fExtra       = "extra"
	fRedirectURI = "redirect_uri"
	fStatus      = "status"
	fRetired     = "retired"
)

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// decode builds a Connection from a record's hash fields.
func decode(provider, owner string, h map[string]string) (*oauthlink.Connection, error) {
	c := &oauthlink.Connection{
		Provider:     provider,
		Owner:        owner,
		AccountID:    h[fAccountID],
		AccessToken:  store.Secret(h[fAccess]),
		RefreshToken: store.Secret(h[fRefresh]),
		TokenType:    h[fTokenType],
		Extra:        store.Secret(h[fExtra]),
		RedirectURI:  h[fRedirectURI],
		Status:       store.Status(h[fStatus]),
	}
	var err error
	if c.Version, err = strconv.ParseInt(h[fVersion], 10, 64); err != nil {
		return nil, fmt.Errorf("bad version: %w", err)
	}
	for f, dst := range map[string]*time.Time{fExpiry: &c.Expiry, fCreated: &c.CreatedAt, fUpdated: &c.UpdatedAt} {
		if *dst, err = time.Parse(time.RFC3339Nano, h[f]); err != nil {
			return nil, fmt.Errorf("bad %s: %w", f, err)
		}
	}
	if err := json.Unmarshal([]byte(h[fScopes]), &c.Scopes); err != nil {
		return nil, fmt.Errorf("bad scopes: %w", err)
	}
	if c.Retired, err = decodeRetired(h[fRetired]); err != nil {
		return nil, err
	}
	return c, nil
}

// storedRetired is the stored form of one store.RetiredToken, an
// element of the retired field's JSON array. The token is a byte string
// (base64 in JSON), so any bytes round-trip exactly; Since is RFC 3339
// with nanoseconds, as every stored time.
type storedRetired struct {
	Token []byte `json:"token"`
	Kind  string `json:"kind"`
	Since string `json:"since"`
}

// encodeRetired returns the retired field's value: "" for no retired
// grant, a JSON array otherwise. Kinds must be valid UTF-8.
func encodeRetired(rs []store.RetiredToken) (string, error) {
	if len(rs) == 0 {
		return "", nil
	}
	out := make([]storedRetired, len(rs))
	for i, r := range rs {
		if !utf8.ValidString(r.Kind) {
			return "", fmt.Errorf("retired token %d: kind is not valid UTF-8", i)
		}
		out[i] = storedRetired{Token: []byte(r.Token.Reveal()), Kind: r.Kind, Since: formatTime(r.Since)}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode retired tokens: %w", err)
	}
	return string(b), nil
}

// decodeRetired reads the retired field: nil for "" (or a record written
// before the field existed).
func decodeRetired(v string) ([]store.RetiredToken, error) {
	if v == "" {
		return nil, nil
	}
	var stored []storedRetired
	if err := json.Unmarshal([]byte(v), &stored); err != nil {
		return nil, fmt.Errorf("bad retired tokens: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	rs := make([]store.RetiredToken, len(stored))
	for i, r := range stored {
		since, err := time.Parse(time.RFC3339Nano, r.Since)
		if err != nil {
			return nil, fmt.Errorf("bad retired token %d: since: %w", i, err)
		}
		rs[i] = store.RetiredToken{Token: store.Secret(r.Token), Kind: r.Kind, Since: since}
	}
	return rs, nil
}

// Load returns the connection for (provider, owner), or an error wrapping
// store.ErrNotFound. Times are in UTC.
func (s *Store) Load(ctx context.Context, provider, owner string) (*oauthlink.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "load", err)
	}
	h, err := s.client.HGetAll(ctx, s.connKey(provider, owner)).Result()
	if err != nil {
		return nil, fail(ctx, "load", err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("redisstore: load %q for %q: %w", provider, owner, store.ErrNotFound)
	}
	c, err := decode(provider, owner, h)
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %q for %q: %w", provider, owner, err)
	}
	return c, nil
}

// List returns owner's connections ordered by provider (byte order), or an
// empty slice when there are none. It reads the owner's index, then every
// record in one pipelined round trip; a record deleted in between is left
// out.
func (s *Store) List(ctx context.Context, owner string) ([]*oauthlink.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "list", err)
	}
	// Members of equal score are ordered by their bytes (memcmp).
	providers, err := s.client.ZRange(ctx, s.indexKey(owner), 0, -1).Result()
	if err != nil {
		return nil, fail(ctx, "list", err)
	}
	out := []*oauthlink.Connection{}
	if len(providers) == 0 {
		return out, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(providers))
	for i, p := range providers {
		cmds[i] = pipe.HGetAll(ctx, s.connKey(p, owner))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fail(ctx, "list", err)
	}
	for i, cmd := range cmds {
		h := cmd.Val()
		if len(h) == 0 {
			continue
		}
		c, err := decode(providers[i], owner, h)
		if err != nil {
			return nil, fmt.Errorf("redisstore: list %q for %q: %w", providers[i], owner, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// saveScript is the compare-and-swap write. KEYS: record, owner index.
// ARGV: expected version ("0" to create), new version, provider (index
// member), now, write id, then field/value pairs. It returns 1 when
// written, 0 on a version mismatch. A retry of a write that already applied
// (same write id, version already new) returns 1 without writing again.
// The index is written before the record: should the record write fail
// (out of memory), an index entry without a record is harmless, since List
// skips it.
var saveScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'v')
if cur == ARGV[2] and redis.call('HGET', KEYS[1], 'w') == ARGV[5] then
	return 1
end
if ARGV[1] == '0' then
	if cur then return 0 end
elseif cur ~= ARGV[1] then
	return 0
end
redis.call('ZADD', KEYS[2], 0, ARGV[3])
if ARGV[1] == '0' then
	redis.call('HSET', KEYS[1], 'created', ARGV[4])
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'w', ARGV[5], 'updated', ARGV[4], unpack(ARGV, 6))
return 1
`)

// deleteScript removes a record and its index entry. KEYS: record, owner
// index. ARGV: provider.
var deleteScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// deleteVersionScript removes a record and its index entry, as
// deleteScript does, only if the record is missing or has the expected
// version. KEYS: record, owner index. ARGV: provider, expected version. It
// returns 1 when the record is gone, 0 on a version mismatch. A missing
// record still has its index entry removed, as Delete would: an entry
// without a record is left only by a failed write.
var deleteVersionScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'v')
if cur and cur ~= ARGV[2] then
	return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// Save writes c with compare-and-swap on c.Version (see
// store.TokenStore): Version 0 creates the record, any other value must
// be the stored version. A mismatch, or an update of a deleted record,
// returns an error wrapping store.ErrVersionConflict and changes
// nothing. On success c.Version, c.UpdatedAt and, on create, c.CreatedAt are
// set (UTC); an update keeps the stored CreatedAt. A negative Version is an
// error.
//
// With Options.WaitReplicas, an error wrapping ErrNotReplicated means the
// primary applied the write (c is updated as on success) but too few
// replicas confirmed it: the write may be lost on a failover.
func (s *Store) Save(ctx context.Context, c *oauthlink.Connection) error {
	if c == nil {
		return errors.New("redisstore: save: nil connection")
	}
	if c.Version < 0 {
		return fmt.Errorf("redisstore: save %q for %q: negative version %d", c.Provider, c.Owner, c.Version)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "save", err)
	}
	for _, sc := range c.Scopes {
		if !utf8.ValidString(sc) {
			return fmt.Errorf("redisstore: save %q for %q: scope is not valid UTF-8", c.Provider, c.Owner)
		}
	}
	scopes, err := json.Marshal(c.Scopes)
	if err != nil {
		return fmt.Errorf("redisstore: save: encode scopes: %w", err)
	}
	retired, err := encodeRetired(c.Retired)
	if err != nil {
		return fmt.Errorf("redisstore: save %q for %q: %w", c.Provider, c.Owner, err)
	}
	now := time.Now().Round(0).UTC()
	args := []any{
		c.Version, c.Version + 1, c.Provider, formatTime(now), rand.Text(),
		fAccountID, c.AccountID, fAccess, c.AccessToken.Reveal(), fRefresh, c.RefreshToken.Reveal(),
		fTokenType, c.TokenType, fExpiry, formatTime(c.Expiry), fScopes, string(scopes),
		fExtra, c.Extra.Reveal(), fRedirectURI, c.RedirectURI, fStatus, string(c.Status),
		fRetired, retired,
	}
	written, werr := s.write(ctx, saveScript, []string{s.connKey(c.Provider, c.Owner), s.indexKey(c.Owner)}, args)
	if werr != nil && !errors.Is(werr, ErrNotReplicated) {
		return fail(ctx, "save", werr)
	}
	if !written {
		if c.Version == 0 {
			return fmt.Errorf("redisstore: create %q for %q: already exists: %w", c.Provider, c.Owner, store.ErrVersionConflict)
		}
		return fmt.Errorf("redisstore: update %q for %q: version %d is not the stored one: %w",
			c.Provider, c.Owner, c.Version, store.ErrVersionConflict)
	}
	if c.Version == 0 {
		c.CreatedAt = now
	}
	c.Version++
	c.UpdatedAt = now
	if werr != nil {
		return fmt.Errorf("redisstore: save %q for %q: %w", c.Provider, c.Owner, werr)
	}
	return nil
}

// Delete removes the connection for (provider, owner) and its index entry
// atomically. Deleting a missing connection returns nil. With
// Options.WaitReplicas, see Save on ErrNotReplicated.
func (s *Store) Delete(ctx context.Context, provider, owner string) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "delete", err)
	}
	if _, err := s.write(ctx, deleteScript, []string{s.connKey(provider, owner), s.indexKey(owner)}, []any{provider}); err != nil {
		return fail(ctx, "delete", err)
	}
	return nil
}

// DeleteVersion removes the connection for (provider, owner) and its index
// entry atomically, only if its Version is version, as described by
// store.VersionDeleter: another stored version returns an error
// wrapping store.ErrVersionConflict and changes nothing, and a missing
// connection returns nil. A version below 1 is an error. With
// Options.WaitReplicas, see Save on ErrNotReplicated; a conflict is
// reported before it, since nothing was written.
func (s *Store) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	if version < 1 {
		return fmt.Errorf("redisstore: delete %q for %q: version %d is not positive", provider, owner, version)
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "delete", err)
	}
	deleted, err := s.write(ctx, deleteVersionScript, []string{s.connKey(provider, owner), s.indexKey(owner)}, []any{provider, version})
	if err != nil && !errors.Is(err, ErrNotReplicated) {
		return fail(ctx, "delete", err)
	}
	if !deleted {
		return fmt.Errorf("redisstore: delete %q for %q: version %d is not the stored one: %w",
			provider, owner, version, store.ErrVersionConflict)
	}
	if err != nil {
		return fmt.Errorf("redisstore: delete %q for %q: %w", provider, owner, err)
	}
	return nil
}

// write runs a write script and reports whether it returned 1. With
// WaitReplicas it sends the script and WAIT in one pipeline: WAIT counts
// the replicas that have the writes of its own connection, so it must
// travel on the connection that wrote (on a cluster, the key's primary).
func (s *Store) write(ctx context.Context, script *redis.Script, keys []string, args []any) (bool, error) {
	if s.waitReplicas == 0 {
		n, err := script.Run(ctx, s.client, keys, args...).Int64()
		return n == 1, err
	}
	var node redis.Cmdable = s.client
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		primary, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return false, err
		}
		node = primary
	}
	pipe := node.Pipeline()
	// EVAL, not EVALSHA: a NOSCRIPT error inside a pipeline cannot fall
	// back; the scripts are a few hundred bytes.
	run := script.Eval(ctx, pipe, keys, args...)
	wait := pipe.Do(ctx, "WAIT", s.waitReplicas, s.waitTimeout.Milliseconds())
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	n, err := run.Int64()
	if err != nil {
		return false, err
	}
	acked, err := wait.Int64()
	if err != nil {
		return n == 1, err
	}
	if acked < int64(s.waitReplicas) {
		return n == 1, fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, acked, s.waitReplicas, s.waitTimeout)
	}
	return n == 1, nil
}
