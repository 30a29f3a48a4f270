package integration_test

// # The fault table
//
// TestFaultTable runs each fault below on PostgreSQL and on Redis, with
// four instances of the app (each its own pool or client, through a TCP
// proxy of its own, and its own Connector), eight connections, and the
// fake Qonto with Hydra's rules. For each of tableRounds expiries the
// clock moves past every token's expiry and every instance calls Fresh
// tableCallers times per connection at once (4 × 8 × 8 = 256 concurrent
// calls), plus an API call per instance and connection; a call that
// fails is retried with backoff until it succeeds, fails for good
// (reauth_required) or the round's budget is spent. The fault strikes in
// round faultRound, while those refreshes run. Every row then asserts the
// same things:
//
//   - no reuse detection at the fake: no refresh token was presented
//     after it was spent;
//   - at most one refresh per rotation: every refresh token was presented
//     at most once (PresentedRefreshTokens);
//   - every connection usable afterwards without a new consent: Fresh
//     succeeds on every instance and an API call with the token succeeds
//     at the fake;
//   - no connection deleted: every owner's record is stored, active.
//
// Row 7 at grace 0 is the one exception, spelled out there: a rotated
// pair whose answer never arrived is gone, so that one connection may
// end reauth_required (never deleted, cause logged), and its token may be
// presented once more, which the fake may count as one reuse.
//
// The rows use short leases (Config.LockTTL 2 or 8 s) and timeouts so
// that faults longer than a lease fit in seconds. Time in the table is
// real time: the injected clock only expires tokens and never moves
// during a round.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

const (
	tableOwners  = 8
	tableMembers = 4 // instances
	tableCallers = 8 // concurrent Fresh calls per instance and owner in a round
	tableRounds  = 3 // expiries
	faultRound   = 2 // the round the fault strikes in
	// roundBudget bounds how long a round's callers retry.
	roundBudget = 30 * time.Second
	// instanceHeader tags each instance's requests to the fake, so a
	// fault triggered at the fake knows whose request it is in.
	instanceHeader = "X-Oauthlink-Itest-Instance"
)

// faultRow is one fault scenario.
type faultRow struct {
	name string
	// grace is QontoOptions.Grace: oauthlinktest.NoGrace (Hydra's default,
	// the strictest) unless the row says otherwise.
	grace time.Duration
	// lockTTL is Config.LockTTL (default 2 s); exchangeTimeout is
	// Config.ExchangeTimeout (default 5 s); retryMax is Config.RetryMax
	// (default the harness's 5 ms); callTimeout bounds each call of the
	// storms (default 8 s).
	lockTTL, exchangeTimeout, retryMax, callTimeout time.Duration
	// attempts is Config.RefreshAttempts (0: the library's default).
	attempts int
	// child runs the last instance in a child process.
	child bool
	// fault runs round faultRound: it sets the fault up, runs the storm
	// and returns once the fault is over.
	fault func(f *fixture, round int)
}

