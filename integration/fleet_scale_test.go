package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

const (
	// fleetDefaultN is the fleet size without OAUTHLINK_FLEET_N: large
	// enough to make the upkeep query find 200 rows among many, small
	// enough to seed in seconds on a 2-core machine.
	fleetDefaultN = 20_000
	// fleetDue connections are due and hold real grants at the fake.
	fleetDue = 200
	// fleetRate is each instance's KeeperOptions.Rate. 4 × fleetRate is
	// below fleetDue, so a pass that ignored the limit would show in the
	// per-second counts.
	fleetRate = 25
	// fleetSeeders are the concurrent Save calls that seed the rest.
	fleetSeeders = 16
	// fleetPassBound is the generous bound on one pass: each instance
	// paces at most fleetDue sends, 8 s at fleetRate.
	fleetPassBound = 2 * time.Minute
)

// TestKeeperAtFleetScale (issue 15 item 6): N connections of the fake
// Qonto (Hydra rules, grace 0) on one PostgreSQL schema or one Redis
// prefix, of which fleetDue were last refreshed 61 days ago (past 2/3 of
// the 90-day IdleLifetime) and hold real grants obtained through the
// flow, the rest an hour ago. Four instances, each with its own pool or
// client, Connector and Keeper (Rate fleetRate, Concurrency 4), run one
// Pass at once. Between them they must refresh each due connection
// exactly once (no reuse detection at the fake), touch no other record,
// and keep to their rate on the real clock. N is OAUTHLINK_FLEET_N
// (default 20,000; the 100,000 of the issue is OAUTHLINK_FLEET_N=100000).
func TestKeeperAtFleetScale(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet scale: seeds tens of thousands of connections")
	}
	n := testutil.FleetSize(t, fleetDefaultN, fleetDue)
	forBackends(t, func(t *testing.T, newBackend func(t testing.TB) *backend) {
		testFleetScale(t, newBackend(t), n)
	})
}

// fleetRun is one backend's run of TestKeeperAtFleetScale.
type fleetRun struct {
	t  *testing.T
	be *backend
	c  *cluster
	n  int
	// back moves the Connectors' clock into the past while the due
	// connections are connected; 0 afterwards (the real clock).
	back atomic.Int64
	// due are the due connections as connected, by owner.
	due map[string]*store.Connection
	// recentAt is the RefreshedAt of the seeded recent connections.
	recentAt time.Time

	mu        sync.Mutex
	refreshes []time.Time // when the fake answered each refresh
}

func testFleetScale(t *testing.T, be *backend, n int) {
	r := &fleetRun{t: t, be: be, n: n}
	r.c = newCluster(t, be, clusterOptions{
		qonto: oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace},
		cfg: func(cfg *oauthlink.Config) {
			cfg.Now = func() time.Time { return time.Now().Add(-time.Duration(r.back.Load())) }
		},
	})
	r.c.onToken(func(_ *http.Request, grantType string) {
		if grantType == "refresh_token" {
			r.mu.Lock()
			r.refreshes = append(r.refreshes, time.Now())
			r.mu.Unlock()
		}
	})

	began := time.Now()
	r.connectDue()
	connectTime := time.Since(began)
	began = time.Now()
	r.seedRecent()
	seedTime := time.Since(began)
	found, scanTime := r.scanUpkeep()
	require.Equal(t, fleetDue, found, "the upkeep query finds the due connections only")

	reports, passTime := r.pass()
	r.checkReports(reports)
	r.checkDue()
	fullTime := r.checkUntouched()
	maxWindow := r.checkRate()
	t.Logf("%s: N=%d D=%d: connect %d due %v, seed %d recent %v; upkeep scan %v, full scan %v; pass %v (4 instances, Rate %d/s each); max refreshes in 1 s: %d",
		be.name, n, fleetDue, fleetDue, connectTime.Round(time.Millisecond), n-fleetDue, seedTime.Round(time.Millisecond),
		scanTime.Round(time.Millisecond), fullTime.Round(time.Millisecond), passTime.Round(time.Millisecond), fleetRate, maxWindow)
	for i, rep := range reports {
		t.Logf("%s: keeper %d: checked=%d refreshed=%d already_fresh=%d duration=%v",
			be.name, i, rep.Checked, rep.Refreshed, rep.AlreadyFresh, rep.Duration.Round(time.Millisecond))
	}
}

