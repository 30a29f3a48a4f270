package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

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
func (s *Store) Save(ctx context.Context, c *store.Connection) error {
	scopes, retired, err := storekit.EncodeSave("redisstore", c, storekit.SinceRFC3339)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "save", err)
	}
	refreshed, err := encodeRefreshed(c.RefreshedAt)
	if err != nil {
		return fmt.Errorf("redisstore: save %q for %q: %w", c.Provider, c.Owner, err)
	}
	now := time.Now().Round(0).UTC()
	args := []any{
		c.Version, c.Version + 1, c.Provider, formatTime(now), rand.Text(),
		fAccountID, c.AccountID, fAccess, c.AccessToken.Reveal(), fRefresh, c.RefreshToken.Reveal(),
		fTokenType, c.TokenType, fExpiry, formatTime(c.Expiry), fScopes, scopes,
		fExtra, c.Extra.Reveal(), fRedirectURI, c.RedirectURI, fStatus, string(c.Status),
		fRetired, retired, fRefreshed, refreshed,
	}
	written, werr := s.write(ctx, saveScript, []string{s.connKey(c.Provider, c.Owner), s.indexKey(c.Owner)}, args)
	if werr != nil && !errors.Is(werr, ErrNotReplicated) {
		return fail(ctx, "save", werr)
	}
	if !written {
		return storekit.SaveConflict("redisstore", c)
	}
	storekit.Saved(c, now)
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
