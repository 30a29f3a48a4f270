package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

// testScanner checks store.Scanner: paging, every filter, the upkeep
// order, cursors that survive changes, and bad cursors.
func (s suite) testScanner(t *testing.T) {
	capability[store.Scanner](t, s.store(t))
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"Empty", s.testScanEmpty}, {"AllPages", s.testScanAllPages}, {"Filters", s.testScanFilters},
		{"AccountIDNeedsProvider", s.testScanAccountNeedsProvider}, {"Upkeep", s.testScanUpkeep},
		{"DefaultLimit", s.testScanDefaultLimit}, {"StableUnderChanges", s.testScanStable},
		{"BadCursor", s.testScanBadCursor}, {"ReturnsCopies", s.testScanCopies},
	} {
		t.Run(c.name, c.test)
	}
}

// scanSeed is a fleet of 24 connections: 3 providers × 8 owners (among
// them odd ones), statuses and account ids that vary, RefreshedAt spread
// over a day (some zero).
func scanSeed(t *testing.T, st store.TokenStore) []*store.Connection {
	t.Helper()
	ctx := testContext(t)
	base := time.Now().UTC().Add(-24 * time.Hour).Truncate(Precision)
	owners := []string{"shop-1", "shop-2", "a:b", "a", "Zed", "ünï", "x/y", ""}
	var all []*store.Connection
	for pi, p := range []string{"mollie", "qonto", "b:c"} {
		for oi, o := range owners {
			c := NewConnection(p, o)
			c.AccountID = fmt.Sprintf("org_%d", oi%3)
			c.Status = []store.Status{store.StatusActive, store.StatusReauthRequired, store.StatusDisconnected}[(pi+oi)%3]
			c.RefreshedAt = base.Add(time.Duration(oi*3+pi) * time.Hour)
			if oi == 5 {
				c.RefreshedAt = time.Time{}
			}
			require.NoError(t, st.Save(ctx, c))
			all = append(all, c)
		}
	}
	return all
}

// scanAll pages through q with page size limit and returns everything.
func scanAll(t *testing.T, sc store.Scanner, q store.Query, limit int) []*store.Connection {
	t.Helper()
	q.Limit = limit
	var out []*store.Connection
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "storetest: Scan never ended")
		p, err := sc.Scan(testContext(t), q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Connections), q.PageLimit(), "a page larger than the limit")
		out = append(out, p.Connections...)
		if p.Next == "" {
			return out
		}
		require.NotEmpty(t, p.Connections, "an empty page that says there is more")
		q.Cursor = p.Next
	}
}

func byProviderOwner(a, b *store.Connection) int {
	return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Owner, b.Owner))
}

func byRefreshed(a, b *store.Connection) int {
	return cmp.Or(a.RefreshedAt.Compare(b.RefreshedAt), byProviderOwner(a, b))
}

// assertScanned checks that got holds exactly want, in want's order, each
// record equal to the stored one.
func assertScanned(t *testing.T, want, got []*store.Connection) {
	t.Helper()
	key := func(c *store.Connection) string { return c.Provider + "\x00" + c.Owner }
	wk, gk := make([]string, len(want)), make([]string, len(got))
	for i, c := range want {
		wk[i] = key(c)
	}
	for i, c := range got {
		gk[i] = key(c)
	}
	if !assert.Equal(t, wk, gk, "the connections and their order") {
		return
	}
	for i := range want {
		AssertConnectionEqual(t, want[i], got[i], "connection %q", gk[i])
	}
}

func (s suite) testScanEmpty(t *testing.T) {
	sc := capability[store.Scanner](t, s.store(t))
	p, err := sc.Scan(testContext(t), store.Query{})
	require.NoError(t, err)
	assert.Empty(t, p.Connections)
	assert.Empty(t, p.Next)
}

func (s suite) testScanAllPages(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	want := slices.SortedFunc(slices.Values(scanSeed(t, st)), byProviderOwner)
	for _, limit := range []int{1, 7, 24, 1000} {
		assertScanned(t, want, scanAll(t, sc, store.Query{}, limit))
	}
}

func (s suite) testScanFilters(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	all := slices.SortedFunc(slices.Values(scanSeed(t, st)), byProviderOwner)
	for _, q := range []store.Query{
		{Provider: "qonto"},
		{Provider: "b:c"},
		{Status: store.StatusReauthRequired},
		{Provider: "mollie", Status: store.StatusActive},
		{Provider: "qonto", AccountID: "org_1"},
		{Provider: "qonto", AccountID: "org_1", Status: store.StatusDisconnected},
		{Provider: "nobody"},
	} {
		want := slices.DeleteFunc(slices.Clone(all), func(c *store.Connection) bool {
			return (q.Provider != "" && c.Provider != q.Provider) || (q.Status != "" && c.Status != q.Status) ||
				(q.AccountID != "" && c.AccountID != q.AccountID)
		})
		t.Run(fmt.Sprintf("provider=%s,status=%s,account=%s", q.Provider, q.Status, q.AccountID), func(t *testing.T) {
			assertScanned(t, want, scanAll(t, sc, q, 3))
		})
	}
}

