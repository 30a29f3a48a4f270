package storetest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// tokenStoreOnly hides every optional capability.
type tokenStoreOnly struct{ store.TokenStore }

// faulty wraps memstore with one defect.
type faulty struct {
	*memstore.Store
	fault string

	mu     sync.Mutex
	loaded map[[2]string]*oauthlink.Connection // alias-load: what Load handed out
	saved  map[[2]string]*oauthlink.Connection // alias-save: what Save was given
	saving chan struct{}                       // delete-version-check-then-delete: closed by the next Save
	// alias-retired: the Retired slice each Save was given, which Load
	// hands out as is.
	retired map[[2]string][]store.RetiredToken
}

func (f *faulty) ctx(ctx context.Context) context.Context {
	if f.fault == "ignore-ctx" {
		return context.Background()
	}
	return ctx
}

func (f *faulty) key(provider, owner string) (string, string) {
	if f.fault == "case-insensitive-keys" {
		return strings.ToLower(provider), strings.ToLower(owner)
	}
	return provider, owner
}

func (f *faulty) Load(ctx context.Context, provider, owner string) (*oauthlink.Connection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]string{provider, owner}
	switch f.fault {
	case "alias-load":
		if c := f.loaded[k]; c != nil {
			return c, nil
		}
	case "alias-save":
		if c := f.saved[k]; c != nil {
			return c, nil
		}
	}
	p, o := f.key(provider, owner)
	c, err := f.Store.Load(f.ctx(ctx), p, o)
	if r, ok := f.retired[k]; ok && err == nil {
		c.Retired = r
	}
	if err == nil && f.fault == "alias-load" {
		if f.loaded == nil {
			f.loaded = map[[2]string]*oauthlink.Connection{}
		}
		f.loaded[k] = c
	}
	return c, err
}

func (f *faulty) List(ctx context.Context, owner string) ([]*oauthlink.Connection, error) {
	_, o := f.key("", owner)
	list, err := f.Store.List(f.ctx(ctx), o)
	if f.fault == "unsorted-list" {
		slices.Reverse(list)
	}
	return list, err
}

func (f *faulty) Save(ctx context.Context, c *oauthlink.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.loaded, [2]string{c.Provider, c.Owner})
	rec := c.Clone()
	rec.Provider, rec.Owner = f.key(c.Provider, c.Owner)
	switch f.fault {
	case "second-precision":
		rec.Expiry = rec.Expiry.Truncate(time.Second)
	case "drop-retired":
		rec.Retired = nil
	case "retired-sorted":
		slices.SortStableFunc(rec.Retired, func(a, b store.RetiredToken) int { return a.Since.Compare(b.Since) })
	case "zero-expiry-as-epoch":
		if rec.Expiry.IsZero() {
			rec.Expiry = time.Unix(0, 0).UTC()
		}
	case "retired-not-cleared":
		if len(rec.Retired) == 0 && c.Version != 0 {
			if cur, err := f.Store.Load(ctx, rec.Provider, rec.Owner); err == nil {
				rec.Retired = cur.Retired
			}
		}
	}
	err := f.Store.Save(f.ctx(ctx), rec)
	if errors.Is(err, store.ErrVersionConflict) {
		cur, lerr := f.Store.Load(ctx, rec.Provider, rec.Owner)
		switch {
		case f.fault == "blind-write" && c.Version != 0 && lerr == nil:
			rec.Version = cur.Version
			err = f.Store.Save(ctx, rec)
		case f.fault == "create-overwrites" && c.Version == 0 && lerr == nil:
			_ = f.Store.Delete(ctx, rec.Provider, rec.Owner)
			err = f.Store.Save(ctx, rec)
		case f.fault == "update-missing-creates" && errors.Is(lerr, store.ErrNotFound):
			rec.Version = 0
			err = f.Store.Save(ctx, rec)
		}
	}
	if err != nil {
		return err
	}
	c.Version, c.CreatedAt, c.UpdatedAt = rec.Version, rec.CreatedAt, rec.UpdatedAt
	if f.saving != nil {
		close(f.saving)
		f.saving = nil
	}
	if f.fault == "alias-save" {
		if f.saved == nil {
			f.saved = map[[2]string]*oauthlink.Connection{}
		}
		f.saved[[2]string{c.Provider, c.Owner}] = c
	}
	if f.fault == "alias-retired" {
		if f.retired == nil {
			f.retired = map[[2]string][]store.RetiredToken{}
		}
		f.retired[[2]string{c.Provider, c.Owner}] = c.Retired // the caller's backing array
	}
	return nil
}

