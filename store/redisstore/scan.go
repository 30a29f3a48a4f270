package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

var _ store.Scanner = (*Store)(nil)

// maxBatch caps how many index members Scan reads in one round trip.
const maxBatch = 1000

// Scan implements store.Scanner: it returns the connections that match q,
// at most q.PageLimit() of them, in q's order, after q.Cursor. It reads a
// range of one index set, then each candidate's record, and returns a
// connection only when its record still matches both the query and the
// index member it was found by, so a stale member (a record changed or
// deleted since, or an index step of a cluster not yet settled) is
// skipped, never returned. A page holds q.PageLimit() connections unless
// the range is exhausted. On a split store (Redis Cluster) Scan also
// settles each stale member it met, from the record it read.
//
// A query with AccountID but no Provider is an error, and so is a cursor
// Scan did not issue for the same filters (it wraps store.ErrBadCursor).
// Records saved before the index existed are not found until Reindex ran,
// and connections pending before the pending set existed are not found
// by PendingRevocation until they are saved again or Reindex ran.
func (s *Store) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	plan, err := newPlan(q)
	if err != nil {
		return store.Page{}, err
	}
	after, err := plan.after(q.Cursor)
	if err != nil {
		return store.Page{}, err
	}
	if err := ctx.Err(); err != nil {
		return store.Page{}, fail(ctx, "scan", err)
	}
	page := store.Page{Connections: []*store.Connection{}}
	limit := q.PageLimit()
	batch := limit + 1 // one more than needed tells whether a next page exists
	for {
		cands, err := s.candidates(ctx, plan, after, batch)
		if err != nil {
			return store.Page{}, fail(ctx, "scan", err)
		}
		misses := 0
		for _, cd := range cands {
			if cd.conn == nil {
				misses++
			} else if len(page.Connections) == limit {
				page.Next = plan.cursor(after)
				return page, nil
			} else {
				page.Connections = append(page.Connections, cd.conn)
			}
			after = cd.member
		}
		if len(cands) < batch {
			return page, nil // the range is exhausted
		}
		need := limit - len(page.Connections)
		if need == 0 {
			// Full, and more members follow: they may all be stale,
			// so the next page may be empty, but it is rare enough
			// not to read on.
			page.Next = plan.cursor(after)
			return page, nil
		}
		if misses > 0 {
			batch = max(need+1, min(2*batch, maxBatch))
		} else {
			batch = need + 1
		}
	}
}

// candidate is an index member Scan read, with its connection when the
// record matches.
type candidate struct {
	member string
	conn   *store.Connection
}

// candidates reads up to n members of plan's range after the member after,
// then their records in one pipelined round trip, and returns the
// candidates with the connections that match.
func (s *Store) candidates(ctx context.Context, plan scanPlan, after string, n int) ([]candidate, error) {
	members, metas, err := s.page(ctx, plan, after, n)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	entries := make([]entry, len(members))
	cmds := make([]*redis.MapStringStringCmd, len(members))
	pipe := s.client.Pipeline()
	for i, m := range members {
		e, ok := parseMember(plan.set, m)
		if !ok {
			continue // not written by this package: skipped
		}
		entries[i] = e
		cmds[i] = pipe.HGetAll(ctx, s.connKey(e.provider, e.owner))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]candidate, len(members))
	var repairs []settlement
	for i, m := range members {
		out[i].member = m
		if cmds[i] == nil {
			continue
		}
		h := cmds[i].Val()
		if out[i].conn, err = plan.match(entries[i], h); err != nil {
			return nil, err
		}
		if s.split {
			if st, ok := repair(entries[i], h, metas[i]); ok {
				repairs = append(repairs, st)
			}
		}
	}
	// Best effort: a repair that fails is tried again by the next Scan
	// that meets the member, and the page is right either way.
	_ = s.apply(ctx, repairs)
	return out, nil
}

// page reads up to n members of plan's range after the member after and,
// on a split store, the meta value of each.
func (s *Store) page(ctx context.Context, plan scanPlan, after string, n int) (members, metas []string, err error) {
	lo, hi := plan.bounds(after)
	if !s.split {
		members, err = s.client.ZRangeByLex(ctx, s.setKey(plan.set), &redis.ZRangeBy{Min: lo, Max: hi, Count: int64(n)}).Result()
		return members, nil, err
	}
	l := layouts[plan.set]
	pos := func(p part) int {
		for i, q := range l.parts {
			if q == p {
				return i + 1
			}
		}
		return 0
	}
	flat, err := pageScript.Run(ctx, s.client, []string{s.setKey(plan.set), s.metaKey()},
		lo, hi, n, pos(partProvider), pos(partOwner), l.refOn+1).StringSlice()
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i+1 < len(flat); i += 2 {
		members, metas = append(members, flat[i]), append(metas, flat[i+1])
	}
	return members, metas, nil
}

// match returns the connection of record h when it matches the query and
// the index entry e it was found by, nil otherwise (no record, or a stale
// entry).
func (p scanPlan) match(e entry, h map[string]string) (*store.Connection, error) {
	if len(h) == 0 {
		return nil, nil
	}
	c, err := decode(e.provider, e.owner, h)
	if err != nil {
		return nil, fmt.Errorf("record %q for %q: %w", e.provider, e.owner, err)
	}
	l := layouts[p.set]
	for _, part := range l.parts {
		if (part == partStatus && string(c.Status) != e.status) || (part == partAccount && c.AccountID != e.account) {
			return nil, nil
		}
	}
	if l.refOn >= 0 && storedRefreshed(h) != e.refreshed {
		return nil, nil
	}
	if !storekit.Matches(c, p.q) {
		return nil, nil
	}
	return c, nil
}

// storedRefreshed returns a record's stored RefreshedAt; a record written
// before the field existed holds the zero time.
func storedRefreshed(h map[string]string) string {
	if r := h[fRefreshed]; r != "" {
		return r
	}
	return zeroRefreshed
}

// storedPending is store.Connection.PendingRevocation on a record's
// fields: its status, and its retired field, which is empty when the list
// is (and absent in a record written before the field existed). luaIndex's
// pendof is the same test in the scripts.
func storedPending(h map[string]string) bool {
	return store.Status(h[fStatus]) == store.StatusDisconnected || h[fRetired] != ""
}

// repair returns the settlement that brings the split index up to date
// with record h (empty when there is none) of the connection e names,
// given the meta value Scan read before the record, and false when the
// index is up to date.
func repair(e entry, h map[string]string, meta string) (settlement, bool) {
	mi, ok := parseMeta(meta)
	names := entry{provider: e.provider, owner: e.owner}
	if len(h) == 0 {
		switch {
		case ok && mi.deleted == "0":
			// Deleted after the meta was read, or before: ordered by
			// the applied state's key either way.
			return settlement{e: names, kind: stateGone, epoch: mi.epoch, version: mi.version}, true
		case mi.intents:
			return settlement{e: names, kind: stateNone}, true // drops expired intents
		}
		return settlement{}, false
	}
	epoch := h[fEpoch]
	if epoch == "" {
		epoch = "0"
	}
	if ok && mi.deleted == "0" && mi.epoch == epoch && mi.version == h[fVersion] && !mi.intents {
		return settlement{}, false
	}
	live := entry{provider: e.provider, owner: e.owner, status: h[fStatus], account: h[fAccountID], refreshed: storedRefreshed(h),
		pending: storedPending(h)}
	return settlement{e: live, kind: stateLive, epoch: epoch, version: h[fVersion]}, true
}
