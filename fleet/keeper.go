package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/lifecycle"
	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// Keeping connections alive.
//
// A provider may expire a refresh token nobody used for a while
// (Provider.IdleLifetime: Qonto's 90 days, Hydra's refresh-token
// lifespan), and a connection whose owner never comes back would then
// need a reconnect. A Keeper walks the store (store.Scanner) and refreshes
// each active connection of its provider whose tokens were last obtained
// (Connection.RefreshedAt) more than Fraction × IdleLifetime ago, through
// the engine's refresh: the same flight, lease, re-read and
// compare-and-swap as any refresh, so keepers on several instances
// refresh each due connection once between them. The same pass retries
// the revocations left pending: disconnected records (Disconnect again)
// and grants still listed in Connection.Retired.

// KeeperOptions configure a Keeper. Zero values get the defaults.
type KeeperOptions struct {
	// Interval is the time between two passes of Run, each jittered by up
	// to a tenth either way so instances spread out. Default 10 minutes.
	Interval time.Duration
	// Fraction of Provider.IdleLifetime after which an unused connection
	// is refreshed: with Qonto's 90 days and the default 2/3, a connection
	// whose tokens are 60 days old. It must leave time for a few passes
	// (and for the provider to come back from an outage) before the
	// refresh token expires. Default 2/3; at most 1.
	Fraction float64
	// Concurrency bounds the connections a pass works on at once.
	// Default 4.
	Concurrency int
	// Rate caps the connections a pass sends to the provider per second
	// (refreshes and revocations alike), spaced evenly; a provider answer
	// carrying Retry-After pauses the pass's sends for that long. The
	// engine's own retries of one connection come on top. A due
	// connection is read again before it takes a slot: one a peer
	// refreshed since the scan costs no call and no slot, so keepers on
	// several instances share the due connections between them instead of
	// each pacing through all of them. The rate is
	// each Keeper's: with K instances the provider sees at most K × Rate,
	// so divide the provider's budget by the instances. Default 5;
	// negative: no limit.
	Rate float64
	// PageSize is how many connections a pass reads from the store at a
	// time. Default 100; at most 1000.
	PageSize int
	// Sleep waits d or until ctx ends, between passes and for the rate
	// limit. Default: a timer on the real clock. Tests that drive
	// Config.Now inject one that advances their clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// withDefaults returns o with the defaults applied, or an error wrapping
// ErrConfig.
func (o KeeperOptions) withDefaults() (KeeperOptions, error) {
	if o.Interval < 0 || o.Concurrency < 0 || o.PageSize < 0 || o.Fraction < 0 || o.Fraction > 1 || o.PageSize > 1000 {
		return o, fmt.Errorf("%w: fleet.KeeperOptions: Interval, Concurrency and PageSize must not be negative, PageSize at most 1000, Fraction between 0 and 1", oauthlink.ErrConfig)
	}
	if o.Interval == 0 {
		o.Interval = 10 * time.Minute
	}
	if o.Fraction == 0 {
		o.Fraction = 2.0 / 3
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.Rate == 0 {
		o.Rate = 5
	}
	if o.PageSize == 0 {
		o.PageSize = 100
	}
	return o, nil
}

// EventKeeperPass is the event a Keeper emits through Hooks.OnEvent at the
// end of each pass, with the pass's Duration and, when the pass itself
// failed (the store could not be scanned, ctx ended), Pass's error as Err.
// The report is Pass's return value; the failures of single connections
// come as their own events.
const EventKeeperPass oauthlink.EventKind = "keeper_pass"

// The reasons KeeperReport.Failed counts failures by.
const (
	// KeeperFailRefresh: the provider did not refresh (oauthlink.ErrRefresh).
	KeeperFailRefresh = "refresh"
	// KeeperFailStore: the store failed (oauthlink.ErrStore).
	KeeperFailStore = "store"
	// KeeperFailRevoke: a revocation failed (oauthlink.ErrRevoke); it is retried
	// on the next pass.
	KeeperFailRevoke = "revoke"
	// KeeperFailOther: anything else (ctx ended, an unexpected error).
	KeeperFailOther = "other"
)

// KeeperReport is what one pass did.
type KeeperReport struct {
	// Checked counts the connections the pass examined: the due ones
	// and those with revocations pending.
	Checked int
	// Refreshed counts the connections this pass refreshed at the provider.
	Refreshed int
	// AlreadyFresh counts due connections that needed no call: a peer
	// (another instance's keeper, or a request) refreshed them after the
	// pass read them, or they were disconnected or deleted meanwhile.
	AlreadyFresh int
	// ReauthRequired counts the connections the provider refused (its
	// refresh token had expired or was revoked): they are now
	// store.StatusReauthRequired and their owners must reconnect.
	ReauthRequired int
	// RevocationsCompleted counts the connections whose pending
	// revocations all completed: disconnected records revoked and
	// deleted, Retired lists emptied.
	RevocationsCompleted int
	// Failed counts the failures by reason (KeeperFailRefresh,
	// KeeperFailStore, KeeperFailRevoke, KeeperFailOther); nil when none.
	Failed map[string]int
	// Duration is how long the pass took, by Config.Now.
	Duration time.Duration
}

// Keeper keeps a Connector's idle connections alive and retries its
// pending revocations. Build it with NewKeeper; run one per
// instance (Run), or call Pass from the app's own scheduler. It is safe for
// concurrent use.
type Keeper struct {
	eng      lifecycle.Engine
	provider string
	idle     time.Duration
	scan     store.Scanner
	opts     KeeperOptions
	pace     *pacer
	// sleep waits between passes and for the pacer (KeeperOptions.Sleep).
	sleep func(ctx context.Context, d time.Duration) error
}

// NewKeeper returns a Keeper for c with opts (see KeeperOptions for the
// defaults). The Connector's store must implement store.Scanner (memstore,
// sqlstore and redisstore do, and store/encrypted passes it through):
// without it, or with invalid options, NewKeeper returns an error wrapping
// oauthlink.ErrConfig. A provider without Provider.IdleLifetime has
// nothing to keep alive: its passes only retry pending revocations.
func NewKeeper(c *oauthlink.Connector, opts KeeperOptions) (*Keeper, error) {
	eng, ok := lifecycle.Of(c)
	if !ok {
		return nil, fmt.Errorf("%w: fleet.NewKeeper needs a Connector made by oauthlink.New", oauthlink.ErrConfig)
	}
	sc, ok := eng.Scanner()
	if !ok {
		return nil, fmt.Errorf("%w: Keeper needs a store that implements store.Scanner", oauthlink.ErrConfig)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	k := &Keeper{eng: eng, scan: sc, opts: opts, sleep: opts.Sleep}
	k.provider, k.idle = eng.Provider()
	if k.sleep == nil {
		k.sleep = retry.Sleep
	}
	k.pace = &pacer{now: eng.Now, rate: opts.Rate}
	return k, nil
}

// Run passes every Interval (jittered) until ctx ends, starting with one
// pass at once, and returns ctx's error; nothing it started outlives it. A
// pass that fails (the store is down) is logged and the next one comes at
// its time.
func (k *Keeper) Run(ctx context.Context) error {
	for {
		if _, err := k.Pass(ctx); err != nil && ctx.Err() == nil {
			k.eng.Logger().Warn("oauthlink: keeper pass failed", "provider", k.provider, "error", err)
		}
		jitter := (rand.Float64()*0.2 - 0.1) * float64(k.opts.Interval)
		if err := k.sleep(ctx, k.opts.Interval+time.Duration(jitter)); err != nil {
			return ctx.Err()
		}
	}
}

// Pass runs one pass: it refreshes the due connections (active, of the
// Connector's provider, RefreshedAt older than Fraction × IdleLifetime),
// then Disconnects again the disconnected records and revokes the grants
// other records still list in Retired (this part reads every record of
// the provider: a store.Query cannot select a non-empty Retired list). A
// connection a peer refreshed after the pass read it is left as the peer
// saved it. It works on at most Concurrency
// connections at once and paces its sends by Rate. It emits
// EventKeeperPass at the end (the engine emits the per-connection events:
// EventRefreshed, EventRefreshFailed, EventReauthRequired,
// EventDisconnected, EventRevokeFailed). Failures of single connections
// are counted in the report, not returned; the error is the store's
// failure to scan (wrapping oauthlink.ErrStore) or ctx's, with the report so far.
func (k *Keeper) Pass(ctx context.Context) (KeeperReport, error) {
	start := k.eng.Now()
	r := &passReport{}
	err := k.refreshIdle(ctx, r, start)
	if err == nil {
		err = k.retryRevocations(ctx, r)
	}
	rep := r.done(k.eng.Now().Sub(start))
	k.eng.Logger().Info("oauthlink: keeper pass", "provider", k.provider, "checked", rep.Checked,
		"refreshed", rep.Refreshed, "already_fresh", rep.AlreadyFresh, "reauth_required", rep.ReauthRequired,
		"revocations_completed", rep.RevocationsCompleted, "failed", rep.Failed, "duration", rep.Duration)
	k.eng.Emit(ctx, string(EventKeeperPass), rep.Duration, err)
	return rep, err
}

// passReport is a KeeperReport being filled by concurrent workers.
type passReport struct {
	mu  sync.Mutex
	rep KeeperReport
}

func (p *passReport) add(f func(*KeeperReport)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.rep)
}

// fail counts err by its reason.
func (p *passReport) fail(err error) {
	reason := KeeperFailOther
	switch {
	case errors.Is(err, oauthlink.ErrStore):
		reason = KeeperFailStore
	case errors.Is(err, oauthlink.ErrRevoke):
		reason = KeeperFailRevoke
	case errors.Is(err, oauthlink.ErrRefresh):
		reason = KeeperFailRefresh
	}
	p.add(func(r *KeeperReport) {
		if r.Failed == nil {
			r.Failed = map[string]int{}
		}
		r.Failed[reason]++
	})
}

func (p *passReport) done(d time.Duration) KeeperReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.Duration = d
	return p.rep
}
