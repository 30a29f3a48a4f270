package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

// asBeforeTheIndex makes s's data look as a version without Scan left it:
// no index, and, for every other record, no RefreshedAt or epoch field
// (which read back as zero). It returns the model of what is stored.
func asBeforeTheIndex(t *testing.T, ctx context.Context, s *Store, conns []*store.Connection) map[[2]string]*store.Connection {
	t.Helper()
	require.NoError(t, s.client.Del(ctx, append(s.setKeys(), s.metaKey())...).Err())
	model := map[[2]string]*store.Connection{}
	for i, c := range conns {
		if i%2 == 0 {
			require.NoError(t, s.client.HDel(ctx, s.connKey(c.Provider, c.Owner), fRefreshed, fEpoch).Err())
			c.RefreshedAt = time.Time{}
		}
		model[[2]string{c.Provider, c.Owner}] = c
	}
	return model
}

func testReindex(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	r := rand.New(rand.NewPCG(5, 5))
	var conns []*store.Connection
	for _, p := range scanProviders {
		for _, o := range scanOwners {
			c := &store.Connection{Provider: p, Owner: o}
			randomEdit(r, c)
			require.NoError(t, s.Save(ctx, c))
			conns = append(conns, c)
		}
	}
	model := asBeforeTheIndex(t, ctx, s, conns)
	// Keys under the prefix that are no records of this package.
	require.NoError(t, s.client.Set(ctx, s.prefix+"conn:{a}:b:c", "x", 0).Err())
	require.NoError(t, s.client.Set(ctx, s.prefix+"conn:junk", "x", 0).Err())
	p, err := s.Scan(ctx, store.Query{})
	require.NoError(t, err)
	assert.Empty(t, p.Connections, "records saved before the index are not in it")

	for run := range 2 {
		n, err := s.Reindex(ctx)
		require.NoError(t, err)
		assert.Equal(t, len(conns), n, "run %d", run)
		for _, q := range scanQueries() {
			assert.Equal(t, names(want(model, q)), names(scanEverything(t, ctx, s, q, 1000)), "run %d: %+v", run, q)
		}
		assertIndexHolds(t, ctx, s, want(model, store.Query{})...)
		assert.Zero(t, s.client.Exists(ctx, s.reindexKey()).Val(), "a finished run leaves no progress")
	}
}

// cancelAfterProgress cancels a context once a Reindex has saved its
// progress, as an operator's interrupt would.
type cancelAfterProgress struct {
	key    string
	cancel context.CancelFunc
}

func (h cancelAfterProgress) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h cancelAfterProgress) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if args := cmd.Args(); err == nil && cmd.Name() == "hset" && len(args) > 1 && args[1] == h.key {
			h.cancel()
		}
		return err
	}
}

func (h cancelAfterProgress) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// testReindexResumes interrupts a Reindex after it saved its progress: the
// next run continues where it stopped rather than from the start.
func testReindexResumes(t *testing.T, open storeFactory) {
	s, c := open(t)
	ctx := testutil.Context(t)
	const total = 1200 // more than one SCAN batch
	var conns []*store.Connection
	for i := range total {
		conn := &store.Connection{Provider: "mollie", Owner: fmt.Sprintf("owner-%04d", i), Status: store.StatusActive}
		require.NoError(t, s.Save(ctx, conn))
		conns = append(conns, conn)
	}
	asBeforeTheIndex(t, ctx, s, conns)

	interrupted, cancel := context.WithCancel(ctx)
	defer cancel()
	c.AddHook(cancelAfterProgress{key: s.reindexKey(), cancel: cancel})
	n1, err := s.Reindex(interrupted)
	require.ErrorIs(t, err, context.Canceled)
	assert.Positive(t, s.client.HLen(ctx, s.reindexKey()).Val(), "the progress is kept")
	n2, err := s.Reindex(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n1+n2, total)
	if _, single := s.client.(*redis.Client); single {
		// One server, walked in order: the second run skipped what
		// the first one had done. (The primaries of a cluster are
		// walked at once, and the interrupt may come after a batch
		// with none of this test's keys.)
		assert.Positive(t, n1)
		assert.Less(t, n2, total, "the second run started over")
	}
	assert.Len(t, scanEverything(t, ctx, s, store.Query{}, 1000), total)
	assert.Zero(t, s.client.Exists(ctx, s.reindexKey()).Val())

	// A server marked done is not walked again.
	require.NoError(t, s.client.Del(ctx, append(s.setKeys(), s.metaKey())...).Err())
	var mu sync.Mutex
	require.NoError(t, s.forEachServer(ctx, func(ctx context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		return s.client.HSet(ctx, s.reindexKey(), node.Options().Addr, reindexDone).Err()
	}))
	n, err := s.Reindex(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Zero(t, s.client.Exists(ctx, s.reindexKey()).Val())
}