// tableRows are the faults. Each comment says what a correct engine must
// do.
var tableRows = []faultRow{
	{
		// 1. The provider rate-limits refreshes for longer than the lease
		// (Retry-After 3 and 4 s, LockTTL 2 s; RetryMax 5 s so it is
		// honoured). The holder waits out Retry-After holding the lease
		// (renewed every LockTTL/4), so no peer takes it and sends the same
		// refresh token meanwhile; the 429 answers spent nothing.
		name: "1 429 longer than the lease", lockTTL: 2 * time.Second, retryMax: 5 * time.Second, attempts: 4,
		fault: func(f *fixture, round int) {
			f.c.qonto.Fault(oauthlinktest.EndpointToken,
				oauthlinktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3", ContentType: "application/json", Body: `{"error":"rate_limited"}`},
				oauthlinktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "4", ContentType: "application/json", Body: `{"error":"rate_limited"}`})
			f.storm(round, f.members, nil)
			assert.Zero(f.t, f.c.qonto.PendingFaults(oauthlinktest.EndpointToken), "every 429 was served")
		},
	},
	{
		// 2. Bursts of 5xx and slow answers at the token endpoint, one
		// slower than the lease (2.5 s, LockTTL 2 s). A 5xx spent nothing;
		// a slow answer is processed, and its holder keeps the lease until
		// it arrives and is saved.
		name: "2 5xx bursts and slow answers", lockTTL: 2 * time.Second,
		fault: func(f *fixture, round int) {
			html := oauthlinktest.Fault{Status: http.StatusBadGateway, ContentType: "text/html", Body: "<html><body>502 Bad Gateway</body></html>"}
			f.c.qonto.Fault(oauthlinktest.EndpointToken,
				oauthlinktest.Fault{Status: http.StatusServiceUnavailable},
				oauthlinktest.Fault{Status: http.StatusServiceUnavailable},
				oauthlinktest.Fault{Status: http.StatusInternalServerError},
				html,
				oauthlinktest.Fault{Delay: 2500 * time.Millisecond},
				oauthlinktest.Fault{Status: http.StatusGatewayTimeout},
				oauthlinktest.Fault{Delay: time.Second},
				oauthlinktest.Fault{Status: http.StatusServiceUnavailable},
				html,
				oauthlinktest.Fault{Delay: 1500 * time.Millisecond})
			f.storm(round, f.members, nil)
			assert.Zero(f.t, f.c.qonto.PendingFaults(oauthlinktest.EndpointToken), "every fault was served")
		},
	},
	{
		// 3. The store refuses and cuts every instance's connections for
		// 3 s, starting inside the fake's token endpoint while the answers
		// to the round's first four refreshes are held there (those
		// connections rotated, their new pairs not saved anywhere yet;
		// see strike). 3 s outlasts the quick retries a killed pooled
		// connection needs, so the holders must keep their leases and
		// keep retrying their saves (for the longer of ExchangeTimeout and
		// LockTTL) until the store is back. LockTTL 8 s: the
		// outage is well shorter than what a live holder rides out (about
		// LockTTL × 0.65 = 5.2 s, leaving room for go-redis, which after
		// many failed dials probes the server once a second before it
		// dials again), so the holders of the rotated pairs can still
		// hold their leases when the store is back, and must be the ones
		// to save them.
		name: "3 store down for every instance", lockTTL: 8 * time.Second,
		fault: func(f *fixture, round int) {
			f.outage(round, 3*time.Second, func([]*http.Request) []*proxy {
				for _, p := range f.proxies {
					p.Down()
				}
				return slices.Collect(maps.Values(f.proxies))
			})
		},
	},
	{
		// 4. As 3, for one instance only: the one that sent most of the
		// held refreshes. Its peers keep their store and keep asking for
		// the leases the cut instance holds (and cannot renew during the
		// outage).
		name: "4 store down for one instance", lockTTL: 8 * time.Second,
		fault: func(f *fixture, round int) {
			f.outage(round, 3*time.Second, func(held []*http.Request) []*proxy {
				count := map[string]int{}
				victim := ""
				for _, r := range held {
					name := r.Header.Get(instanceHeader)
					if count[name]++; victim == "" || count[name] > count[victim] {
						victim = name
					}
				}
				p := f.proxies[victim]
				if p == nil {
					f.t.Errorf("the held requests name no instance: %v", count)
					return nil
				}
				p.Down()
				f.t.Logf("store cut for %s only (held refreshes by instance: %v)", victim, count)
				return []*proxy{p}
			})
		},
	},
	{
		// 5. The store is blackholed for every instance (connections
		// accepted, nothing forwarded) for 5.5 s, striking as in 3. The
		// row's timeouts make that past every one of them: each call's
		// deadline 3 s, ExchangeTimeout 2 s, the wait for the lock
		// 2 × ExchangeTimeout = 4 s, go-redis's dial timeout 5 s: every
		// store call made during the blackhole times out. What a live
		// holder rides out is its lease: LockTTL 12 s, renewed every 3 s
		// and vouched for until 1.2 s before it runs out, so at least
		// 7.8 s after the last renewal; the holders of the rotated pairs
		// keep retrying their saves (for the longer of ExchangeTimeout
		// and LockTTL) and are the ones to save them when the store is
		// back. An outage longer than the lease while a rotated pair is
		// unsaved is the documented limit (lease.go, README).
		name: "5 store blackholed past every timeout", lockTTL: 12 * time.Second,
		exchangeTimeout: 2 * time.Second, callTimeout: 3 * time.Second,
		fault: func(f *fixture, round int) {
			f.outage(round, 5500*time.Millisecond, func([]*http.Request) []*proxy {
				for _, p := range f.proxies {
					p.Blackhole()
				}
				return slices.Collect(maps.Values(f.proxies))
			})
		},
	},
	{
		// 6. An instance (a child process) is SIGKILLed while it holds a
		// connection's lease with that connection's refresh at the fake,
		// held before processing (a Delay fault the kill cuts short), so
		// nothing was spent; its peers, already waiting for that lease,
		// must take it over once it expires: after about LockTTL (2 s),
		// not after some longer timeout. Then the instance restarts and
		// takes part in the next rounds.
		name: "6 instance killed mid-refresh", lockTTL: 2 * time.Second, child: true,
		fault: func(f *fixture, round int) { f.killChild(round) },
	},
	{
		// 7a. The fake rotates a connection's refresh token and the answer
		// never arrives (Fault Drop). At grace 0 the new pair is gone, so
		// that one connection may be lost: it must then be
		// reauth_required, with the cause logged, and never deleted;
		// nothing else may be lost.
		name: "7 answer dropped, grace 0", lockTTL: 2 * time.Second,
		fault: func(f *fixture, round int) { f.drop(round) },
	},
	{
		// 7b. The same inside Qonto's 60 s grace window: the old token
		// still works, so the lost answer must cost nothing.
		name: "7 answer dropped, grace 60 s", grace: time.Minute, lockTTL: 2 * time.Second,
		fault: func(f *fixture, round int) { f.drop(round) },
	},
}

