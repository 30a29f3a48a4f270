package oauthlink_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/fleet"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

const qontoIdle = 90 * 24 * time.Hour

// keeperEnv is newEnv with Qonto's IdleLifetime on the fake's provider
// (the fake's default RefreshTokenLifetime sets it too; this says so).
func keeperEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	opts = append(opts, withProvider(func(p *oauthlink.Provider) {
		if p.Name == "qonto" {
			p.IdleLifetime = qontoIdle
		}
	}))
	return newEnv(t, opts...)
}

// fleet connects old owners, moves the clock past the keeper's threshold
// (60 of Qonto's 90 days), then connects fresh owners.
func (e *env) fleet(old, fresh int) (due, notDue []string) {
	e.t.Helper()
	for i := range old {
		owner := fmt.Sprintf("old-%d", i)
		e.connected("qonto", owner)
		due = append(due, owner)
	}
	e.clk.Advance(70 * 24 * time.Hour)
	for i := range fresh {
		owner := fmt.Sprintf("new-%d", i)
		e.connected("qonto", owner)
		notDue = append(notDue, owner)
	}
	return due, notDue
}

// clockSleep is a Keeper sleep that advances the test clock instead of
// waiting, and records each wait.
type clockSleep struct {
	clk   *clock
	mu    sync.Mutex
	waits []time.Duration
}

func (s *clockSleep) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	s.clk.Advance(d)
	return nil
}

func (e *env) keeper(c *oauthlink.Connector, opts fleet.KeeperOptions) (*fleet.Keeper, *clockSleep) {
	e.t.Helper()
	s := &clockSleep{clk: e.clk}
	opts.Sleep = s.sleep
	k, err := fleet.NewKeeper(c, opts)
	require.NoError(e.t, err)
	return k, s
}

func passCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestKeeperRefreshesExactlyTheDueConnections(t *testing.T) {
	e := keeperEnv(t)
	due, notDue := e.fleet(5, 3)
	before := map[string]*oauthlink.Connection{}
	for _, o := range append(append([]string{}, due...), notDue...) {
		c, err := e.load("qonto", o)
		require.NoError(t, err)
		before[o] = c
	}
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{Rate: -1})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Checked)
	assert.Equal(t, 5, rep.Refreshed)
	assert.Zero(t, rep.AlreadyFresh)
	assert.Nil(t, rep.Failed)
	assert.Equal(t, 5, e.qonto.Refreshes())
	for _, o := range due {
		c, err := e.load("qonto", o)
		require.NoError(t, err)
		assert.Equal(t, before[o].Version+1, c.Version, o)
		assert.Equal(t, e.clk.Now(), c.RefreshedAt.In(time.Local), o)
		assert.True(t, e.qonto.RefreshTokenValid(c.RefreshToken.Reveal()))
	}
	for _, o := range notDue {
		c, err := e.load("qonto", o)
		require.NoError(t, err)
		assert.Equal(t, before[o].Version, c.Version, "not due: untouched")
	}
	rep, err = k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Zero(t, rep.Checked, "nothing due any more")
	assert.Equal(t, 5, e.qonto.Refreshes())
}

func TestKeeperFourInstancesRefreshOnce(t *testing.T) {
	var passes atomic.Int32
	e := keeperEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Hooks.OnEvent = func(_ context.Context, ev oauthlink.Event) {
			if ev.Kind == fleet.EventKeeperPass {
				passes.Add(1)
			}
		}
	}))
	due, _ := e.fleet(12, 4)
	keepers := make([]*fleet.Keeper, 4)
	for i := range keepers {
		c := e.links["qonto"]
		if i > 0 {
			var err error
			c, err = oauthlink.New(e.cfgs["qonto"])
			require.NoError(t, err)
		}
		keepers[i], _ = e.keeper(c, fleet.KeeperOptions{Rate: -1, PageSize: 5})
	}
	reps := make([]fleet.KeeperReport, 4)
	var wg sync.WaitGroup
	ctx := passCtx(t)
	for i, k := range keepers {
		wg.Go(func() {
			var err error
			reps[i], err = k.Pass(ctx)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	refreshed := 0
	for _, r := range reps {
		refreshed += r.Refreshed
		assert.Nil(t, r.Failed)
	}
	assert.Equal(t, len(due), refreshed, "each due connection refreshed by one keeper")
	assert.Equal(t, len(due), e.qonto.Refreshes(), "one refresh per due connection at the provider")
	assert.Zero(t, e.qonto.ReuseDetections())
	assert.Equal(t, int32(4), passes.Load(), "one keeper_pass event per pass")
	for _, o := range due {
		c, err := e.load("qonto", o)
		require.NoError(t, err)
		assert.Equal(t, store.StatusActive, c.Status)
		assert.True(t, e.qonto.RefreshTokenValid(c.RefreshToken.Reveal()), o)
	}
}

// tokenTimes records the test clock at every token request the fake
// processes.
func tokenTimes(clk **clock) (oauthlinktest.QontoOptions, func() []time.Time) {
	var mu sync.Mutex
	var times []time.Time
	opts := oauthlinktest.QontoOptions{BeforeTokenResponse: func(_ *http.Request, grant string) {
		if grant == "refresh_token" {
			mu.Lock()
			times = append(times, (*clk).Now())
			mu.Unlock()
		}
	}}
	return opts, func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), times...)
	}
}

