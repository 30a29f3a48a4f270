package redisstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

func TestScan(t *testing.T) {
	t.Parallel()
	testScan(t, singleStore)
}

// TestScanSplit runs the Scan tests on a store that keeps its index in
// steps, as on a cluster; TestCluster runs them on a cluster.
func TestScanSplit(t *testing.T) {
	t.Parallel()
	testScan(t, splitStore)
}

func testScan(t *testing.T, open storeFactory) {
	for name, test := range map[string]func(*testing.T, storeFactory){
		"Model":              testScanModel,
		"Changes":            testScanChanges,
		"ConcurrentWriters":  testScanConcurrentWriters,
		"BadCursor":          testScanBadCursor,
		"IndexFollowsRecord": testScanIndexFollowsRecord,
		"OldRecordSaved":     testScanOldRecordSaved,
		"PendingSetUpgrade":  testScanPendingSetUpgrade,
		"Reindex":            testReindex,
		"ReindexResumes":     testReindexResumes,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// Odd names and values: NUL, bytes that are not UTF-8, separators, and
// empty strings, which every set must keep apart and in byte order.
var (
	scanProviders = []string{"mollie", "qonto", "a\x00b", "a", ""}
	scanOwners    = []string{"", "a", "a\x00", "é", "\xff", "x:y{z}", "shop-1", "shop-10"}
	scanStatuses  = []store.Status{store.StatusActive, store.StatusReauthRequired, store.StatusDisconnected, "", "odd\x00st"}
	scanAccounts  = []string{"", "org_1", "org\x002"}
	scanBase      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	scanTimes     = []time.Time{{}, scanBase, scanBase.Add(time.Hour), scanBase.Add(time.Millisecond),
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), scanBase.Add(48 * time.Hour)}
)

// randomEdit gives c random values for every indexed field, retired
// grants (which make it pending) included.
func randomEdit(r *rand.Rand, c *store.Connection) {
	c.Status = scanStatuses[r.IntN(len(scanStatuses))]
	c.AccountID = scanAccounts[r.IntN(len(scanAccounts))]
	c.RefreshedAt = scanTimes[r.IntN(len(scanTimes))]
	c.Retired = nil
	if r.IntN(3) == 0 {
		c.Retired = []store.RetiredToken{{Token: "rt-old", Kind: "refresh_token", Since: scanBase}}
	}
}

// scanQueries returns every combination of filters the tests ask.
func scanQueries() []store.Query {
	var qs []store.Query
	for _, p := range []string{"", "mollie", "a\x00b"} {
		for _, st := range []store.Status{"", store.StatusActive, "odd\x00st"} {
			for _, a := range []string{"", "org_1", "org\x002"} {
				if a != "" && p == "" {
					continue
				}
				for _, before := range []time.Time{{}, scanBase.Add(time.Minute), scanBase.Add(-time.Hour), scanBase.Add(1000 * time.Hour)} {
					for _, pending := range []bool{false, true} {
						qs = append(qs, store.Query{Provider: p, Status: st, AccountID: a, RefreshedBefore: before,
							PendingRevocation: pending})
					}
				}
			}
		}
	}
	return qs
}

// testScanModel compares every query against a model of the fleet, after
// creates, then after updates, deletes and re-creates.
func testScanModel(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	r := rand.New(rand.NewPCG(7, 11))
	model := map[[2]string]*store.Connection{}
	for _, p := range scanProviders {
		for _, o := range scanOwners {
			c := &store.Connection{Provider: p, Owner: o, AccessToken: "at"}
			randomEdit(r, c)
			require.NoError(t, s.Save(ctx, c))
			model[[2]string{p, o}] = c
		}
	}
	check := func(round string) {
		for _, q := range scanQueries() {
			wantConns := want(model, q)
			for _, limit := range []int{3, 1000} {
				got := scanEverything(t, ctx, s, q, limit)
				if !assert.Equal(t, names(wantConns), names(got), "%s: %+v, limit %d", round, q, limit) {
					continue
				}
				for i := range got {
					assert.Equal(t, wantConns[i], got[i])
				}
			}
		}
		got := scanEverything(t, ctx, s, store.Query{}, 1)
		assert.Equal(t, names(want(model, store.Query{})), names(got), "%s: one at a time", round)
	}
	check("created")
	for k, c := range model {
		switch r.IntN(3) {
		case 0:
			randomEdit(r, c)
			require.NoError(t, s.Save(ctx, c))
		case 1:
			require.NoError(t, s.Delete(ctx, k[0], k[1]))
			delete(model, k)
		}
	}
	check("changed")
	for _, p := range scanProviders[:2] {
		for _, o := range scanOwners {
			if _, ok := model[[2]string{p, o}]; !ok {
				c := &store.Connection{Provider: p, Owner: o}
				randomEdit(r, c)
				require.NoError(t, s.Save(ctx, c))
				model[[2]string{p, o}] = c
			}
		}
	}
	check("re-created")
	assertIndexHolds(t, ctx, s, want(model, store.Query{})...)
}

// testScanChanges pages through several queries while records are
// created, changed (into and out of the query, forwards and backwards in
// its order) and deleted between pages: a connection present and
// unchanged during the whole scan is returned exactly once, and every
// connection returned matched the query when it was read.
func testScanChanges(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	for qi, q := range []store.Query{
		{}, {Status: store.StatusActive}, {RefreshedBefore: scanBase.Add(2 * time.Hour)},
		{Provider: "mollie", Status: store.StatusActive, RefreshedBefore: scanBase.Add(2 * time.Hour)},
		{Provider: "qonto", AccountID: "org_1"},
		{PendingRevocation: true}, {Provider: "mollie", PendingRevocation: true},
	} {
		r := rand.New(rand.NewPCG(uint64(qi), 3))
		var seeded []*store.Connection
		for i := range 60 {
			c := &store.Connection{Provider: scanProviders[i%2], Owner: fmt.Sprintf("q%d-owner-%02d", qi, i/2)}
			randomEdit(r, c)
			require.NoError(t, s.Save(ctx, c))
			seeded = append(seeded, c)
		}
		touched := map[[2]string]bool{}
		seen := map[[2]string]int{}
		q.Limit = 4
		for round := 0; ; round++ {
			require.Less(t, round, 100)
			p, err := s.Scan(ctx, q)
			require.NoError(t, err)
			for _, c := range p.Connections {
				seen[[2]string{c.Provider, c.Owner}]++
				assert.True(t, storekit.Matches(c, q), "%+v returned %v", q, c)
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
			for range 3 {
				c := seeded[r.IntN(len(seeded))]
				touched[[2]string{c.Provider, c.Owner}] = true
				if r.IntN(4) == 0 {
					require.NoError(t, s.Delete(ctx, c.Provider, c.Owner))
					c.Version = 0
				} else {
					randomEdit(r, c)
				}
				require.NoError(t, s.Save(ctx, c))
			}
		}
		for _, c := range seeded {
			k := [2]string{c.Provider, c.Owner}
			if !touched[k] && storekit.Matches(c, q) {
				assert.Equal(t, 1, seen[k], "%+v: untouched %q returned %d times", q, k, seen[k])
			} else if !touched[k] {
				assert.Zero(t, seen[k], "%+v: %q does not match", q, k)
			}
		}
	}
}

func testScanBadCursor(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	for i := range 5 {
		c := &store.Connection{Provider: "mollie", Owner: fmt.Sprint(i), AccountID: "org_1",
			Status: store.StatusActive, RefreshedAt: scanBase.Add(time.Duration(i) * time.Hour)}
		require.NoError(t, s.Save(ctx, c))
	}
	q := store.Query{Provider: "mollie", Status: store.StatusActive, RefreshedBefore: scanBase.Add(3 * time.Hour), Limit: 1}
	p, err := s.Scan(ctx, q)
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)
	bad := func(q store.Query, why string) {
		t.Helper()
		_, err := s.Scan(ctx, q)
		assert.ErrorIs(t, err, store.ErrBadCursor, why)
	}
	for _, c := range []string{"x", "!!!", p.Next[:len(p.Next)-2], p.Next + "A"} {
		bad(store.Query{Cursor: c}, fmt.Sprintf("cursor %q", c))
	}
	other := q
	other.Cursor = p.Next
	other.Provider = "qonto"
	bad(other, "another provider")
	other = q
	other.Cursor, other.Status = p.Next, store.StatusDisconnected
	bad(other, "another status")
	other = q
	other.Cursor, other.RefreshedBefore = p.Next, q.RefreshedBefore.Add(time.Hour)
	bad(other, "another cutoff")
	other = q
	other.Cursor, other.RefreshedBefore = p.Next, time.Time{}
	bad(other, "without the cutoff")
	// Cursors in the shared codec for the query, but no member of it.
	for _, cur := range []storekit.Cursor{
		{RefreshedAt: scanBase.Add(5 * time.Hour).UnixMilli(), Provider: "mollie", Owner: "0"},
		{RefreshedAt: math.MaxInt64, Provider: "mollie", Owner: "0"},
		{RefreshedAt: scanBase.UnixMilli(), Provider: "qonto", Owner: "0"},
	} {
		forged := q
		forged.Cursor = storekit.EncodeCursor(q, cur)
		bad(forged, fmt.Sprintf("a cursor at %+v", cur))
	}
	q.Cursor = p.Next
	p, err = s.Scan(ctx, q)
	require.NoError(t, err, "the cursor still works with its own query")
	assert.Len(t, p.Connections, 1)

	_, err = s.Scan(ctx, store.Query{AccountID: "org_1"})
	assert.Error(t, err, "an account id needs its provider")
	assert.NotErrorIs(t, err, store.ErrBadCursor)
}

// testScanIndexFollowsRecord checks every set after each write: an update
// moves the record's members, and deletes remove them from every set.
func testScanIndexFollowsRecord(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	a := &store.Connection{Provider: "p\x00", Owner: "o\x00{x}", AccountID: "org\x00x", Status: "reauth\x00",
		RefreshedAt: scanBase}
	require.NoError(t, s.Save(ctx, a))
	assertIndexHolds(t, ctx, s, a)
	a.Status, a.AccountID, a.RefreshedAt = store.StatusActive, "org_2", scanBase.Add(-time.Hour)
	require.NoError(t, s.Save(ctx, a))
	assertIndexHolds(t, ctx, s, a)
	a.AccountID, a.RefreshedAt = "", time.Time{}
	require.NoError(t, s.Save(ctx, a))
	assertIndexHolds(t, ctx, s, a)

	b := &store.Connection{Provider: "p", Owner: "o", AccountID: "org_1", Status: store.StatusActive}
	stale := *b
	stale.Status = store.StatusDisconnected
	require.NoError(t, s.Save(ctx, b))
	require.ErrorIs(t, s.Save(ctx, &stale), store.ErrVersionConflict)
	assertIndexHolds(t, ctx, s, a, b)
	require.ErrorIs(t, s.DeleteVersion(ctx, "p", "o", 7), store.ErrVersionConflict)
	assertIndexHolds(t, ctx, s, a, b)
	require.NoError(t, s.DeleteVersion(ctx, "p", "o", 1))
	assertIndexHolds(t, ctx, s, a)
	require.NoError(t, s.Delete(ctx, a.Provider, a.Owner))
	require.NoError(t, s.Delete(ctx, a.Provider, a.Owner), "deleting a missing connection")
	assertIndexHolds(t, ctx, s)
	n, err := s.client.Exists(ctx, append(s.setKeys(), s.metaKey())...).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "no index key is left")
}

