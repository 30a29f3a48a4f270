package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// refreshIdle refreshes the active connections whose tokens are older
// than Fraction × IdleLifetime, page by page in the store's order (each
// page shuffled; see each). Nothing is due without an
// IdleLifetime.
func (k *Keeper) refreshIdle(ctx context.Context, r *passReport, now time.Time) error {
	idle := k.idle
	if idle <= 0 {
		return nil
	}
	cutoff := now.Add(-time.Duration(k.opts.Fraction * float64(idle)))
	q := store.Query{Status: store.StatusActive, RefreshedBefore: cutoff}
	return k.each(ctx, q, func(ctx context.Context, conn *store.Connection) {
		if conn.RefreshToken == "" {
			return // nothing to keep alive: its access token is all it has
		}
		r.add(func(r *KeeperReport) { r.Checked++ })
		k.keep(ctx, r, conn)
	})
}

// keep refreshes one due connection through the engine's refresh, forced
// at the version the scan read: when a peer refreshed it since (the
// version moved), the engine returns the peer's record without calling the
// provider, so keepers on several instances refresh it once between them.
func (k *Keeper) keep(ctx context.Context, r *passReport, conn *store.Connection) {
	// A peer (another instance's keeper, a request) may have refreshed it
	// since the scan: then it costs no call, and no slot of the rate.
	if moved, err := k.moved(ctx, conn); err != nil {
		k.pauseOn(err)
		r.fail(err)
		return
	} else if moved {
		r.add(func(r *KeeperReport) { r.AlreadyFresh++ })
		return
	}
	if err := k.pace.wait(ctx, k.sleep); err != nil {
		return // the pass is over; this connection waits for the next one
	}
	// Detached: a refresh once started is finished (bounded by the
	// Tokens timeouts) and counted, so Pass leaves nothing running.
	refreshed, reauth, err := k.eng.RefreshAt(context.WithoutCancel(ctx), conn.Owner, conn.Version)
	switch {
	case err == nil && refreshed:
		r.add(func(r *KeeperReport) { r.Refreshed++ })
	case errors.Is(err, oauthlink.ErrReauthRequired) && reauth:
		r.add(func(r *KeeperReport) { r.ReauthRequired++ })
	case err == nil, errors.Is(err, oauthlink.ErrReauthRequired), errors.Is(err, oauthlink.ErrDisconnected), errors.Is(err, store.ErrNotFound):
		r.add(func(r *KeeperReport) { r.AlreadyFresh++ })
	default:
		k.pauseOn(err)
		r.fail(err)
	}
}

// moved reports whether conn's record changed since the scan read it (a
// new version, another status, or no record): a peer refreshed,
// disconnected or deleted it.
func (k *Keeper) moved(ctx context.Context, conn *store.Connection) (bool, error) {
	cur, err := k.eng.Load(ctx, conn.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: keeper: %w", oauthlink.ErrStore, err)
	}
	return cur.Version != conn.Version || cur.Status != store.StatusActive, nil
}

// retryRevocations Disconnects again each disconnected record (its
// revocation failed before) and revokes the grants other records still
// list in Retired. It asks the store for those records only
// (Query.PendingRevocation, which the stores answer from an index), so a
// pass reads the pending connections, not the whole fleet.
func (k *Keeper) retryRevocations(ctx context.Context, r *passReport) error {
	return k.each(ctx, store.Query{PendingRevocation: true}, func(ctx context.Context, conn *store.Connection) {
		if !conn.PendingRevocation() {
			// A Scanner written before the filter existed returns
			// every connection; only the pending ones have work.
			return
		}
		r.add(func(r *KeeperReport) { r.Checked++ })
		if err := k.pace.wait(ctx, k.sleep); err != nil {
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.eng.CallTimeout()*4)
		defer cancel()
		var err error
		completed := false
		if conn.Status == store.StatusDisconnected {
			err = k.eng.Disconnect(dctx, conn.Owner)
			completed = err == nil
		} else {
			var cur *store.Connection
			cur, err = k.eng.Retire(dctx, conn.Owner)
			completed = err == nil && (cur == nil || len(cur.Retired) == 0)
		}
		if err != nil {
			k.pauseOn(err)
			r.fail(err)
			return
		}
		if completed {
			r.add(func(r *KeeperReport) { r.RevocationsCompleted++ })
		}
	})
}

// each scans the Connector's connections that q selects, page by page,
// and runs work on each, at most Concurrency at once. It stops starting
// work when ctx ends and returns once the work it started is done.
func (k *Keeper) each(ctx context.Context, q store.Query, work func(context.Context, *store.Connection)) error {
	q.Provider, q.Limit = k.provider, k.opts.PageSize
	sem := make(chan struct{}, k.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		sctx, cancel := context.WithTimeout(ctx, min(10*time.Second, k.eng.CallTimeout()*2))
		page, err := k.scan.Scan(sctx, q)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: keeper scan: %w", oauthlink.ErrStore, err)
		}
		// Each keeper works through a page in an order of its own, so
		// keepers on several instances start on different connections
		// instead of queueing for the same lock.
		rand.Shuffle(len(page.Connections), func(i, j int) {
			page.Connections[i], page.Connections[j] = page.Connections[j], page.Connections[i]
		})
		for _, conn := range page.Connections {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			wg.Go(func() {
				defer func() { <-sem }()
				work(ctx, conn)
			})
		}
		if page.Next == "" {
			return ctx.Err()
		}
		q.Cursor = page.Next
	}
}

// pauseOn pauses the pass's sends for the Retry-After of the provider's
// answer in err, if any.
func (k *Keeper) pauseOn(err error) {
	var pe *oauthlink.ProviderError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		k.pace.pause(k.eng.Now().Add(pe.RetryAfter))
	}
}

// pacer spaces sends evenly at rate per second (a token bucket of one) on
// the Connector's clock, and holds them all back until a Retry-After has
// passed.
type pacer struct {
	mu   sync.Mutex
	now  func() time.Time
	rate float64 // per second; not positive: no limit
	next time.Time
}

// wait reserves the next send slot and waits for it with sleep; it fails
// only when ctx ends.
func (p *pacer) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	now := p.now()
	slot := now
	if p.next.After(slot) {
		slot = p.next
	}
	if p.rate > 0 {
		p.next = slot.Add(time.Duration(float64(time.Second) / p.rate))
	}
	p.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

// pause holds every send back until t.
func (p *pacer) pause(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.next) {
		p.next = t
	}
}