func TestKeeperRateLimit(t *testing.T) {
	var clk *clock
	qo, times := tokenTimes(&clk)
	events := &timedEvents{}
	e := keeperEnv(t, withQonto(qo), withConfig(func(c *oauthlink.Config) { c.Hooks.OnEvent = events.add }))
	clk = e.clk
	due, _ := e.fleet(10, 0)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{Rate: 5, Concurrency: 1})
	start := e.clk.Now()
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	require.Equal(t, len(due), rep.Refreshed)
	ts := times()
	require.Len(t, ts, len(due))
	for i := range ts {
		n := 0
		for _, u := range ts[i:] {
			if u.Sub(ts[i]) < time.Second {
				n++
			}
		}
		assert.LessOrEqual(t, n, 5, "at most 5 calls in any second")
	}
	assert.GreaterOrEqual(t, ts[len(ts)-1].Sub(start), 1800*time.Millisecond, "10 calls at 5/s span 1.8 s")
	assert.GreaterOrEqual(t, rep.Duration, 1800*time.Millisecond)
	pass := events.only(t, fleet.EventKeeperPass)
	assert.Equal(t, rep.Duration, pass.Duration, "the keeper_pass event carries the pass's duration")
	assert.NoError(t, pass.Err)
}

func TestKeeperRateLimitConcurrent(t *testing.T) {
	var clk *clock
	qo, times := tokenTimes(&clk)
	e := keeperEnv(t, withQonto(qo))
	clk = e.clk
	due, _ := e.fleet(10, 0)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{Rate: 2})
	start := e.clk.Now()
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	require.Equal(t, len(due), rep.Refreshed)
	ts := times()
	require.Len(t, ts, len(due))
	latest := ts[0]
	for _, u := range ts {
		if u.After(latest) {
			latest = u
		}
	}
	assert.GreaterOrEqual(t, latest.Sub(start), 4500*time.Millisecond, "10 calls at 2/s span at least 4.5 s")
}

func TestKeeperRefusesStoreWithoutScanner(t *testing.T) {
	e := keeperEnv(t, withStore(struct{ store.TokenStore }{memstore.New()}))
	_, err := fleet.NewKeeper(e.links["qonto"], fleet.KeeperOptions{})
	require.ErrorIs(t, err, oauthlink.ErrConfig)
}

func TestKeeperRefusesBadOptions(t *testing.T) {
	e := keeperEnv(t)
	for _, o := range []fleet.KeeperOptions{{Fraction: 1.5}, {Fraction: -1}, {Concurrency: -1}, {Interval: -1}, {PageSize: 5000}} {
		_, err := fleet.NewKeeper(e.links["qonto"], o)
		assert.ErrorIs(t, err, oauthlink.ErrConfig, "%+v", o)
	}
}

func TestKeeperWithoutIdleLifetimeRefreshesNothing(t *testing.T) {
	e := newEnv(t, withProvider(func(p *oauthlink.Provider) { p.IdleLifetime = 0 }))
	e.connected("qonto", "shop-1")
	e.clk.Advance(80 * 24 * time.Hour)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Zero(t, rep.Checked)
	assert.Zero(t, e.qonto.Refreshes())
}