func (s suite) testScanAccountNeedsProvider(t *testing.T) {
	sc := capability[store.Scanner](t, s.store(t))
	_, err := sc.Scan(testContext(t), store.Query{AccountID: "org_1"})
	assert.Error(t, err, "an account id names an account at one provider")
}

// The upkeep query: RefreshedBefore keeps the connections refreshed before
// the cutoff, never-recorded (zero) ones included, oldest first.
func (s suite) testScanUpkeep(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	all := scanSeed(t, st)
	cutoff := all[0].RefreshedAt.Add(10 * time.Hour)
	due := func(provider string) []*store.Connection {
		out := slices.DeleteFunc(slices.Clone(all), func(c *store.Connection) bool {
			return !c.RefreshedAt.Before(cutoff) || (provider != "" && c.Provider != provider)
		})
		slices.SortFunc(out, byRefreshed)
		return out
	}
	require.NotEmpty(t, due(""))
	require.Less(t, len(due("")), len(all))
	assertScanned(t, due(""), scanAll(t, sc, store.Query{RefreshedBefore: cutoff}, 4))
	assertScanned(t, due("qonto"), scanAll(t, sc, store.Query{Provider: "qonto", RefreshedBefore: cutoff}, 2))
}

func (s suite) testScanDefaultLimit(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	ctx := testContext(t)
	for i := range 101 {
		require.NoError(t, st.Save(ctx, NewConnection("mollie", fmt.Sprintf("owner-%03d", i))))
	}
	p, err := sc.Scan(ctx, store.Query{})
	require.NoError(t, err)
	assert.Len(t, p.Connections, 100, "Limit 0 means 100")
	assert.NotEmpty(t, p.Next)
	p, err = sc.Scan(ctx, store.Query{Cursor: p.Next})
	require.NoError(t, err)
	assert.Len(t, p.Connections, 1)
	assert.Empty(t, p.Next)
}

// A record present and unchanged during the whole scan is returned exactly
// once, however others are created, updated or deleted between pages.
func (s suite) testScanStable(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	ctx := testContext(t)
	seeded := slices.SortedFunc(slices.Values(scanSeed(t, st)), byProviderOwner)
	touched := map[string]bool{}
	q := store.Query{Limit: 5}
	var got []*store.Connection
	for round := 0; ; round++ {
		p, err := sc.Scan(ctx, q)
		require.NoError(t, err)
		got = append(got, p.Connections...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
		// Between pages: create one before and one after the cursor,
		// update a record already returned, delete one not yet returned.
		for _, o := range []string{fmt.Sprintf("aaa-%d", round), fmt.Sprintf("zzz-%d", round)} {
			require.NoError(t, st.Save(ctx, NewConnection("mollie", o)))
			touched["mollie\x00"+o] = true
		}
		done := p.Connections[0]
		upd, err := st.Load(ctx, done.Provider, done.Owner)
		require.NoError(t, err)
		upd.AccountID = "changed"
		require.NoError(t, st.Save(ctx, upd))
		touched[done.Provider+"\x00"+done.Owner] = true
		if victim := seeded[len(seeded)-1-round]; !touched[victim.Provider+"\x00"+victim.Owner] {
			require.NoError(t, st.Delete(ctx, victim.Provider, victim.Owner))
			touched[victim.Provider+"\x00"+victim.Owner] = true
		}
	}
	seen := map[string]int{}
	for _, c := range got {
		seen[c.Provider+"\x00"+c.Owner]++
	}
	for _, c := range seeded {
		k := c.Provider + "\x00" + c.Owner
		if touched[k] {
			assert.LessOrEqual(t, seen[k], 1, "%q returned twice", k)
			continue
		}
		assert.Equal(t, 1, seen[k], "%q, untouched during the scan, returned %d times", k, seen[k])
	}
}

func (s suite) testScanBadCursor(t *testing.T) {
	sc := capability[store.Scanner](t, s.store(t))
	for _, cursor := range []string{"not a cursor", "\x00\xff", "eyJ4IjoxfQ"} {
		_, err := sc.Scan(testContext(t), store.Query{Cursor: cursor})
		assert.True(t, errors.Is(err, store.ErrBadCursor), "cursor %q: %v, want ErrBadCursor", cursor, err)
	}
}

func (s suite) testScanCopies(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	ctx := testContext(t)
	c := NewConnection("mollie", "owner-1")
	require.NoError(t, st.Save(ctx, c))
	p, err := sc.Scan(ctx, store.Query{})
	require.NoError(t, err)
	require.Len(t, p.Connections, 1)
	p.Connections[0].AccessToken = "changed"
	p.Connections[0].Scopes[0] = "changed"
	again, err := st.Load(ctx, "mollie", "owner-1")
	require.NoError(t, err)
	AssertConnectionEqual(t, c, again, "a scanned connection aliased the store's copy")
}

// scanWithDone scans a store that holds a record with done.
func scanWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	sc := capability[store.Scanner](t, st)
	create(t, st, NewConnection("mollie", "owner-1"))
	_, err := sc.Scan(done, store.Query{})
	return err
}