// TestFaultTable runs tableRows on every backend. It takes over a
// minute, so -short skips it.
func TestFaultTable(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault table takes over a minute; run it without -short")
	}
	began := time.Now()
	for _, row := range tableRows {
		t.Run(row.name, func(t *testing.T) {
			forBackends(t, func(t *testing.T, newBackend func(testing.TB) *backend) {
				start := time.Now()
				runRow(t, newBackend(t), row)
				t.Logf("row took %v", time.Since(start).Round(10*time.Millisecond))
			})
		})
	}
	t.Logf("table took %v", time.Since(began).Round(10*time.Millisecond))
}

// member is one instance of the app as the table drives it: in this
// process or in a child process.
type member interface {
	Name() string
	Fresh(ctx context.Context, owner string) (access string, err error)
	API(ctx context.Context, owner string) (status int, err error)
}

// local is an instance in this process.
type local struct {
	*instance
	apiURL string
}

func (l local) Name() string { return l.name }

func (l local) Fresh(ctx context.Context, owner string) (string, error) {
	conn, err := l.link.Connection(ctx, owner)
	if err != nil {
		return "", err
	}
	return conn.AccessToken.Reveal(), nil
}

func (l local) API(ctx context.Context, owner string) (int, error) {
	return apiCall(ctx, l.link, l.apiURL, owner)
}

// fixture is one row on one backend.
type fixture struct {
	t       *testing.T
	row     faultRow
	be      *backend
	c       *cluster
	cfg     oauthlink.Config // the settings every instance got
	insts   []*instance      // in this process
	proxies map[string]*proxy
	members []member
	kid     *child
	owners  []string
	tap     *refreshTap

	// tokenOwner maps every refresh token seen stored to its owner.
	tokenOwner map[string]string
	// dropped are refresh tokens whose rotation's answer was lost: they
	// may be presented twice (the retry of a lost answer).
	dropped map[string]bool
	// lost are owners the row may lose (row 7 at grace 0).
	lost map[string]bool
}

