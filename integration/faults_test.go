package integration_test

// # The store fails between Qonto's answer and the save (issue 5 item 6; security.md H32)
//
// Qonto is Ory Hydra: every refresh returns a new pair and retires the
// refresh token presented; presenting a retired token after the grace
// window (60 s at Qonto, 0 in Hydra's default configuration and in most
// tests here) revokes the whole grant. So the only copy of a live
// connection is, for a moment, the answer in one process's memory. What
// happens, step by step, as these tests observe it:
//
//  1. An instance's Fresh finds the stored access token due, leads the
//     process's singleflight for the connection, takes the store's lock
//     (PostgreSQL: a lease row on the server's clock; Redis: SET NX PX;
//     either way a lease of Config.LockTTL that the holder renews while
//     it works), re-reads the row and sends grant_type=refresh_token.
//  2. Qonto rotates. The test then kills every server connection of that
//     instance (pg_terminate_backend by application_name, CLIENT KILL by
//     client name) from the fake's BeforeTokenResponse hook, or cuts the
//     instance's proxy: the old refresh token is already spent, and the
//     new pair is not written anywhere yet.
//  3. The instance reads the answer and saves the new pair with
//     compare-and-swap on the version it refreshed, under a context the
//     caller cannot cancel, with backoff (50 ms doubling to 1 s) while
//     the instance's lease holds, for at most the longer of
//     ExchangeTimeout and LockTTL. After a kill the database is still up, and the save
//     lands: on PostgreSQL the first attempt usually goes out on the killed
//     pooled connection and fails with SQLSTATE 57P01, database/sql
//     discards it and the next attempt commits on a new connection; on
//     Redis go-redis resends on a new connection by itself and the first
//     attempt succeeds. Either way: one refresh, no reuse, the new pair
//     stored (TestFaultKillBetweenAnswerAndSave).
//  4. If every attempt fails (the store is down: the proxy refuses
//     connections), Fresh returns ErrStore, the library logs "kept in
//     memory for the next attempt" and emits EventRefreshFailed, and the
//     Connector keeps the new pair in memory, tied to the refresh token it
//     replaced. The stored row is untouched: old pair, active, never
//     deleted.
//  5. While the store stays down, every Fresh fails at its first Load,
//     before any provider call: the retired refresh token is never sent
//     again.
//  6. When the store is back, the next Fresh on that instance finds the
//     stored refresh token equal to the one its kept pair replaced and
//     saves the kept pair without calling Qonto, however long the outage
//     lasted: the new refresh token has never been used, so the grace
//     window does not apply to it (TestFaultStoreDownPastGrace). On Redis,
//     a lock whose release failed during the outage holds until its lease
//     ends (Config.LockTTL), which can delay this save by as much.
//  7. The kept pair lives in one process. An instance that never saw it
//     (the same process restarted, or another instance answering first
//     after the outage) can only send the stored, retired refresh token:
//     inside the grace window Qonto accepts it and the connection lives on
//     with a third pair (the kept one is dropped as soon as its holder sees
//     the store moved on); outside it Hydra revokes the grant and the
//     connection is marked reauth_required: never deleted, every instance
//     then answers ErrReauthRequired (TestFaultPeerWithoutTheKeptPair).
//
// Two faults this package found in this path are fixed and kept as tests:
// the PostgreSQL lock is a lease that outlives a killed session, so a
// waiting instance never takes it before the new pair is saved
// (TestFaultKillWhilePeerWaitsForLock); and after an outage longer than
// the access token's lifetime Fresh saves the kept pair, then refreshes
// with its unused refresh token (TestFaultStoreDownLongerThanTokenLifetime).

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

// onFirstRefresh runs f inside the fake's token endpoint for the first
// refresh_token grant only: after Qonto rotated (the old refresh token is
// spent) and before the answer is written.
func (c *cluster) onFirstRefresh(f func()) {
	var once sync.Once
	c.onToken(func(_ *http.Request, grant string) {
		if grant == "refresh_token" {
			once.Do(f)
		}
	})
}

// rotatedPair is the token pair the fake issued last, as the app's HTTP
// client read it.
func (c *cluster) rotatedPair() tokenPair {
	c.t.Helper()
	pairs := c.seen.all()
	require.NotEmpty(c.t, pairs)
	return pairs[len(pairs)-1]
}

// killInstance terminates every server connection of inst, waits until the
// server has none left and returns how many it killed.
func killInstance(t *testing.T, be *backend, inst *instance) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := be.kill(ctx, inst.name)
	assert.NoError(t, err)
	assert.Eventually(t, func() bool {
		left, err := be.connections(ctx, inst.name)
		return err == nil && left == 0
	}, 10*time.Second, 5*time.Millisecond, "the killed connections are gone")
	return n
}