// connectDue connects fleetDue owners through the real flow with the
// Connector's clock 61 days back, so that their RefreshedAt makes them
// due once the clock is back to now.
func (r *fleetRun) connectDue() {
	r.back.Store(int64(61 * 24 * time.Hour))
	defer r.back.Store(0)
	inst := r.c.instance(instanceName("fleet-connect"), "")
	r.due = make(map[string]*store.Connection, fleetDue)
	for i := range fleetDue {
		ow := fmt.Sprintf("due-%04d", i)
		conn := r.c.connectAs(inst, ow)
		require.Equal(r.t, store.StatusActive, conn.Status)
		require.NotEmpty(r.t, conn.RefreshToken)
		r.due[ow] = conn
	}
	require.Equal(r.t, fleetDue, r.c.qonto.Exchanges())
}

// seedRecent saves n - fleetDue connections refreshed an hour ago, with
// fleetSeeders concurrent Save calls on a pool or client of their own.
func (r *fleetRun) seedRecent() {
	st := r.be.open(r.t, instanceName("fleet-seed"), r.be.addr, nil)
	r.recentAt = time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	ctx, cancel := context.WithTimeout(r.t.Context(), 10*time.Minute)
	defer cancel()
	var next atomic.Int64
	errs := make([]error, fleetSeeders)
	var wg sync.WaitGroup
	for w := range fleetSeeders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= r.n-fleetDue || ctx.Err() != nil {
					return
				}
				if err := st.Save(ctx, r.recent(i)); err != nil {
					errs[w] = fmt.Errorf("seed %d: %w", i, err)
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(r.t, err)
	}
}

// recent is the i-th recent connection: active, refreshed an hour ago,
// with tokens the fake never issued (nobody may present them).
func (r *fleetRun) recent(i int) *store.Connection {
	return &store.Connection{
		Provider:     provider,
		Owner:        fmt.Sprintf("fleet-%07d", i),
		AccountID:    fmt.Sprintf("org_%07d", i),
		AccessToken:  store.Secret(fmt.Sprintf("seed-access-%07d", i)),
		RefreshToken: store.Secret(fmt.Sprintf("seed-refresh-%07d", i)),
		TokenType:    "Bearer",
		Expiry:       r.recentAt.Add(2 * time.Hour),
		Scopes:       []string{"organization.read", "offline_access"},
		Status:       store.StatusActive,
		RefreshedAt:  r.recentAt,
	}
}

// scanUpkeep pages through the Keeper's query (active, of the provider,
// refreshed before 2/3 of the IdleLifetime ago) and returns how many
// connections it found and how long it took.
func (r *fleetRun) scanUpkeep() (int, time.Duration) {
	sc, ok := r.be.inspect.(store.Scanner)
	require.True(r.t, ok, "%s store is a Scanner", r.be.name)
	idle := r.c.qonto.Provider().IdleLifetime
	require.Positive(r.t, idle)
	q := store.Query{Provider: provider, Status: store.StatusActive,
		RefreshedBefore: time.Now().Add(-idle * 2 / 3), Limit: 100}
	began := time.Now()
	found := 0
	for {
		page, err := sc.Scan(testContext(r.t), q)
		require.NoError(r.t, err)
		found += len(page.Connections)
		if page.Next == "" {
			return found, time.Since(began)
		}
		q.Cursor = page.Next
	}
}

// pass starts 4 instances with a Keeper each and runs one Pass on all of
// them at once.
func (r *fleetRun) pass() ([]fleet.KeeperReport, time.Duration) {
	keepers := make([]*fleet.Keeper, stormInstances)
	for i := range keepers {
		inst := r.c.instance(instanceName(fmt.Sprintf("fleet%d", i)), "")
		k, err := fleet.NewKeeper(inst.link, fleet.KeeperOptions{Rate: fleetRate, Concurrency: 4})
		require.NoError(r.t, err)
		keepers[i] = k
	}
	ctx, cancel := context.WithTimeout(r.t.Context(), fleetPassBound)
	defer cancel()
	reports := make([]fleet.KeeperReport, len(keepers))
	errs := make([]error, len(keepers))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, k := range keepers {
		wg.Go(func() {
			<-gate
			reports[i], errs[i] = k.Pass(ctx)
		})
	}
	began := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(began)
	for i, err := range errs {
		require.NoError(r.t, err, "keeper %d", i)
	}
	return reports, elapsed
}

