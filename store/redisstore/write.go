package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// Save writes c with compare-and-swap on c.Version (see
// store.TokenStore): Version 0 creates the record, any other value must
// be the stored version. A mismatch, or an update of a deleted record,
// returns an error wrapping store.ErrVersionConflict and changes
// nothing. On success c.Version, c.UpdatedAt and, on create, c.CreatedAt are
// set (UTC); an update keeps the stored CreatedAt. A negative Version is an
// error, and so is a RefreshedAt after the year 31690.
//
// The index Scan reads changes with the record: in the same script on a
// single server, in steps around it on a cluster (see the package
// documentation).
//
// With Options.WaitReplicas, an error wrapping ErrNotReplicated means the
// primary applied the write (c is updated as on success) but too few
// replicas confirmed it: the write may be lost on a failover.
func (s *Store) Save(ctx context.Context, c *store.Connection) error {
	w, err := s.prepareSave(c)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "save", err)
	}
	if s.split {
		// Before the record can hold the new state, the index must.
		if err := s.intend(ctx, w.e, w.id); err != nil {
			return fail(ctx, "save", err)
		}
	}
	reply, werr := s.write(ctx, saveScript, w.keys, w.args)
	if werr != nil && !errors.Is(werr, ErrNotReplicated) {
		// Whether it was written is unknown: the intent stays.
		return fail(ctx, "save", werr)
	}
	if s.split {
		s.settle(ctx, reply.settlement(c.Provider, c.Owner, w.id))
	}
	if !reply.ok {
		return storekit.SaveConflict("redisstore", c)
	}
	storekit.Saved(c, w.now)
	if werr != nil {
		return fmt.Errorf("redisstore: save %q for %q: %w", c.Provider, c.Owner, werr)
	}
	return nil
}

// saveCall is a Save's run of saveScript, and what the index steps around
// it need: the state it writes and its write id.
type saveCall struct {
	keys []string
	args []any
	e    entry
	id   string
	now  time.Time
}

// prepareSave checks c and builds its saveCall.
func (s *Store) prepareSave(c *store.Connection) (saveCall, error) {
	scopes, retired, err := storekit.EncodeSave("redisstore", c, storekit.SinceRFC3339)
	if err != nil {
		return saveCall{}, err
	}
	refreshed, err := encodeRefreshed(c.RefreshedAt)
	if err != nil {
		return saveCall{}, fmt.Errorf("redisstore: save %q for %q: %w", c.Provider, c.Owner, err)
	}
	w := saveCall{keys: s.writeKeys(c.Provider, c.Owner), id: rand.Text(), now: time.Now().Round(0).UTC(),
		e: entry{provider: c.Provider, owner: c.Owner, status: string(c.Status), account: c.AccountID, refreshed: refreshed,
			pending: c.PendingRevocation()}}
	w.args = []any{
		c.Version, c.Version + 1, c.Provider, formatTime(w.now), w.id,
		escNUL(c.Provider), escNUL(c.Owner), w.e.status, w.e.account, refreshed, pendingArg(w.e.pending),
		fAccountID, c.AccountID, fAccess, c.AccessToken.Reveal(), fRefresh, c.RefreshToken.Reveal(),
		fTokenType, c.TokenType, fExpiry, formatTime(c.Expiry), fScopes, scopes,
		fExtra, c.Extra.Reveal(), fRedirectURI, c.RedirectURI, fStatus, w.e.status,
		fRetired, retired, fRefreshed, refreshed,
	}
	return w, nil
}

// Delete removes the connection for (provider, owner), its owner index
// entry and its index members. Deleting a missing connection returns nil.
// With Options.WaitReplicas, see Save on ErrNotReplicated.
func (s *Store) Delete(ctx context.Context, provider, owner string) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "delete", err)
	}
	if _, err := s.remove(ctx, provider, owner, ""); err != nil {
		return fail(ctx, "delete", err)
	}
	return nil
}

// DeleteVersion removes the connection for (provider, owner) as Delete
// does, only if its Version is version, as described by
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
	reply, err := s.remove(ctx, provider, owner, strconv.FormatInt(version, 10))
	if err != nil && !errors.Is(err, ErrNotReplicated) {
		return fail(ctx, "delete", err)
	}
	if !reply.ok {
		return fmt.Errorf("redisstore: delete %q for %q: version %d is not the stored one: %w",
			provider, owner, version, store.ErrVersionConflict)
	}
	if err != nil {
		return fmt.Errorf("redisstore: delete %q for %q: %w", provider, owner, err)
	}
	return nil
}