func runRow(t *testing.T, be *backend, row faultRow) {
	row.lockTTL = cmp.Or(row.lockTTL, 2*time.Second)
	row.exchangeTimeout = cmp.Or(row.exchangeTimeout, 5*time.Second)
	row.callTimeout = cmp.Or(row.callTimeout, 8*time.Second)
	grace := row.grace
	if grace == 0 {
		grace = oauthlinktest.NoGrace
	}
	f := &fixture{t: t, row: row, be: be, proxies: map[string]*proxy{}, tap: &refreshTap{},
		tokenOwner: map[string]string{}, dropped: map[string]bool{}, lost: map[string]bool{}}
	set := func(cfg *oauthlink.Config) {
		cfg.Tokens.LockTTL = row.lockTTL
		cfg.Tokens.ExchangeTimeout = row.exchangeTimeout
		if row.retryMax > 0 {
			cfg.Tokens.RetryMax = row.retryMax
		}
		cfg.Tokens.RefreshAttempts = row.attempts
	}
	f.c = newCluster(t, be, clusterOptions{
		qonto:     oauthlinktest.QontoOptions{Grace: grace, AccessTokenLifetime: tokenLifetime, TLS: true},
		cfg:       set,
		transport: f.tap.wrap,
	})
	f.cfg = oauthlink.Config{Tokens: oauthlink.TokenOptions{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond}}
	set(&f.cfg)
	locals := tableMembers
	if row.child {
		locals--
	}
	for i := range locals {
		name := instanceName(fmt.Sprintf("t%d", i))
		px := newProxy(t, be.addr)
		inst := f.c.instance(name, px.Addr())
		f.insts = append(f.insts, inst)
		f.proxies[name] = px
		f.members = append(f.members, local{instance: inst, apiURL: f.c.qonto.APIURL()})
	}
	for i := range tableOwners {
		o := fmt.Sprintf("owner-%d", i)
		f.owners = append(f.owners, o)
		f.c.connectAs(f.insts[i%len(f.insts)], o)
	}
	if row.child {
		f.kid = f.c.startChild(instanceName("child"), f.cfg)
		f.members = append(f.members, f.kid)
	}
	t.Cleanup(func() { f.c.onToken(nil) })

	for round := 1; round <= tableRounds; round++ {
		f.c.clk.Advance(tokenLifetime) // every stored token has just expired
		f.snapshot()
		if round == faultRound {
			row.fault(f, round)
		} else {
			f.storm(round, f.members, nil)
		}
		f.c.onToken(nil)
		f.quiesce(fmt.Sprintf("round %d", round))
	}
	f.verify()
}

// snapshot records the refresh token stored for each owner.
func (f *fixture) snapshot() map[string]string {
	f.t.Helper()
	stored := map[string]string{}
	for _, o := range f.owners {
		raw, err := f.be.inspect.Load(testContext(f.t), provider, o)
		if err != nil {
			continue // verify reports it
		}
		stored[o] = raw.RefreshToken.Reveal()
		f.tokenOwner[raw.RefreshToken.Reveal()] = o
	}
	return stored
}

// tally counts a round's outcomes.
type tally struct {
	mu       sync.Mutex
	ok       int            // calls that ended with a token
	failed   map[string]int // calls that ended without one, by cause
	attempts map[string]int // failed attempts, by cause
	api      map[int]int    // API call statuses (0: transport error)
}

func (tl *tally) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return fmt.Sprintf("ok=%d failed=%v failed attempts=%v api=%v", tl.ok, tl.failed, tl.attempts, tl.api)
}

// cause names an error's kind for the tally.
func cause(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, oauthlink.ErrReauthRequired):
		return "reauth_required"
	case errors.Is(err, oauthlink.ErrStore), isStoreErr(err), strings.Contains(s, "sqlstore: "), strings.Contains(s, "redisstore: "):
		return "store"
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(s, "deadline exceeded"):
		return "deadline"
	case strings.Contains(s, "oauthlink: refresh"):
		return "refresh"
	case strings.Contains(s, "child exited"):
		return "child exited"
	}
	return "other"
}

// final reports whether err ends a caller's retries: the connection
// needs a new consent or is gone.
func final(err error) bool {
	return errors.Is(err, oauthlink.ErrReauthRequired) || errors.Is(err, store.ErrNotFound) || errors.Is(err, oauthlink.ErrDisconnected)
}