// recovered calls Fresh until it succeeds or fails with something other
// than a store error (a restored store may first fail on connections its
// pool still holds from before the outage).
func recovered(t *testing.T, inst *instance) (*oauthlink.Connection, error) {
	t.Helper()
	var conn *oauthlink.Connection
	var err error
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err = inst.link.Connection(ctx, owner)
		return !errors.Is(err, oauthlink.ErrStore) && !isStoreErr(err)
	}, 25*time.Second, 10*time.Millisecond, "Fresh once the store is back")
	return conn, err
}

// isStoreErr reports whether err came from a store call that Fresh returns
// unwrapped (its first Load).
func isStoreErr(err error) bool {
	return err != nil && (strings.HasPrefix(err.Error(), "sqlstore: ") || strings.HasPrefix(err.Error(), "redisstore: "))
}

// Steps 1–3: the instance's connections are killed between Qonto's answer
// and the save, at grace 0. The save retries on a new connection: one
// refresh, no reuse, the old token presented once, the new pair stored
// and live, and another instance (not killed) ends on it without a
// refresh.
func TestFaultKillBetweenAnswerAndSave(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		c := newCluster(t, be, clusterOptions{qonto: oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: tokenLifetime}})
		a := c.instance(instanceName("a"), "")
		peer := c.instance(instanceName("peer"), "")
		old := c.connect(a)
		c.clk.Advance(tokenLifetime)
		var killed atomic.Int64
		c.onFirstRefresh(func() { killed.Store(int64(killInstance(t, be, a))) })

		conn, err := fresh(a)
		saves := a.store.Saves()[1:] // the connect's save first
		t.Logf("killed %d connections of the refresher; save attempts %v; Fresh: %v", killed.Load(), saves, err)
		require.Positive(t, killed.Load())
		require.NoError(t, err, "the save was retried on a new connection")
		require.NotEmpty(t, saves)
		assert.LessOrEqual(t, len(saves), 3, "bounded attempts")
		assert.NoError(t, saves[len(saves)-1])

		pair := c.rotatedPair()
		assert.Equal(t, pair.Access, conn.AccessToken.Reveal())
		st, err := c.stored(peer)
		require.NoError(t, err)
		assert.Equal(t, pair.Refresh, st.RefreshToken.Reveal(), "the rotated pair is stored")
		assert.Equal(t, old.Version+1, st.Version)
		assert.Equal(t, store.StatusActive, st.Status)
		assert.True(t, c.qonto.RefreshTokenValid(pair.Refresh))
		assert.True(t, c.qonto.AccessTokenValid(pair.Access))
		assert.False(t, c.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))

		pc, err := fresh(peer)
		require.NoError(t, err)
		assert.Equal(t, pair.Access, pc.AccessToken.Reveal(), "the peer ends on the same token")
		assert.Equal(t, 1, c.qonto.Refreshes())
		assert.Zero(t, c.qonto.ReuseDetections())
		assert.Equal(t, 1, c.qonto.Presented(old.RefreshToken.Reveal()))
		t.Logf("refreshes=%d reuse=%d presented(old)=%d", c.qonto.Refreshes(), c.qonto.ReuseDetections(),
			c.qonto.Presented(old.RefreshToken.Reveal()))
	})
}

// downPastGrace connects through a proxy, refreshes with Qonto's 60 s
// grace, takes the store down between Qonto's answer and the save, checks
// steps 4 and 5, moves the clock by outage and restores the store. It
// returns the cluster, the refresher, the connection before the refresh
// and the pair Qonto issued.
func downPastGrace(t *testing.T, be *backend, outage time.Duration) (*cluster, *instance, *oauthlink.Connection, tokenPair) {
	t.Helper()
	c := newCluster(t, be, clusterOptions{
		qonto: oauthlinktest.QontoOptions{AccessTokenLifetime: tokenLifetime}, // Qonto's 60 s grace
		// Short, so the three save attempts and a lock lease that could
		// not be released during the outage end quickly.
		cfg: func(cfg *oauthlink.Config) {
			cfg.Tokens.ExchangeTimeout = 1500 * time.Millisecond
			cfg.Tokens.LockTTL = 2 * time.Second
		},
	})
	px := newProxy(t, be.addr)
	a := c.instance(instanceName("a"), px.Addr())
	old := c.connect(a)
	c.clk.Advance(tokenLifetime)
	c.onFirstRefresh(func() { px.Down() })

	_, err := fresh(a)
	saves := a.store.Saves()[1:]
	t.Logf("Fresh: %v; save attempts: %v", err, saves)
	require.ErrorIs(t, err, oauthlink.ErrStore, "step 4: the save failed")
	assert.NotEmpty(t, saves)
	// Bounded: backoff from 50 ms, doubling to 1 s, over the longer of
	// ExchangeTimeout and LockTTL (2 s): attempts at about 0, 0.05, 0.15,
	// 0.35, 0.75 and 1.55 s, and a last one when the window ends.
	assert.LessOrEqual(t, len(saves), 7, "step 4: bounded attempts")
	pair := c.rotatedPair()
	raw, err := be.inspect.Load(testContext(t), provider, owner)
	require.NoError(t, err, "step 4: never deleted")
	assert.Equal(t, old.RefreshToken, raw.RefreshToken, "step 4: the row still holds the old pair")
	assert.Equal(t, store.StatusActive, raw.Status)

	for range 2 {
		_, err := fresh(a)
		require.Error(t, err, "step 5: the store is down")
	}
	require.Equal(t, 1, c.qonto.Refreshes(), "step 5: no provider call while the store is down")

	c.clk.Advance(outage)
	require.False(t, c.qonto.RefreshTokenValid(old.RefreshToken.Reveal()), "past the grace window")
	require.True(t, c.qonto.RefreshTokenValid(pair.Refresh), "the kept refresh token is unused, so still good")
	px.Up()
	return c, a, old, pair
}