// remove runs deleteScript (version "" for any version) and, on a split
// store, settles the index on the deletion.
func (s *Store) remove(ctx context.Context, provider, owner, version string) (writeReply, error) {
	args := []any{provider, version, escNUL(provider), escNUL(owner)}
	reply, err := s.write(ctx, deleteScript, s.writeKeys(provider, owner), args)
	if (err == nil || errors.Is(err, ErrNotReplicated)) && s.split && reply.ok && reply.exists {
		s.settle(ctx, settlement{e: entry{provider: provider, owner: owner},
			kind: stateGone, epoch: reply.epoch, version: reply.version})
	}
	return reply, err
}

// writeKeys returns the KEYS of saveScript and deleteScript: the record
// and the owner's index, and the index sets when they can be written in
// the same script.
func (s *Store) writeKeys(provider, owner string) []string {
	keys := []string{s.connKey(provider, owner), s.indexKey(owner)}
	if !s.split {
		keys = append(keys, s.setKeys()...)
	}
	return keys
}

// writeReply is what saveScript and deleteScript return: whether they
// wrote, and the record's state when there is one (saveScript: after the
// call; deleteScript: the deleted record's epoch and version).
type writeReply struct {
	ok, exists                 bool
	epoch, version             string
	status, account, refreshed string
	pending                    bool
}

func parseReply(v any) (writeReply, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return writeReply{}, fmt.Errorf("unexpected script reply %v", v)
	}
	n, _ := arr[0].(int64)
	r := writeReply{ok: n == 1}
	strs := make([]string, len(arr)-1)
	for i, x := range arr[1:] {
		if strs[i], ok = x.(string); !ok {
			return writeReply{}, fmt.Errorf("unexpected script reply %v", v)
		}
	}
	if len(strs) >= 2 {
		r.exists, r.epoch, r.version = true, strs[0], strs[1]
	}
	if len(strs) >= 6 {
		r.status, r.account, r.refreshed, r.pending = strs[2], strs[3], strs[4], strs[5] == "1"
	}
	return r, nil
}

// settlement returns how a writer with write id id settles the index after
// saveScript replied r: it applies the record's state the script read, or
// nothing when there is no record.
func (r writeReply) settlement(provider, owner, id string) settlement {
	st := settlement{e: entry{provider: provider, owner: owner}, resolve: id, kind: stateNone}
	if r.exists {
		st.e.status, st.e.account, st.e.refreshed, st.e.pending = r.status, r.account, r.refreshed, r.pending
		st.kind, st.epoch, st.version = stateLive, r.epoch, r.version
	}
	return st
}

// write runs a write script and parses its reply. With WaitReplicas it
// sends the script and WAIT in one pipeline: WAIT counts the replicas that
// have the writes of its own connection, so it must travel on the
// connection that wrote (on a cluster, the key's primary).
func (s *Store) write(ctx context.Context, script *redis.Script, keys []string, args []any) (writeReply, error) {
	if s.waitReplicas == 0 {
		v, err := script.Run(ctx, s.client, keys, args...).Result()
		if err != nil {
			return writeReply{}, err
		}
		return parseReply(v)
	}
	var node redis.Cmdable = s.client
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		primary, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			return writeReply{}, err
		}
		node = primary
	}
	pipe := node.Pipeline()
	// EVAL, not EVALSHA: a NOSCRIPT error inside a pipeline cannot fall
	// back; the scripts are a few kilobytes.
	run := script.Eval(ctx, pipe, keys, args...)
	wait := pipe.Do(ctx, "WAIT", s.waitReplicas, s.waitTimeout.Milliseconds())
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	v, err := run.Result()
	if err != nil {
		return writeReply{}, err
	}
	reply, err := parseReply(v)
	if err != nil {
		return writeReply{}, err
	}
	acked, err := wait.Int64()
	if err != nil {
		return reply, err
	}
	if acked < int64(s.waitReplicas) {
		return reply, fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, acked, s.waitReplicas, s.waitTimeout)
	}
	return reply, nil
}
