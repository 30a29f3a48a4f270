package redisstore

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// storeFactory opens a fresh store, and returns the client it uses.
type storeFactory func(t *testing.T) (*Store, redis.UniversalClient)

// singleStore is a store on the test server, whose index changes in the
// record's script.
func singleStore(t *testing.T) (*Store, redis.UniversalClient) {
	s, c := newTestStore(t, Options{})
	require.False(t, s.split)
	return s, c
}

// splitStore is a store on the test server that keeps its index as on a
// cluster, in steps around each write (Options.SeparateIndex), so that the
// split protocol runs, and its faults can be staged, without a cluster.
func splitStore(t *testing.T) (*Store, redis.UniversalClient) {
	s, c := newTestStore(t, Options{SeparateIndex: true})
	require.True(t, s.split)
	return s, c
}

// clusterStore opens stores on rc.
func clusterStore(rc *redisCluster) storeFactory {
	return func(t *testing.T) (*Store, redis.UniversalClient) {
		s, c := rc.newStore(t, Options{})
		require.True(t, s.split)
		return s, c
	}
}

// scanEverything pages through q with page size limit and returns every
// connection, checking each page's size and that only the last one ends.
func scanEverything(t *testing.T, ctx context.Context, s *Store, q store.Query, limit int) []*store.Connection {
	t.Helper()
	q.Limit = limit
	var out []*store.Connection
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10_000, "Scan never ended")
		p, err := s.Scan(ctx, q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Connections), q.PageLimit())
		out = append(out, p.Connections...)
		if p.Next == "" {
			return out
		}
		require.Len(t, p.Connections, q.PageLimit(), "a page short of the limit that says there is more")
		q.Cursor = p.Next
	}
}

// want returns the connections of model that match q, in q's order.
func want(model map[[2]string]*store.Connection, q store.Query) []*store.Connection {
	var out []*store.Connection
	for _, c := range model {
		if storekit.Matches(c, q) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *store.Connection) int {
		byName := cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Owner, b.Owner))
		if storekit.Upkeep(q) {
			return cmp.Or(a.RefreshedAt.Compare(b.RefreshedAt), byName)
		}
		return byName
	})
	return out
}

// names lists the (provider, owner) of conns, in order.
func names(conns []*store.Connection) [][2]string {
	out := make([][2]string, len(conns))
	for i, c := range conns {
		out[i] = [2]string{c.Provider, c.Owner}
	}
	return out
}

// indexDump returns the members of every index set, by set.
func indexDump(t *testing.T, ctx context.Context, s *Store) map[indexSet][]string {
	t.Helper()
	out := map[indexSet][]string{}
	for set := range numSets {
		members, err := s.client.ZRange(ctx, s.setKey(set), 0, -1).Result()
		require.NoError(t, err)
		if len(members) > 0 {
			out[set] = members
		}
	}
	return out
}

// expectedIndex returns the index that holds exactly conns.
func expectedIndex(t *testing.T, conns ...*store.Connection) map[indexSet][]string {
	t.Helper()
	out := map[indexSet][]string{}
	for _, c := range conns {
		r, err := encodeRefreshed(c.RefreshedAt)
		require.NoError(t, err)
		e := entry{provider: c.Provider, owner: c.Owner, status: string(c.Status), account: c.AccountID, refreshed: r,
			pending: c.PendingRevocation()}
		for set := range numSets {
			if m := e.member(set); m != "" {
				out[set] = append(out[set], m)
			}
		}
	}
	for set := range out {
		slices.Sort(out[set])
	}
	return out
}

// assertIndexHolds checks that the index holds exactly conns and, on a
// split store, that no intent is pending.
func assertIndexHolds(t *testing.T, ctx context.Context, s *Store, conns ...*store.Connection) {
	t.Helper()
	assert.Equal(t, expectedIndex(t, conns...), indexDump(t, ctx, s))
	if !s.split {
		return
	}
	metas, err := s.client.HGetAll(ctx, s.metaKey()).Result()
	require.NoError(t, err)
	assert.Len(t, metas, len(conns), "one meta value per connection")
	for f, raw := range metas {
		mi, ok := parseMeta(raw)
		assert.True(t, ok, "meta of %q", f)
		assert.False(t, mi.intents, "meta of %q has pending intents", f)
		assert.Equal(t, "0", mi.deleted, "meta of %q", f)
	}
}