// Steps 4–6: the store stays down past Qonto's 60 s grace window. The
// instance keeps the new pair in memory and saves it when the store is
// back, with no second refresh and no replay of the retired token.
func TestFaultStoreDownPastGrace(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		c, a, old, pair := downPastGrace(t, be, 2*time.Minute)
		began := time.Now()
		conn, err := recovered(t, a)
		require.NoError(t, err)
		t.Logf("kept pair saved %v after the store came back; save attempts %v", time.Since(began).Round(time.Millisecond), a.store.Saves()[1:])

		assert.Equal(t, pair.Access, conn.AccessToken.Reveal(), "step 6: the kept pair")
		assert.True(t, c.qonto.AccessTokenValid(conn.AccessToken.Reveal()))
		raw, err := be.inspect.Load(testContext(t), provider, owner)
		require.NoError(t, err)
		assert.Equal(t, pair.Refresh, raw.RefreshToken.Reveal(), "step 6: stored")
		assert.Equal(t, old.Version+1, raw.Version)
		assert.Equal(t, store.StatusActive, raw.Status)
		assert.Equal(t, 1, c.qonto.Refreshes(), "no second refresh")
		assert.Equal(t, 1, c.qonto.Presented(old.RefreshToken.Reveal()), "the retired token was never replayed")
		assert.Zero(t, c.qonto.ReuseDetections())
		t.Logf("refreshes=%d reuse=%d presented(old)=%d", c.qonto.Refreshes(), c.qonto.ReuseDetections(),
			c.qonto.Presented(old.RefreshToken.Reveal()))
	})
}

// When the outage outlasts the access token's lifetime, the first Fresh
// after it saves the kept pair and, since that pair's access token has
// expired too, refreshes with its unused refresh token before returning.
func TestFaultStoreDownLongerThanTokenLifetime(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		c, a, old, _ := downPastGrace(t, be, tokenLifetime+time.Minute)
		conn, err := recovered(t, a)
		require.NoError(t, err)
		assert.True(t, conn.Expiry.After(c.clk.Now()), "Fresh returned a token that expired at %v (now %v)", conn.Expiry, c.clk.Now())
		assert.True(t, c.qonto.AccessTokenValid(conn.AccessToken.Reveal()), "Fresh returned a dead access token")
		assert.Equal(t, 1, c.qonto.Presented(old.RefreshToken.Reveal()))
		assert.Zero(t, c.qonto.ReuseDetections())
	})
}

