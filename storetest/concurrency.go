package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// testConcurrentWriters has writers load, modify and save one record in a
// compare-and-swap retry loop. Each writer adds its own scope, so a lost
// update shows as a missing scope.
//
// The retry bound is exact rather than hopeful: an attempt by writer i can
// only conflict when another writer's save succeeded between i's Load and
// i's Save, and each of the other writers succeeds once, so a correct store
// lets every writer through within `writers` attempts.
func (s suite) testConcurrentWriters(t *testing.T) {
	const writers = 16
	st := s.store(t)
	ctx := testContext(t)
	base := NewConnection("qonto", "owner-1")
	base.Scopes = nil
	create(t, st, base)

	type result struct {
		version  int64
		attempts int
		err      error
	}
	results := make([]result, writers)
	// Every writer's first attempt saves from the same read, so that the
	// writes are sure to overlap; later attempts run freely.
	var firstReads sync.WaitGroup
	firstReads.Add(writers)
	g := newGroup(t)
	for i := range writers {
		g.Go(func() {
			scope := fmt.Sprintf("writer-%02d", i)
			for attempt := 1; attempt <= writers; attempt++ {
				c, err := st.Load(ctx, "qonto", "owner-1")
				if attempt == 1 {
					firstReads.Done()
					firstReads.Wait()
				}
				if err != nil {
					results[i] = result{attempts: attempt, err: fmt.Errorf("load: %w", err)}
					return
				}
				c.Scopes = append(c.Scopes, scope)
				c.AccessToken = store.Secret("access_" + scope)
				err = st.Save(ctx, c)
				if err == nil {
					results[i] = result{version: c.Version, attempts: attempt}
					return
				}
				if !errors.Is(err, store.ErrVersionConflict) {
					results[i] = result{attempts: attempt, err: fmt.Errorf("save: %w", err)}
					return
				}
				runtime.Gosched()
			}
			results[i] = result{attempts: writers, err: fmt.Errorf("still conflicting after %d attempts, "+
				"more than the other writers' successful saves can explain", writers)}
		})
	}
	g.wait("concurrent writers")

	var versions []int64
	for i, r := range results {
		if assert.NoError(t, r.err, "writer %d", i) {
			versions = append(versions, r.version)
		}
	}
	slices.Sort(versions)
	var wantVersions []int64
	for v := int64(2); v <= writers+1; v++ {
		wantVersions = append(wantVersions, v)
	}
	assert.Equal(t, wantVersions, versions, "each successful save must get its own version, old+1")

	final, err := st.Load(ctx, "qonto", "owner-1")
	require.NoError(t, err)
	assert.EqualValues(t, 1+writers, final.Version, "final version must count the create and every successful update")
	var wantScopes []string
	for i := range writers {
		wantScopes = append(wantScopes, fmt.Sprintf("writer-%02d", i))
	}
	assert.ElementsMatch(t, wantScopes, final.Scopes, "an update was lost or applied twice")
}