// testScanOldRecordSaved: a record written before the index existed joins
// it, with all its members, when it is saved again, without Reindex.
func testScanOldRecordSaved(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	a := &store.Connection{Provider: "qonto", Owner: "o", AccountID: "org_1", Status: store.StatusActive}
	b := &store.Connection{Provider: "qonto", Owner: "p", AccountID: "org_1", Status: store.StatusActive}
	require.NoError(t, s.Save(ctx, a))
	require.NoError(t, s.Save(ctx, b))
	asBeforeTheIndex(t, ctx, s, []*store.Connection{a, b})
	require.Empty(t, s.client.HGet(ctx, s.connKey("qonto", "o"), fEpoch).Val())
	require.NoError(t, s.Save(ctx, a), "the same values: only the record's epoch says it is not indexed")
	assert.NotEmpty(t, s.client.HGet(ctx, s.connKey("qonto", "o"), fEpoch).Val())
	assert.Equal(t, [][2]string{{"qonto", "o"}}, names(scanEverything(t, ctx, s, store.Query{Provider: "qonto", AccountID: "org_1"}, 10)))
	assertIndexHolds(t, ctx, s, a)
}

// testScanPendingSetUpgrade: an index that a version without the pending
// set wrote (the eight other sets, and on a split store meta values of
// that version's format) has no member for the pending connections. A
// save by this version adds the saved connection's, even when its
// indexed values did not change, and Reindex adds everyone's, so that
// PendingRevocation finds them all.
func testScanPendingSetUpgrade(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	retired := []store.RetiredToken{{Token: "rt-old", Kind: "refresh_token", Since: scanBase}}
	conns := []*store.Connection{
		{Provider: "qonto", Owner: "active", Status: store.StatusActive},
		{Provider: "qonto", Owner: "disconnected", Status: store.StatusDisconnected},
		{Provider: "qonto", Owner: "retired", Status: store.StatusActive, Retired: retired},
		{Provider: "mollie", Owner: "retired", Status: store.StatusReauthRequired, Retired: retired},
		{Provider: "mollie", Owner: "disconnected", Status: store.StatusDisconnected, AccountID: "org_1"},
	}
	for _, c := range conns {
		require.NoError(t, s.Save(ctx, c))
	}
	model := map[[2]string]*store.Connection{}
	for _, c := range conns {
		model[[2]string{c.Provider, c.Owner}] = c
	}
	pending := func() [][2]string {
		return names(scanEverything(t, ctx, s, store.Query{PendingRevocation: true}, 2))
	}
	require.Equal(t, names(want(model, store.Query{PendingRevocation: true})), pending())
	require.Len(t, pending(), 4)

	asBeforeThePendingSet(t, ctx, s)
	assert.Empty(t, pending(), "the previous version's index has no pending member")
	assert.Len(t, scanEverything(t, ctx, s, store.Query{}, 10), len(conns), "and every other member")

	// Saved again with the same values: its epoch says it is indexed, and
	// the pending member is written all the same.
	require.NoError(t, s.Save(ctx, conns[1]))
	assert.Equal(t, [][2]string{{"qonto", "disconnected"}}, pending())

	n, err := s.Reindex(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(conns), n)
	assert.Equal(t, names(want(model, store.Query{PendingRevocation: true})), pending())
	assertIndexHolds(t, ctx, s, want(model, store.Query{})...)

	// Out of the set and back, by the retired list and by the status.
	conns[2].Retired = nil
	require.NoError(t, s.Save(ctx, conns[2]))
	conns[0].Status = store.StatusDisconnected
	require.NoError(t, s.Save(ctx, conns[0]))
	assert.Equal(t, names(want(model, store.Query{PendingRevocation: true})), pending())
	assertIndexHolds(t, ctx, s, want(model, store.Query{})...)
}

