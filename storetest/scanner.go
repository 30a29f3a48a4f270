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
		{"Pending", s.testScanPending}, {"PendingMoves", s.testScanPendingMoves},
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

// pendingSeed is scanSeed with retired grants on some connections that
// are not disconnected, so that both halves of
// Connection.PendingRevocation select some.
func pendingSeed(t *testing.T, st store.TokenStore) []*store.Connection {
	t.Helper()
	ctx := testContext(t)
	all := scanSeed(t, st)
	for i, c := range all {
		if i%4 == 1 && c.Status != store.StatusDisconnected {
			c.Retired = retiredGrants(1 + i%2)
			require.NoError(t, st.Save(ctx, c))
		}
	}
	return all
}

// PendingRevocation keeps the disconnected connections and those with
// retired grants, alone and with every other filter, in the query's
// order, across pages of any size.
func (s suite) testScanPending(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	all := pendingSeed(t, st)
	cutoff := all[0].RefreshedAt.Add(10 * time.Hour)
	var retired, disconnected int
	for _, c := range all {
		if len(c.Retired) > 0 {
			retired++
		}
		if c.Status == store.StatusDisconnected {
			disconnected++
		}
	}
	require.Positive(t, retired)
	require.Positive(t, disconnected)
	for _, q := range []store.Query{
		{PendingRevocation: true},
		{Provider: "qonto", PendingRevocation: true},
		{Provider: "b:c", PendingRevocation: true},
		{Provider: "nobody", PendingRevocation: true},
		{Status: store.StatusActive, PendingRevocation: true},
		{Status: store.StatusDisconnected, PendingRevocation: true},
		{Provider: "mollie", Status: store.StatusReauthRequired, PendingRevocation: true},
		{Provider: "qonto", AccountID: "org_1", PendingRevocation: true},
		{RefreshedBefore: cutoff, PendingRevocation: true},
		{Provider: "qonto", RefreshedBefore: cutoff, PendingRevocation: true},
	} {
		want := slices.DeleteFunc(slices.Clone(all), func(c *store.Connection) bool {
			return !c.PendingRevocation() || (q.Provider != "" && c.Provider != q.Provider) ||
				(q.Status != "" && c.Status != q.Status) || (q.AccountID != "" && c.AccountID != q.AccountID) ||
				(!q.RefreshedBefore.IsZero() && !c.RefreshedAt.IsZero() && !c.RefreshedAt.Before(q.RefreshedBefore))
		})
		if q.RefreshedBefore.IsZero() {
			slices.SortFunc(want, byProviderOwner)
		} else {
			slices.SortFunc(want, byRefreshed)
		}
		t.Run(fmt.Sprintf("provider=%s,status=%s,account=%s,upkeep=%v", q.Provider, q.Status, q.AccountID,
			!q.RefreshedBefore.IsZero()), func(t *testing.T) {
			for _, limit := range []int{1, 3, 1000} {
				assertScanned(t, want, scanAll(t, sc, q, limit))
			}
		})
	}
	// A cursor of the pending query is bound to it.
	p, err := sc.Scan(testContext(t), store.Query{PendingRevocation: true, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)
	_, err = sc.Scan(testContext(t), store.Query{Cursor: p.Next, Limit: 1})
	assert.ErrorIs(t, err, store.ErrBadCursor, "a pending query's cursor used without the filter")
}

// Connections move into and out of the pending set while a pending scan
// of one provider pages: a connection pending and unchanged during the
// whole scan is returned exactly once, every connection returned is
// pending when read and of the provider, and one that left the set
// before the scan reached it is not returned.
func (s suite) testScanPendingMoves(t *testing.T) {
	st := s.store(t)
	sc := capability[store.Scanner](t, st)
	ctx := testContext(t)
	key := func(c *store.Connection) string { return c.Provider + "\x00" + c.Owner }
	var seeded []*store.Connection
	for _, p := range []string{"mollie", "qonto"} {
		for i := range 30 {
			c := NewConnection(p, fmt.Sprintf("owner-%02d", i))
			switch i % 3 {
			case 0:
				c.Status = store.StatusDisconnected
			case 1:
				c.Retired = retiredGrants(1)
			}
			require.NoError(t, st.Save(ctx, c))
			seeded = append(seeded, c)
		}
	}
	touched := map[string]bool{}
	left := map[string]bool{} // left the set before the scan reached it
	seen := map[string]int{}
	var last string // the owner of the last connection returned
	q := store.Query{Provider: "qonto", PendingRevocation: true, Limit: 3}
	for round := 0; ; round++ {
		require.Less(t, round, 100, "the scan never ended")
		p, err := sc.Scan(ctx, q)
		require.NoError(t, err)
		for _, c := range p.Connections {
			seen[key(c)]++
			assert.Equal(t, "qonto", c.Provider)
			assert.True(t, c.PendingRevocation(), "%s returned, not pending", key(c))
			last = c.Owner
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
		// Between pages, of both providers: one ahead of the scan
		// leaves the set (its grants revoked, or its disconnect
		// completed as a new connection), one ahead enters it, one
		// already returned leaves it, one behind enters it.
		for _, provider := range []string{"mollie", "qonto"} {
			var ahead, behind []*store.Connection
			for _, c := range seeded {
				if c.Provider != provider || touched[key(c)] {
					continue
				}
				if c.Owner > last {
					ahead = append(ahead, c)
				} else {
					behind = append(behind, c)
				}
			}
			move := func(from []*store.Connection, wantPending bool) *store.Connection {
				for _, c := range from {
					if touched[key(c)] || c.PendingRevocation() != wantPending {
						continue
					}
					if wantPending {
						c.Status, c.Retired = store.StatusActive, nil
					} else if round%2 == 0 {
						c.Status = store.StatusDisconnected
					} else {
						c.Retired = retiredGrants(1)
					}
					require.NoError(t, st.Save(ctx, c))
					touched[key(c)] = true
					return c
				}
				return nil
			}
			if c := move(ahead, true); c != nil {
				left[key(c)] = true
			}
			move(ahead, false)
			move(behind, true)
			move(behind, false)
		}
	}
	var untouched int
	for _, c := range seeded {
		k := key(c)
		switch {
		case c.Provider != "qonto":
			assert.Zero(t, seen[k], "%q is of another provider", k)
		case left[k]:
			assert.Zero(t, seen[k], "%q left the set before the scan reached it", k)
		case touched[k]:
			assert.LessOrEqual(t, seen[k], 1, "%q returned twice", k)
		case c.PendingRevocation():
			untouched++
			assert.Equal(t, 1, seen[k], "%q, pending and untouched during the scan, returned %d times", k, seen[k])
		default:
			assert.Zero(t, seen[k], "%q, never pending, returned", k)
		}
	}
	assert.Positive(t, untouched)
	assert.NotEmpty(t, left)
}