// storm sends, from every member at once, tableCallers concurrent Fresh
// calls per owner, each retried with backoff until it succeeds, fails for
// good or roundBudget passes, and an API call per member and owner once
// its first caller has a token. during, if set, runs alongside; storm
// returns when the callers and during are done.
func (f *fixture) storm(round int, members []member, during func()) *tally {
	tl := &tally{failed: map[string]int{}, attempts: map[string]int{}, api: map[int]int{}}
	gate := make(chan struct{})
	deadline := time.Now().Add(roundBudget)
	var wg sync.WaitGroup
	for _, m := range members {
		for _, o := range f.owners {
			for j := range tableCallers {
				wg.Go(func() {
					<-gate
					backoff := 100 * time.Millisecond
					for {
						ctx, cancel := context.WithTimeout(context.Background(), f.row.callTimeout)
						_, err := m.Fresh(ctx, o)
						cancel()
						if err == nil {
							break
						}
						tl.mu.Lock()
						tl.attempts[cause(err)]++
						tl.mu.Unlock()
						if final(err) || time.Now().After(deadline) {
							tl.mu.Lock()
							tl.failed[cause(err)]++
							tl.mu.Unlock()
							return
						}
						time.Sleep(backoff/2 + rand.N(backoff/2))
						backoff = min(2*backoff, time.Second)
					}
					tl.mu.Lock()
					tl.ok++
					tl.mu.Unlock()
					if j != 0 {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), f.row.callTimeout)
					status, err := m.API(ctx, o)
					cancel()
					if err != nil {
						status = 0
					}
					tl.mu.Lock()
					tl.api[status]++
					tl.mu.Unlock()
				})
			}
		}
	}
	if during != nil {
		wg.Go(during)
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	f.t.Logf("round %d (%d members): %v in %v; refreshes so far %d, reuse %d", round, len(members), tl,
		time.Since(start).Round(time.Millisecond), f.c.qonto.Refreshes(), f.c.qonto.ReuseDetections())
	return tl
}

// strike holds the answers to the next k refresh_token grants inside the
// fake's token endpoint, after the provider rotated those connections'
// refresh tokens and before it answers, until the k-th arrives (or
// maxWait passes), then runs fn with the held requests and lets them all
// answer. So fn strikes while k rotated pairs exist only in the fake's
// answers, and the storm's other calls are in flight. The returned
// channel closes once fn returned.
func (f *fixture) strike(k int, maxWait time.Duration, fn func(held []*http.Request)) <-chan struct{} {
	var mu sync.Mutex
	var held []*http.Request
	release := make(chan struct{})
	var once sync.Once
	trigger := func() {
		once.Do(func() {
			mu.Lock()
			h := slices.Clone(held)
			mu.Unlock()
			fn(h)
			close(release)
		})
	}
	f.c.onToken(func(r *http.Request, grant string) {
		if grant != "refresh_token" {
			return
		}
		select {
		case <-release:
			return
		default:
		}
		mu.Lock()
		held = append(held, r)
		n := len(held)
		mu.Unlock()
		if n == k {
			trigger()
			return
		}
		t := time.NewTimer(maxWait)
		defer t.Stop()
		select {
		case <-release:
		case <-t.C:
			trigger()
		}
	})
	return release
}

// outage runs round with a store outage of length d: cut, called while
// the answers to four refreshes are held (strike), takes the store away
// (from every instance or one) and returns the proxies to restore.
func (f *fixture) outage(round int, d time.Duration, cut func(held []*http.Request) []*proxy) {
	var mu sync.Mutex
	var down []*proxy
	var at time.Time
	var held int
	fired := f.strike(4, 2*time.Second, func(h []*http.Request) {
		mu.Lock()
		defer mu.Unlock()
		at, held = time.Now(), len(h)
		down = cut(h)
	})
	restore := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range down {
			p.Up()
		}
		down = nil
	}
	f.t.Cleanup(restore)
	f.storm(round, f.members, func() {
		select {
		case <-fired:
		case <-time.After(roundBudget):
			f.t.Errorf("the outage never started: no refresh in round %d", round)
			return
		}
		mu.Lock()
		wait := time.Until(at.Add(d))
		mu.Unlock()
		time.Sleep(wait)
		restore()
		var acc, ref int
		for _, p := range f.proxies {
			a, r := p.Stats()
			acc, ref = acc+a, ref+r
		}
		f.t.Logf("store back after %v, cut with %d rotated answers held (proxies so far: %d connections forwarded, %d refused)", d, held, acc, ref)
	})
}

