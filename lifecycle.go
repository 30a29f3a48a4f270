package oauthlink

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oauthlink/oauthlink/internal/lifecycle"
	"github.com/oauthlink/oauthlink/store"
)

// The engine as internal/lifecycle sees it: what package keeper may ask.
func init() {
	lifecycle.Of = func(connector any) (lifecycle.Engine, bool) {
		c, ok := connector.(*Connector)
		if !ok || c == nil || c.e == nil {
			return nil, false
		}
		return lifecycleEngine{c.e}, true
	}
}

// lifecycleEngine adapts the engine to lifecycle.Engine.
type lifecycleEngine struct{ e *engine }

func (l lifecycleEngine) Provider() (string, time.Duration) {
	return l.e.provider.Name, l.e.provider.IdleLifetime
}

func (l lifecycleEngine) Scanner() (store.Scanner, bool) {
	return store.Capability[store.Scanner](l.e.store)
}

func (l lifecycleEngine) Now() time.Time             { return l.e.now() }
func (l lifecycleEngine) Logger() *slog.Logger       { return l.e.log }
func (l lifecycleEngine) CallTimeout() time.Duration { return l.e.opts.ExchangeTimeout }

func (l lifecycleEngine) RefreshAt(ctx context.Context, owner string, version int64) (bool, bool, error) {
	tap := &eventTap{}
	_, err := l.e.refresh(context.WithValue(ctx, eventTapKey{}, tap), owner, version, refreshForced)
	return err == nil && tap.refreshed.Load(), errors.Is(err, ErrReauthRequired) && tap.reauth.Load(), err
}

func (l lifecycleEngine) Load(ctx context.Context, owner string) (*store.Connection, error) {
	ctx, cancel := within(ctx, storeCallTimeout)
	defer cancel()
	return l.e.store.Load(ctx, l.e.provider.Name, owner)
}

func (l lifecycleEngine) Disconnect(ctx context.Context, owner string) error {
	return l.e.disconnect(ctx, owner)
}

func (l lifecycleEngine) Retire(ctx context.Context, owner string) (*store.Connection, error) {
	return l.e.retire(ctx, owner)
}

func (l lifecycleEngine) MarkRevoked(ctx context.Context, owner string, match func(*store.Connection) bool) (bool, error) {
	return l.e.markRevoked(ctx, owner, match)
}

func (l lifecycleEngine) Emit(ctx context.Context, kind string, d time.Duration, err error) {
	l.e.emit(ctx, Event{Kind: EventKind(kind), Provider: l.e.provider.Name, Duration: d, Err: err})
}

// eventTap records which events the engine emitted for one call; it rides
// in the call's context (engine.emit notes it), so a keeper tells a
// refresh of its own from a peer's.
type eventTap struct{ refreshed, reauth atomic.Bool }

type eventTapKey struct{}

// noteEvent records kind in ctx's eventTap, if it has one.
func noteEvent(ctx context.Context, kind EventKind) {
	t, ok := ctx.Value(eventTapKey{}).(*eventTap)
	if !ok {
		return
	}
	switch kind {
	case EventRefreshed:
		t.refreshed.Store(true)
	case EventReauthRequired:
		t.reauth.Store(true)
	}
}
