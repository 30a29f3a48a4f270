package testutil_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

func TestSyncBuffer(t *testing.T) {
	var b testutil.SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("x", 800) {
		t.Fatalf("got %d bytes", len(got))
	}
}

// locker is one lock, whatever the key, without expiry.
type locker struct{ sem chan struct{} }

type lease struct {
	once sync.Once
	l    *locker
}

func (l *lease) Deadline() time.Time                        { return time.Now().Add(time.Hour) }
func (l *lease) Renew(context.Context, time.Duration) error { return nil }
func (l *lease) Release()                                   { l.once.Do(func() { <-l.l.sem }) }

func (l *locker) Lock(ctx context.Context, _, _ string, _ time.Duration) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case l.sem <- struct{}{}:
		return &lease{l: l}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// conns is a TokenStore of one mutex-guarded map.
type conns struct {
	mu sync.Mutex
	m  map[string]store.Connection
}

func (s *conns) Load(_ context.Context, p, o string) (*store.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[p+"\x00"+o]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &c, nil
}

func (s *conns) Save(_ context.Context, c *store.Connection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := c.Provider + "\x00" + c.Owner
	if cur, ok := s.m[k]; cur.Version != c.Version || ok != (c.Version > 0) {
		return store.ErrVersionConflict
	}
	c.Version++
	s.m[k] = *c
	return nil
}

func (s *conns) List(context.Context, string) ([]*store.Connection, error) { return nil, nil }
func (s *conns) Delete(context.Context, string, string) error              { return nil }

func TestLockHelpers(t *testing.T) {
	s := &locker{sem: make(chan struct{}, 1)}
	ctx := testutil.Context(t)
	held, err := s.Lock(ctx, "p", "o", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	testutil.AssertLockHeld(t, ctx, s, "p", "o", 50*time.Millisecond, "held above")
	ch := testutil.LockAsync(ctx, s, "p", "o", time.Minute)
	testutil.AssertStillWaiting(t, ch)
	held.Release()
	r := testutil.AwaitLock(t, ch)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	r.Lease.Release()

	_, err = s.Lock(testutil.Canceled(ctx), "p", "o", time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock on a cancelled context: %v", err)
	}
}

func TestRaceCompareAndSwap(t *testing.T) {
	s := &conns{m: map[string]store.Connection{}}
	testutil.RaceCompareAndSwap(t, testutil.Context(t), []store.TokenStore{s, s}, 6)
}