// asBeforeThePendingSet makes s's index look as the version before the
// pending set left it: no pending set and, on a split store, every meta
// value in that version's format (no mark, no pending field).
func asBeforeThePendingSet(t *testing.T, ctx context.Context, s *Store) {
	t.Helper()
	require.NoError(t, s.client.Del(ctx, s.setKey(setPending)).Err())
	if !s.split {
		return
	}
	metas, err := s.client.HGetAll(ctx, s.metaKey()).Result()
	require.NoError(t, err)
	for f, raw := range metas {
		var fields []string
		for raw != "" {
			n, rest, _ := strings.Cut(raw, ":")
			size, err := strconv.Atoi(n)
			require.NoError(t, err)
			fields, raw = append(fields, rest[:size]), rest[size:]
		}
		require.Equal(t, metaMark, fields[0])
		var b strings.Builder
		for i, v := range fields {
			// Drop the mark, the applied state's pending and each
			// intent's.
			if i == 0 || i == 7 || (i >= 8 && (i-8)%6 == 4) {
				continue
			}
			fmt.Fprintf(&b, "%d:%s", len(v), v)
		}
		require.NoError(t, s.client.HSet(ctx, s.metaKey(), f, b.String()).Err())
		mi, ok := parseMeta(b.String())
		require.True(t, ok, "the previous format parses")
		require.Equal(t, "0", mi.deleted)
	}
}