// drop runs round with the answer of its first refresh dropped after the
// fake rotated, and records whose token that was.
func (f *fixture) drop(round int) {
	before := f.snapshot()
	mark := f.tap.len()
	f.c.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Drop: true})
	f.storm(round, f.members, nil)
	assert.Zero(f.t, f.c.qonto.PendingFaults(oauthlinktest.EndpointToken), "the drop was served")
	var lostTokens []string
	for _, rec := range f.tap.since(mark) {
		if rec.err != nil {
			lostTokens = append(lostTokens, rec.token)
		}
	}
	require.Len(f.t, lostTokens, 1, "exactly one refresh lost its answer")
	tok := lostTokens[0]
	f.dropped[tok] = true
	var o string
	for ow, rt := range before {
		if rt == tok {
			o = ow
		}
	}
	require.NotEmpty(f.t, o, "the dropped refresh presented a stored token")
	f.t.Logf("the answer to %s's refresh was dropped", o)
	if f.c.qonto.Grace() == 0 {
		f.lost[o] = true
	}
}

// killChild runs round with the child killed mid-refresh (row 6): see
// tableRows.
func (f *fixture) killChild(round int) {
	t := f.t
	x := f.owners[0]
	before := f.snapshot()
	f.c.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Delay: time.Minute})
	held := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		_, err := f.kid.Fresh(ctx, x)
		held <- err
	}()
	require.Eventually(t, func() bool { return f.c.qonto.PendingFaults(oauthlinktest.EndpointToken) == 0 },
		20*time.Second, time.Millisecond, "the child's refresh of %s reached the fake", x)
	// The child holds x's lease; its refresh waits at the fake, unprocessed.
	var killedAt time.Time
	peers := f.members[:len(f.members)-1]
	f.storm(round, peers, func() {
		time.Sleep(300 * time.Millisecond) // the peers' calls for x queue on the lease
		killedAt = time.Now()
		f.kid.kill()
		err := <-held
		t.Logf("child killed: its Fresh(%s) got %v", x, err)
		assert.Zero(t, f.c.qonto.Presented(before[x]), "the killed child's refresh was never processed")
	})
	var takeover time.Duration = -1
	for _, inst := range f.insts {
		for _, at := range inst.store.Acquired(x) {
			if at.After(killedAt) && (takeover < 0 || at.Sub(killedAt) < takeover) {
				takeover = at.Sub(killedAt)
			}
		}
	}
	t.Logf("a peer took %s's lease over %v after the kill (LockTTL %v)", x, takeover.Round(time.Millisecond), f.row.lockTTL)
	if assert.GreaterOrEqual(t, takeover, time.Duration(0), "a peer took the dead holder's lease") {
		assert.LessOrEqual(t, takeover, f.row.lockTTL+time.Second, "the dead holder's lease ends within about LockTTL")
	}
	assert.Equal(t, 1, f.c.qonto.Presented(before[x]), "the peer that took over refreshed %s once", x)

	f.kid = f.c.startChild(instanceName("child"), f.cfg)
	f.members[len(f.members)-1] = f.kid
}

