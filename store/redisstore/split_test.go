package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

// TestSplit stages the faults of the split index (a writer that dies
// between its steps, settlements that arrive late, writers that race) on
// one server; TestCluster runs the same on a cluster.
func TestSplit(t *testing.T) {
	t.Parallel()
	testSplit(t, splitStore)
}

func testSplit(t *testing.T, open storeFactory) {
	for name, test := range map[string]func(*testing.T, storeFactory){
		"DiesBeforeSettling": testSplitDiesBeforeSettling,
		"DiesBeforeWriting":  testSplitDiesBeforeWriting,
		"LateSettlements":    testSplitLateSettlements,
		"RacingWriters":      testSplitRacingWriters,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// failScript makes every run of script on c fail while on is set, as if
// the process died before sending it.
func failScript(c redis.UniversalClient, script *redis.Script, on *atomic.Bool) {
	c.AddHook(scriptFailer{sha: script.Hash(), on: on})
}

type scriptFailer struct {
	sha string
	on  *atomic.Bool
}

func (h scriptFailer) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h scriptFailer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); h.on.Load() && cmd.Name() == "evalsha" && len(args) > 1 && args[1] == h.sha {
			err := errors.New("staged: the process died")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h scriptFailer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// ageIntents moves the announcement time of every pending intent past
// intentExpiry, as if they had waited that long.
func ageIntents(t *testing.T, ctx context.Context, s *Store) {
	t.Helper()
	metas, err := s.client.HGetAll(ctx, s.metaKey()).Result()
	require.NoError(t, err)
	old := strconv.FormatInt(time.Now().Add(-2*intentExpiry).Unix(), 10)
	for f, raw := range metas {
		var fields []string
		for raw != "" {
			n, rest, _ := strings.Cut(raw, ":")
			size, err := strconv.Atoi(n)
			require.NoError(t, err)
			fields, raw = append(fields, rest[:size]), rest[size:]
		}
		var b strings.Builder
		require.Equal(t, metaMark, fields[0], "meta of %q", f)
		for i, v := range fields {
			// The mark, the applied state's seven fields, then six per
			// intent, the time last.
			if i >= 8 && (i-8)%6 == 5 {
				v = old
			}
			fmt.Fprintf(&b, "%d:%s", len(v), v)
		}
		require.NoError(t, s.client.HSet(ctx, s.metaKey(), f, b.String()).Err())
	}
}

// testSplitDiesBeforeSettling: a writer wrote the record and died before
// settling. Its intent keeps the new state in the index, so every query
// finds the record by its new values at once; a Scan that meets it settles
// it, and its intent goes once expired.
func testSplitDiesBeforeSettling(t *testing.T, open storeFactory) {
	s, c := open(t)
	ctx := testutil.Context(t)
	var dead atomic.Bool
	failScript(c, applyScript, &dead)
	a := &store.Connection{Provider: "qonto", Owner: "o", AccountID: "org_1", Status: store.StatusActive, RefreshedAt: scanBase}
	dead.Store(true)
	require.NoError(t, s.Save(ctx, a), "the record is written: Save succeeds")
	dead.Store(false)
	mi, ok := parseMeta(s.client.HGet(ctx, s.metaKey(), escNUL("qonto")+sep+escNUL("o")).Val())
	require.True(t, ok)
	require.True(t, mi.intents, "the writer did not settle")
	model := map[[2]string]*store.Connection{{"qonto", "o"}: a}
	checkAll := func(why string) {
		for _, q := range []store.Query{{Provider: "qonto", AccountID: "org_1"}, {Status: store.StatusActive},
			{RefreshedBefore: scanBase.Add(time.Hour)}, {Provider: "qonto", Status: store.StatusActive, RefreshedBefore: scanBase.Add(time.Hour)}} {
			assert.Equal(t, names(want(model, q)), names(scanEverything(t, ctx, s, q, 10)), "%s: %+v", why, q)
		}
	}
	checkAll("created, not settled")

	a.Status, a.AccountID, a.RefreshedAt = store.StatusReauthRequired, "org_2", scanBase.Add(2*time.Hour)
	dead.Store(true)
	require.NoError(t, s.Save(ctx, a))
	dead.Store(false)
	checkAll("updated, not settled")
	for _, q := range []store.Query{{Status: store.StatusActive}, {Provider: "qonto", AccountID: "org_1"}} {
		assert.Empty(t, scanEverything(t, ctx, s, q, 10), "the old values find nothing: %+v", q)
	}
	ageIntents(t, ctx, s)
	checkAll("intents expired")
	assertIndexHolds(t, ctx, s, a)
}

// testSplitDiesBeforeWriting: a writer announced its intent and died
// before writing the record. The intent's members find nothing (the
// record does not have those values) and go once expired.
func testSplitDiesBeforeWriting(t *testing.T, open storeFactory) {
	s, c := open(t)
	ctx := testutil.Context(t)
	var dead atomic.Bool
	failScript(c, saveScript, &dead)
	a := &store.Connection{Provider: "qonto", Owner: "o", Status: store.StatusActive}
	require.NoError(t, s.Save(ctx, a))
	edit := *a
	edit.Status = store.StatusDisconnected
	dead.Store(true)
	require.Error(t, s.Save(ctx, &edit))
	require.Error(t, s.Save(ctx, &store.Connection{Provider: "mollie", Owner: "never"}))
	dead.Store(false)
	assert.Empty(t, scanEverything(t, ctx, s, store.Query{Status: store.StatusDisconnected}, 10))
	assert.Equal(t, [][2]string{{"qonto", "o"}}, names(scanEverything(t, ctx, s, store.Query{}, 10)))
	assert.NotEqual(t, expectedIndex(t, a), indexDump(t, ctx, s), "the intents' members are there")
	ageIntents(t, ctx, s)
	scanEverything(t, ctx, s, store.Query{}, 10) // meets both, and drops the expired intents
	assertIndexHolds(t, ctx, s, a)
}

// testSplitLateSettlements applies, after newer ones, settlements of older
// states (an earlier version, a deleted record, a previous incarnation):
// none of them changes the index.
func testSplitLateSettlements(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	a := &store.Connection{Provider: "qonto", Owner: "o", Status: store.StatusActive, RefreshedAt: scanBase}
	require.NoError(t, s.Save(ctx, a))
	epoch1 := s.client.HGet(ctx, s.connKey("qonto", "o"), fEpoch).Val()
	require.NotEmpty(t, epoch1)
	old := settlement{e: entry{provider: "qonto", owner: "o", status: "active", refreshed: zeroRefreshed},
		kind: stateLive, epoch: epoch1, version: "1"}
	a.Status = store.StatusReauthRequired
	require.NoError(t, s.Save(ctx, a))
	require.NoError(t, s.apply(ctx, []settlement{old}))
	assertIndexHolds(t, ctx, s, a)
	gone := settlement{e: old.e, kind: stateGone, epoch: epoch1, version: "1"}
	require.NoError(t, s.apply(ctx, []settlement{gone}))
	assertIndexHolds(t, ctx, s, a)

	require.NoError(t, s.Delete(ctx, "qonto", "o"))
	a.Version = 0
	require.NoError(t, s.Save(ctx, a))
	epoch2 := s.client.HGet(ctx, s.connKey("qonto", "o"), fEpoch).Val()
	require.Greater(t, epoch2, epoch1, "a re-created record has a later epoch")
	previous := old
	previous.version = "2"
	require.NoError(t, s.apply(ctx, []settlement{previous, {e: old.e, kind: stateGone, epoch: epoch1, version: "2"}}))
	assertIndexHolds(t, ctx, s, a)
}

// testSplitRacingWriters races writers on two instances over a few
// connections (updates that conflict, deletes, re-creates): once they are
// done the index holds exactly the records, with no intent left.
func testSplitRacingWriters(t *testing.T, open storeFactory) {
	s1, _ := open(t)
	s2, err := New(newSplitPeer(t, s1), Options{Prefix: s1.prefix, AllowVolatile: true, SeparateIndex: true})
	require.NoError(t, err)
	ctx := testutil.Context(t)
	stores := []*Store{s1, s2}
	owners := []string{"o1", "o2", "o3"}
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			raceWriter(ctx, stores[w%2], owners, w)
		}()
	}
	for range 8 {
		<-done
	}
	var conns []*store.Connection
	for _, o := range owners {
		if c, err := s1.Load(ctx, "qonto", o); err == nil {
			conns = append(conns, c)
		}
	}
	assertIndexHolds(t, ctx, s1, conns...)
}

// newSplitPeer returns another client of the server or cluster s uses.
func newSplitPeer(t *testing.T, s *Store) redis.UniversalClient {
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cc.Options().Addrs, ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		return c
	}
	return newClient(t)
}

// raceWriter loads, edits and saves, or deletes, connections of owners.
func raceWriter(ctx context.Context, s *Store, owners []string, w int) {
	statuses := []store.Status{store.StatusActive, store.StatusReauthRequired, store.StatusDisconnected}
	for i := range 40 {
		o := owners[(i+w)%len(owners)]
		c, err := s.Load(ctx, "qonto", o)
		if errors.Is(err, store.ErrNotFound) {
			c = &store.Connection{Provider: "qonto", Owner: o}
		} else if err != nil {
			return
		}
		if i%7 == w%7 {
			_ = s.DeleteVersion(ctx, "qonto", o, max(c.Version, 1))
			continue
		}
		c.Status = statuses[(i*w)%3]
		c.AccountID = fmt.Sprintf("org_%d", i%2)
		c.RefreshedAt = scanBase.Add(time.Duration(i*w) * time.Minute)
		_ = s.Save(ctx, c)
	}
}