// checkReports: the keepers refreshed fleetDue connections between them,
// without a failure, and each spaced its sends by its rate.
func (r *fleetRun) checkReports(reports []fleet.KeeperReport) {
	refreshed := 0
	for i, rep := range reports {
		refreshed += rep.Refreshed
		assert.Empty(r.t, rep.Failed, "keeper %d", i)
		assert.Zero(r.t, rep.ReauthRequired, "keeper %d", i)
		assert.LessOrEqual(r.t, rep.Checked, fleetDue, "keeper %d checks due connections only", i)
		assert.Equal(r.t, rep.Checked, rep.Refreshed+rep.AlreadyFresh, "keeper %d", i)
		// Every refresh this keeper sent waited for a slot of its pacer,
		// spaced 1/Rate apart on the real clock; a connection a peer
		// had refreshed first gave its slot back.
		if rep.Refreshed > 0 {
			minimum := time.Duration(rep.Refreshed-1) * time.Second / fleetRate
			assert.GreaterOrEqual(r.t, rep.Duration, minimum, "keeper %d: %d sends at %d/s", i, rep.Refreshed, fleetRate)
		}
	}
	assert.Equal(r.t, fleetDue, refreshed, "the keepers refreshed each due connection once between them")
	assert.Equal(r.t, fleetDue, r.c.qonto.Refreshes(), "the fake saw one refresh per due connection")
	assert.Zero(r.t, r.c.qonto.ReuseDetections())
}

// checkDue: every due connection moved on by one version to a fresh
// RefreshedAt and the refresh token the fake holds live; its old token was
// presented once and is dead.
func (r *fleetRun) checkDue() {
	ctx := testContext(r.t)
	for ow, old := range r.due {
		cur, err := r.be.inspect.Load(ctx, provider, ow)
		require.NoError(r.t, err, ow)
		assert.Equal(r.t, old.Version+1, cur.Version, ow)
		assert.Equal(r.t, store.StatusActive, cur.Status, ow)
		assert.True(r.t, cur.RefreshedAt.After(old.RefreshedAt.Add(60*24*time.Hour)), "%s: RefreshedAt %v moved from %v", ow, cur.RefreshedAt, old.RefreshedAt)
		assert.NotEqual(r.t, old.RefreshToken, cur.RefreshToken, ow)
		assert.True(r.t, r.c.qonto.RefreshTokenValid(cur.RefreshToken.Reveal()), "%s: the stored refresh token is live at the fake", ow)
		assert.False(r.t, r.c.qonto.RefreshTokenValid(old.RefreshToken.Reveal()), "%s: grace 0: the rotated token is dead", ow)
		assert.Equal(r.t, 1, r.c.qonto.Presented(old.RefreshToken.Reveal()), ow)
	}
}

// checkUntouched scans every connection of the provider: the recent ones
// are all still at version 1 with the RefreshedAt they were seeded with.
// It returns how long the scan took (pages of 1000; the pass's revocation
// sweep reads every record too, in pages of 100).
func (r *fleetRun) checkUntouched() time.Duration {
	sc := r.be.inspect.(store.Scanner)
	q := store.Query{Provider: provider, Limit: 1000}
	recent, due := 0, 0
	began := time.Now()
	for {
		page, err := sc.Scan(testContext(r.t), q)
		require.NoError(r.t, err)
		for _, conn := range page.Connections {
			if _, ok := r.due[conn.Owner]; ok {
				due++
				continue
			}
			recent++
			if conn.Version != 1 || !conn.RefreshedAt.Equal(r.recentAt) || conn.Status != store.StatusActive {
				r.t.Errorf("%s was touched: version %d, RefreshedAt %v (seeded %v), status %s",
					conn.Owner, conn.Version, conn.RefreshedAt, r.recentAt, conn.Status)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	elapsed := time.Since(began)
	assert.Equal(r.t, fleetDue, due)
	assert.Equal(r.t, r.n-fleetDue, recent)
	return elapsed
}

// checkRate: in no one-second window did the fake answer more than
// 4 × fleetRate refreshes. It returns the largest count seen.
func (r *fleetRun) checkRate() int {
	r.mu.Lock()
	times := slices.Clone(r.refreshes)
	r.mu.Unlock()
	require.Len(r.t, times, fleetDue)
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	for i, j := 0, 0; i < len(times); i++ {
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	assert.LessOrEqual(r.t, most, stormInstances*fleetRate, "refreshes in one second, 4 instances at %d/s", fleetRate)
	return most
}