// testExactlyOneWinner has many savers race with the same version: the
// compare-and-swap must let exactly one through, for creates and updates.
func (s suite) testExactlyOneWinner(t *testing.T) {
	const (
		savers = 16
		rounds = 5
	)
	tests := []struct {
		name  string
		setup func(t *testing.T, st store.TokenStore, owner string) *oauthlink.Connection // nil: create
	}{
		{"Create", func(t *testing.T, st store.TokenStore, owner string) *oauthlink.Connection { return nil }},
		{"Update", func(t *testing.T, st store.TokenStore, owner string) *oauthlink.Connection {
			return create(t, st, NewConnection("mollie", owner))
		}},
		{"UpdateFromVersion2", func(t *testing.T, st store.TokenStore, owner string) *oauthlink.Connection {
			c := create(t, st, NewConnection("mollie", owner))
			require.NoError(t, st.Save(testContext(t), c))
			return c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.store(t)
			ctx := testContext(t)
			for round := range rounds {
				owner := "owner-" + strconv.Itoa(round)
				read := tc.setup(t, st, owner)
				var version int64
				if read != nil {
					version = read.Version
				}
				conns := make([]*oauthlink.Connection, savers)
				for i := range conns {
					c := NewConnection("mollie", owner)
					if read != nil {
						c = read.Clone()
					}
					c.AccessToken = store.Secret(fmt.Sprintf("access_saver_%02d", i))
					conns[i] = c
				}
				untouched := make([]*oauthlink.Connection, savers)
				for i, c := range conns {
					untouched[i] = c.Clone()
				}
				errs := make([]error, savers)
				race(t, "racing savers", times(savers, func(i int) { errs[i] = st.Save(ctx, conns[i]) })...)

				winners := succeeded(t, errs, round, "saver")
				for i, err := range errs {
					if err != nil {
						AssertConnectionEqual(t, untouched[i], conns[i], "round %d: a losing Save changed the caller's connection", round)
					}
				}
				if !assert.Len(t, winners, 1, "round %d: savers that succeeded with version %d", round, version) {
					continue
				}
				w := conns[winners[0]]
				assert.Equal(t, version+1, w.Version)
				assertStored(t, st, w)
			}
		})
	}
}

// testAtomicSave checks that a reader sees the old record or the new one,
// never a mix: every field of a record written by the writer derives from
// one generation number, and so does the version the store assigns.
func (s suite) testAtomicSave(t *testing.T) {
	const (
		generations = 100
		readers     = 4
	)
	st := s.store(t)
	ctx := testContext(t)
	gen := func(c *oauthlink.Connection, k int) {
		n := strconv.Itoa(k)
		c.AccountID = "org_" + n
		c.AccessToken = store.Secret("access_" + n)
		c.RefreshToken = store.Secret("refresh_" + n)
		c.Scopes = []string{"scope_" + n, "offline_access"}
		c.Extra = store.Secret(`{"generation":` + n + `}`)
		c.RedirectURI = "https://app.example.com/callback/" + n
	}
	consistent := func(c *oauthlink.Connection) error {
		k := int(c.Version - 1)
		want := c.Clone()
		gen(want, k)
		var d []string
		if want.AccountID != c.AccountID {
			d = append(d, "AccountID")
		}
		if want.AccessToken != c.AccessToken {
			d = append(d, "AccessToken")
		}
		if want.RefreshToken != c.RefreshToken {
			d = append(d, "RefreshToken")
		}
		if !slices.Equal(want.Scopes, c.Scopes) {
			d = append(d, "Scopes")
		}
		if want.Extra != c.Extra {
			d = append(d, "Extra")
		}
		if want.RedirectURI != c.RedirectURI {
			d = append(d, "RedirectURI")
		}
		if len(d) > 0 {
			return fmt.Errorf("version %d read with fields %v of another write", c.Version, d)
		}
		return nil
	}

	c := NewConnection("mollie", "owner-1")
	gen(c, 0)
	require.NoError(t, st.Save(ctx, c))

	var done atomic.Bool
	g := newGroup(t)
	readErrs := make([]error, readers)
	for r := range readers {
		g.Go(func() {
			for n := 0; !done.Load() || n < 3; n++ {
				var got []*oauthlink.Connection
				if r%2 == 0 {
					c, err := st.Load(ctx, "mollie", "owner-1")
					if err != nil {
						readErrs[r] = err
						return
					}
					got = append(got, c)
				} else {
					list, err := st.List(ctx, "owner-1")
					if err != nil {
						readErrs[r] = err
						return
					}
					got = list
				}
				for _, c := range got {
					if err := consistent(c); err != nil {
						readErrs[r] = err
						return
					}
				}
			}
		})
	}
	var writeErr error
	for k := 1; k < generations; k++ {
		gen(c, k)
		if writeErr = st.Save(ctx, c); writeErr != nil {
			break
		}
	}
	done.Store(true)
	g.wait("readers")
	require.NoError(t, writeErr)
	for r, err := range readErrs {
		assert.NoError(t, err, "reader %d", r)
	}
	assertStored(t, st, c)
}