func TestKeeperRunStopsCleanly(t *testing.T) {
	var passes atomic.Int32
	e := keeperEnv(t, withConfig(func(c *oauthlink.Config) {
		c.Hooks.OnEvent = func(_ context.Context, ev oauthlink.Event) {
			if ev.Kind == fleet.EventKeeperPass {
				assert.NoError(t, ev.Err)
				passes.Add(1)
			}
		}
	}))
	e.connected("qonto", "shop-1") // not due: the passes call no provider
	ignore := goleak.IgnoreCurrent()
	k, err := fleet.NewKeeper(e.links["qonto"], fleet.KeeperOptions{Interval: 5 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	require.Eventually(t, func() bool { return passes.Load() >= 3 }, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	goleak.VerifyNone(t, ignore)
}

// peerAfterScan is a store whose first Scan runs peer after reading the
// page: a peer refreshes a connection the keeper has already read.
type peerAfterScan struct {
	store.TokenStore
	once sync.Once
	peer func()
}

func (s *peerAfterScan) Unwrap() store.TokenStore { return s.TokenStore }

func (s *peerAfterScan) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	page, err := s.TokenStore.(store.Scanner).Scan(ctx, q)
	if err == nil && len(page.Connections) > 0 {
		s.once.Do(s.peer)
	}
	return page, err
}

func TestKeeperLeavesAPeersRefreshAlone(t *testing.T) {
	ps := &peerAfterScan{TokenStore: memstore.New()}
	e := keeperEnv(t, withStore(ps))
	due, _ := e.fleet(3, 1)
	peer, err := oauthlink.New(e.cfgs["qonto"])
	require.NoError(t, err)
	ps.peer = func() {
		_, err := peer.ForceRefresh(context.Background(), due[0])
		require.NoError(t, err)
	}
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{Rate: -1})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Checked)
	assert.Equal(t, 2, rep.Refreshed)
	assert.Equal(t, 1, rep.AlreadyFresh, "refreshed by the peer after the scan read it")
	assert.Equal(t, 3, e.qonto.Refreshes(), "the peer's refresh is not repeated")
	assert.Zero(t, e.qonto.ReuseDetections())
}

// TestKeeperSpendsNoRateOnAPeersRefresh: with keepers on several
// instances, most due connections a keeper reads are refreshed by a peer
// before it gets to them. Such a connection costs no provider call, so it
// must not cost a slot of the rate either: a keeper that paced them like
// calls would take as long as one alone, whatever the instances.
func TestKeeperSpendsNoRateOnAPeersRefresh(t *testing.T) {
	ps := &peerAfterScan{TokenStore: memstore.New()}
	e := keeperEnv(t, withStore(ps))
	due, _ := e.fleet(8, 0)
	peer, err := oauthlink.New(e.cfgs["qonto"])
	require.NoError(t, err)
	ps.peer = func() {
		for _, o := range due[:6] {
			_, err := peer.ForceRefresh(context.Background(), o)
			require.NoError(t, err)
		}
	}
	k, sl := e.keeper(e.links["qonto"], fleet.KeeperOptions{Rate: 5, Concurrency: 1})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Refreshed)
	assert.Equal(t, 6, rep.AlreadyFresh)
	assert.Equal(t, 8, e.qonto.Refreshes(), "six by the peer, two by the keeper")
	var waited time.Duration
	sl.mu.Lock()
	for _, d := range sl.waits {
		waited += d
	}
	sl.mu.Unlock()
	assert.LessOrEqual(t, waited, 2*200*time.Millisecond, "paced for its 2 calls at 5/s, not for 8 connections")
}

// peerAfterLoad runs peer once, right after the first Load of owner once
// armed: the keeper's check reads the old version, then a peer refreshes
// before the keeper's refresh takes the lock.
type peerAfterLoad struct {
	store.TokenStore
	owner string
	armed atomic.Bool
	peer  func()
}

func (s *peerAfterLoad) Unwrap() store.TokenStore { return s.TokenStore }

func (s *peerAfterLoad) Load(ctx context.Context, p, o string) (*oauthlink.Connection, error) {
	c, err := s.TokenStore.Load(ctx, p, o)
	if o == s.owner && s.armed.CompareAndSwap(true, false) {
		s.peer() // its own Loads find the store disarmed
	}
	return c, err
}

// TestKeeperLeavesAPeersRefreshAloneAfterItsCheck: a peer refreshes the
// connection between the keeper's check and its refresh. The refresh is
// forced at the version the scan read, so the engine finds it moved and
// sends nothing: the peer's rotation is not repeated (with Hydra's rules,
// a repeat would be reuse).
func TestKeeperLeavesAPeersRefreshAloneAfterItsCheck(t *testing.T) {
	ps := &peerAfterLoad{TokenStore: memstore.New()}
	e := keeperEnv(t, withStore(ps))
	due, _ := e.fleet(3, 0)
	peer, err := oauthlink.New(e.cfgs["qonto"])
	require.NoError(t, err)
	ps.owner = due[0]
	ps.peer = func() {
		_, err := peer.ForceRefresh(context.Background(), due[0])
		require.NoError(t, err)
	}
	ps.armed.Store(true)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{Rate: -1, Concurrency: 1})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Checked)
	assert.Equal(t, 2, rep.Refreshed)
	assert.Equal(t, 1, rep.AlreadyFresh)
	assert.Equal(t, 3, e.qonto.Refreshes(), "the peer's refresh is not repeated")
	assert.Zero(t, e.qonto.ReuseDetections())
}