// Step 7: an instance that never saw the kept pair (a restarted process, or
// another instance answering first after the outage) refreshes with the
// stored, retired token. Inside the grace window Qonto accepts it and the
// connection lives on; outside it Hydra revokes the grant and the
// connection ends reauth_required, never deleted. The instance that kept
// the pair never presents the retired token again.
func TestFaultPeerWithoutTheKeptPair(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration // since the rotation, when the peer refreshes
	}{
		{"inside grace", 30 * time.Second},
		{"outside grace", 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
				be := newBackend(t)
				c := newCluster(t, be, clusterOptions{
					qonto: oauthlinktest.QontoOptions{AccessTokenLifetime: tokenLifetime}, // 60 s grace
					// The keeper's lease, unreleased during the outage,
					// must end within the peer's wait for the lock
					// (2 × ExchangeTimeout).
					cfg: func(cfg *oauthlink.Config) {
						cfg.Tokens.ExchangeTimeout = 1500 * time.Millisecond
						cfg.Tokens.LockTTL = 2 * time.Second
					},
				})
				px := newProxy(t, be.addr)
				a := c.instance(instanceName("a"), px.Addr())
				peer := c.instance(instanceName("peer"), "") // a restarted a, or any other instance
				old := c.connect(a)
				c.clk.Advance(tokenLifetime)
				c.onFirstRefresh(func() { px.Down() })
				_, err := fresh(a)
				require.ErrorIs(t, err, oauthlink.ErrStore)
				kept := c.rotatedPair()
				c.clk.Advance(tc.after)
				px.Up()

				pc, perr := fresh(peer)
				ac, aerr := recovered(t, a)
				t.Logf("peer: %v; keeper: %v", perr, aerr)
				raw, err := be.inspect.Load(testContext(t), provider, owner)
				require.NoError(t, err, "never deleted")
				assert.Equal(t, 2, c.qonto.Presented(old.RefreshToken.Reveal()), "once by the refresher, once by the peer; the keeper never again")
				assert.Equal(t, 2, c.qonto.Refreshes())
				if tc.after < c.qonto.Grace() {
					require.NoError(t, perr)
					require.NoError(t, aerr)
					assert.Zero(t, c.qonto.ReuseDetections())
					assert.Equal(t, store.StatusActive, raw.Status)
					assert.NotEqual(t, kept.Refresh, raw.RefreshToken.Reveal(), "the peer's pair, the kept one dropped")
					assert.Equal(t, raw.AccessToken, pc.AccessToken)
					assert.Equal(t, raw.AccessToken, ac.AccessToken, "the keeper ends on the stored token")
					assert.True(t, c.qonto.AccessTokenValid(raw.AccessToken.Reveal()))
					assert.True(t, c.qonto.RefreshTokenValid(raw.RefreshToken.Reveal()))
				} else {
					assert.ErrorIs(t, perr, oauthlink.ErrReauthRequired)
					assert.ErrorIs(t, aerr, oauthlink.ErrReauthRequired)
					assert.Equal(t, 1, c.qonto.ReuseDetections(), "Hydra revoked the grant")
					assert.Equal(t, store.StatusReauthRequired, raw.Status)
					assert.False(t, c.qonto.RefreshTokenValid(kept.Refresh), "the kept pair died with the grant")
				}
				t.Logf("status=%s refreshes=%d reuse=%d presented(old)=%d", raw.Status, c.qonto.Refreshes(),
					c.qonto.ReuseDetections(), c.qonto.Presented(old.RefreshToken.Reveal()))
			})
		})
	}
}

// Many instances and a kill at grace 0: instance b waits for the lock while
// a refreshes; a's connections are killed between Qonto's answer and a's
// save. b must not refresh with the token a just spent: it must wait for
// a's save and use a's pair. Both stores' locks survive the kill (a Redis
// key; a PostgreSQL lease row). Before the lease, PostgreSQL's lock was a
// session advisory lock that the server released when a's session died,
// so b replayed the spent token and Hydra revoked the grant.
func TestFaultKillWhilePeerWaitsForLock(t *testing.T) {
	forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
		be := newBackend(t)
		c := newCluster(t, be, clusterOptions{qonto: oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: tokenLifetime}})
		a := c.instance(instanceName("a"), "")
		b := c.instance(instanceName("b"), "")
		old := c.connect(a)
		c.clk.Advance(tokenLifetime)
		bDone := make(chan error, 1)
		c.onFirstRefresh(func() {
			go func() {
				_, err := fresh(b)
				bDone <- err
			}()
			// b has read the row (due) and asks for the lock a holds.
			assert.Eventually(t, func() bool { return b.store.Locks() > 0 }, 10*time.Second, time.Millisecond)
			killInstance(t, be, a)
		})
		ac, aerr := fresh(a)
		var berr error
		select {
		case berr = <-bDone:
		case <-time.After(30 * time.Second):
			t.Fatal("b's Fresh did not return")
		}
		raw, err := be.inspect.Load(testContext(t), provider, owner)
		require.NoError(t, err, "never deleted")
		t.Logf("a: %v; b: %v; status=%s refreshes=%d reuse=%d presented(old)=%d", aerr, berr, raw.Status,
			c.qonto.Refreshes(), c.qonto.ReuseDetections(), c.qonto.Presented(old.RefreshToken.Reveal()))
		assert.Zero(t, c.qonto.ReuseDetections())
		assert.Equal(t, 1, c.qonto.Presented(old.RefreshToken.Reveal()), "the retired token is never replayed")
		assert.Equal(t, 1, c.qonto.Refreshes())
		require.NoError(t, aerr)
		require.NoError(t, berr)
		bc, err := fresh(b)
		require.NoError(t, err)
		assert.Equal(t, ac.AccessToken, bc.AccessToken, "both instances on a's pair")
		assert.Equal(t, raw.RefreshToken.Reveal(), c.rotatedPair().Refresh)
		assert.Equal(t, store.StatusActive, raw.Status)
		assert.True(t, c.qonto.AccessTokenValid(ac.AccessToken.Reveal()))
	})
}