// quiesce waits until no in-process instance waits for or holds a lock,
// so nothing of the round runs on (and no goroutine outlives the test).
func (f *fixture) quiesce(when string) {
	f.t.Helper()
	bound := 2*f.row.exchangeTimeout + f.row.lockTTL + 10*time.Second
	deadline := time.Now().Add(bound)
	for _, inst := range f.insts {
		for inst.store.Busy() > 0 {
			if time.Now().After(deadline) {
				f.t.Errorf("%s: instance %s still waits for or holds a lock %v later", when, inst.name, bound)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// verify asserts the row's invariants (see the file's comment).
func (f *fixture) verify() {
	t := f.t
	// Every connection usable without a new consent, on every instance.
	var wg sync.WaitGroup
	for _, m := range f.members {
		for _, o := range f.owners {
			wg.Go(func() {
				var err error
				deadline := time.Now().Add(roundBudget)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), f.row.callTimeout)
					_, err = m.Fresh(ctx, o)
					cancel()
					if err == nil || final(err) || time.Now().After(deadline) {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if f.lost[o] {
					assert.ErrorIs(t, err, oauthlink.ErrReauthRequired, "%s on %s: the connection whose answer was lost", o, m.Name())
					return
				}
				if !assert.NoError(t, err, "%s on %s: Fresh after the fault", o, m.Name()) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), f.row.callTimeout)
				defer cancel()
				status, err := m.API(ctx, o)
				assert.NoError(t, err, "%s on %s: API call", o, m.Name())
				assert.Equal(t, http.StatusOK, status, "%s on %s: API call", o, m.Name())
			})
		}
	}
	wg.Wait()
	f.quiesce("after the final calls")
	f.snapshot()

	// No connection deleted; each active, but for a lost one.
	var reauth []string
	for _, o := range f.owners {
		raw, err := f.be.inspect.Load(testContext(t), provider, o)
		if !assert.NoError(t, err, "%s: the record is still stored", o) {
			continue
		}
		if raw.Status != store.StatusActive {
			reauth = append(reauth, o)
		}
		if f.lost[o] {
			assert.Equal(t, store.StatusReauthRequired, raw.Status, "%s: lost with its answer", o)
			continue
		}
		assert.Equal(t, store.StatusActive, raw.Status, "%s: status", o)
	}

	// At most one refresh per rotation: each refresh token presented once
	// (twice for a dropped answer's, the retry).
	presented := f.c.qonto.PresentedRefreshTokens()
	var twice []string
	for tok, n := range presented {
		allowed := 1
		if f.dropped[tok] {
			allowed = 2
		}
		if n > allowed {
			twice = append(twice, fmt.Sprintf("%s's token %d×", cmp.Or(f.tokenOwner[tok], "?"), n))
		}
	}
	sort.Strings(twice)
	assert.Empty(t, twice, "refresh tokens presented more than once")
	reuse := f.c.qonto.ReuseDetections()
	assert.LessOrEqual(t, reuse, len(f.lost), "reuse detections at the fake")

	// A lost connection's cause is logged.
	logs := f.c.logs.String()
	for o := range f.lost {
		found := false
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "reconnect required") && strings.Contains(line, "owner="+o+" ") && strings.Contains(line, "error=") {
				found = true
				break
			}
		}
		assert.True(t, found, "%s: a \"reconnect required\" log line with its cause", o)
	}
	t.Logf("%s on %s: refreshes=%d distinct tokens presented=%d reuse=%d not active=%v presented twice=%v lost=%v",
		f.row.name, f.be.name, f.c.qonto.Refreshes(), len(presented), reuse, reauth, twice, slices.Sorted(maps.Keys(f.lost)))
}

// refreshTap tags each instance's requests to the fake with its name and
// records every refresh it sends and how the request ended.
type refreshTap struct {
	mu   sync.Mutex
	recs []tapRecord
}

type tapRecord struct {
	instance, token string
	status          int
	err             error // no answer
}

func (tp *refreshTap) len() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return len(tp.recs)
}

func (tp *refreshTap) since(n int) []tapRecord {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.recs[n:])
}

func (tp *refreshTap) wrap(name string, rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.Header.Set(instanceHeader, name)
		var token string
		if req.Body != nil && strings.HasSuffix(req.URL.Path, "/oauth2/token") {
			body, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			if vals, err := url.ParseQuery(string(body)); err == nil && vals.Get("grant_type") == "refresh_token" {
				token = vals.Get("refresh_token")
			}
		}
		resp, err := rt.RoundTrip(r)
		if token != "" {
			rec := tapRecord{instance: name, token: token, err: err}
			if resp != nil {
				rec.status = resp.StatusCode
			}
			tp.mu.Lock()
			tp.recs = append(tp.recs, rec)
			tp.mu.Unlock()
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