func (f *faulty) Delete(ctx context.Context, provider, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.loaded, [2]string{provider, owner})
	delete(f.saved, [2]string{provider, owner})
	delete(f.retired, [2]string{provider, owner})
	p, o := f.key(provider, owner)
	return f.Store.Delete(f.ctx(ctx), p, o)
}

func (f *faulty) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	f.mu.Lock()
	delete(f.loaded, [2]string{provider, owner})
	delete(f.saved, [2]string{provider, owner})
	if f.fault == "delete-version-check-then-delete" && f.saving == nil {
		f.saving = make(chan struct{})
	}
	saving := f.saving
	f.mu.Unlock()
	p, o := f.key(provider, owner)
	switch f.fault {
	case "delete-version-ignores-version":
		return f.Store.Delete(ctx, p, o)
	case "delete-version-check-then-delete":
		cur, err := f.Store.Load(ctx, p, o)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Version != version {
			return store.ErrVersionConflict
		}
		// Hold the gap between the check and the delete open until a
		// Save lands in it (bounded: there may be none).
		select {
		case <-saving:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
		return f.Store.Delete(ctx, p, o)
	}
	return f.Store.DeleteVersion(f.ctx(ctx), p, o, version)
}

func (f *faulty) Ping(ctx context.Context) error { return f.Store.Ping(f.ctx(ctx)) }

func (f *faulty) Consume(ctx context.Context, key string, expires time.Time) (bool, error) {
	switch f.fault {
	case "replay-always-first":
		return true, ctx.Err()
	case "replay-never-expires":
		expires = expires.Add(24 * time.Hour)
	}
	return f.Store.Consume(f.ctx(ctx), key, expires)
}

// toyLocker is a polling lock with one defect, named by its fault:
//
//   - lock-unlocks-any-holder: Release deletes the lock whoever holds it,
//     so a holder whose lock expired releases its successor's.
//   - renew-never-extends: Renew reports success and moves Deadline, but
//     the lock still expires at its first ttl.
//   - renew-any-holder: Renew takes the lock back whoever holds it, even
//     after it expired, was taken or was released.
//
// Everything else about it is correct.
type toyLocker struct {
	*faulty
	mu   sync.Mutex
	held map[[2]string]toyHold
	next int
}

// toyHold is the current holder of one lock.
type toyHold struct {
	id      int
	expires time.Time
}

func (l *toyLocker) Lock(ctx context.Context, provider, owner string, ttl time.Duration) (store.Lease, error) {
	k := [2]string{provider, owner}
	for {
		l.mu.Lock()
		now := time.Now()
		if cur, ok := l.held[k]; !ok || !now.Before(cur.expires) {
			l.next++
			l.held[k] = toyHold{l.next, now.Add(ttl)}
			l.mu.Unlock()
			return &toyLease{l: l, k: k, id: l.next, deadline: now.Add(ttl)}, nil
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// toyLease is a toyLocker lock; its fields are guarded by l.mu.
type toyLease struct {
	l        *toyLocker
	k        [2]string
	id       int
	deadline time.Time
	lost     bool
}

func (e *toyLease) Deadline() time.Time {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	return e.deadline
}

func (e *toyLease) Renew(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	now := time.Now()
	cur, ok := e.l.held[e.k]
	switch e.l.fault {
	case "renew-never-extends":
		e.deadline = now.Add(ttl)
		return nil
	case "renew-any-holder":
		e.l.held[e.k] = toyHold{e.id, now.Add(ttl)}
		e.deadline = now.Add(ttl)
		return nil
	}
	if e.lost || !ok || cur.id != e.id || !now.Before(cur.expires) {
		e.lost = true
		return store.ErrLeaseLost
	}
	e.l.held[e.k] = toyHold{e.id, now.Add(ttl)}
	e.deadline = now.Add(ttl)
	return nil
}

func (e *toyLease) Release() {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	e.lost = true
	if cur, ok := e.l.held[e.k]; ok && (cur.id == e.id || e.l.fault == "lock-unlocks-any-holder") {
		delete(e.l.held, e.k)
	}
}
