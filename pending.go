package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// pendingSave is a rotated grant whose save failed: the provider has
// already retired the old refresh token, so the new pair must be saved,
// not fetched again with the old token.
type pendingSave struct {
	oldRefresh string
	conn       *Connection
}

type pendingSaves struct {
	mu sync.Mutex
	m  map[string]*pendingSave
}

func (p *pendingSaves) get(key string) *pendingSave {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[key]
}

func (p *pendingSaves) put(key string, ps *pendingSave) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]*pendingSave)
	}
	if ps == nil {
		delete(p.m, key)
		return
	}
	p.m[key] = ps
}

// savePending writes a refreshed grant with compare-and-swap on the version
// that was refreshed. A failed write is retried with backoff while the
// lease holds (so no other instance refreshes meanwhile), for at most the
// longer of ExchangeTimeout and LockTTL, and once more after. If it still fails, the pair
// stays in memory and the next refresh of the connection on this instance
// saves it without calling the provider. On a conflict the store wins: a
// disconnect makes the new grant pointless (it is revoked), a peer's
// refresh is used as is.
func (e *engine) savePending(ctx context.Context, lk *heldLock, key string, base *Connection, ps *pendingSave) (*Connection, error) {
	next := ps.conn.Clone()
	next.Version = base.Version
	// Give up after the longer of ExchangeTimeout and LockTTL, or as soon
	// as the lease can no longer be vouched for, whichever comes first
	// (one last attempt follows). While the holder retries, its lease is
	// renewed, so no peer takes the connection and sends the spent token.
	// The first save usually succeeds: nothing is set up for the retries
	// until one is needed.
	var deadline time.Time
	var err error
	for attempt, last := 0, false; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, min(storeCallTimeout, e.opts.ExchangeTimeout))
		err = e.store.Save(sctx, next)
		cancel()
		if err == nil || errors.Is(err, store.ErrVersionConflict) || last {
			break
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(max(e.opts.ExchangeTimeout, e.opts.LockTTL))
		}
		wait := retry.Exponential(attempt, 50*time.Millisecond, time.Second)
		t := time.NewTimer(max(min(wait, time.Until(deadline)), 0))
		select {
		case <-t.C:
			last = !time.Now().Before(deadline)
		case <-lk.ctx.Done():
			last = true
		}
		t.Stop()
	}
	switch {
	case err == nil:
		e.pending.put(key, nil)
		if e.log.Enabled(ctx, slog.LevelInfo) {
			e.log.Info("oauthlink: refreshed", "provider", e.provider.Name, "owner", next.Owner)
		}
		e.emit(ctx, Event{Kind: EventRefreshed, Provider: e.provider.Name, Owner: next.Owner})
		return next, nil
	case errors.Is(err, store.ErrVersionConflict):
		e.pending.put(key, nil)
		cur, lerr := e.loadWithin(ctx, next.Owner)
		if lerr != nil {
			return nil, lerr
		}
		if cur.Status == store.StatusDisconnected {
			e.revokeQuietly(ctx, &tokenResponse{AccessToken: next.AccessToken.Reveal(), RefreshToken: next.RefreshToken.Reveal()}, next.AccountID)
		}
		if serr := statusErr(cur); serr != nil {
			return nil, serr
		}
		return cur, nil
	default:
		// Keep the new pair in memory: the next refresh of this connection
		// saves it instead of replaying the retired refresh token.
		e.pending.put(key, ps)
		e.log.Error("oauthlink: saving refreshed token failed; kept in memory for the next attempt", "provider", e.provider.Name, "owner", next.Owner, "error", err)
		e.emit(ctx, Event{Kind: EventRefreshFailed, Provider: e.provider.Name, Owner: next.Owner, Err: err})
		return nil, fmt.Errorf("%w: saving refreshed token: %w", ErrStore, err)
	}
}
