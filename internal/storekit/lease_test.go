package storekit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

func TestLeaseStateRenew(t *testing.T) {
	var l LeaseState
	start := time.Unix(1_700_000_000, 0)
	l.Acquired(start.Add(time.Minute))
	if got := l.Deadline(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("Deadline after Acquired: %v", got)
	}
	ok := func(sent time.Time) RenewFunc {
		return func(context.Context) (time.Time, bool, error) { return sent, true, nil }
	}
	if err := l.Renew(t.Context(), time.Hour, ok(start.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Deadline(), start.Add(time.Second+time.Hour); !got.Equal(want) {
		t.Fatalf("Deadline after Renew: %v, want %v", got, want)
	}

	boom := errors.New("store down")
	err := l.Renew(t.Context(), time.Hour, func(context.Context) (time.Time, bool, error) { return start, false, boom })
	if err != boom {
		t.Fatalf("a failing store: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Renew(ctx, time.Hour, ok(start)); !errors.Is(err, context.Canceled) {
		t.Fatalf("a done context: %v", err)
	}
	if got, want := l.Deadline(), start.Add(time.Second+time.Hour); !got.Equal(want) {
		t.Fatalf("a failed Renew moved Deadline to %v", got)
	}

	gone := func(context.Context) (time.Time, bool, error) { return start, false, nil }
	if err := l.Renew(t.Context(), time.Hour, gone); err != store.ErrLeaseLost {
		t.Fatalf("a lease the store no longer holds: %v", err)
	}
	called := false
	err = l.Renew(t.Context(), time.Hour, func(context.Context) (time.Time, bool, error) {
		called = true
		return start, true, nil
	})
	if err != store.ErrLeaseLost || called {
		t.Fatalf("a lost lease stays lost without asking the store: %v, called %v", err, called)
	}
}

func TestLeaseStateRelease(t *testing.T) {
	var l LeaseState
	if !l.Release() {
		t.Fatal("the first Release is not first")
	}
	if l.Release() {
		t.Fatal("a second Release is first")
	}
	err := l.Renew(t.Context(), time.Hour, func(context.Context) (time.Time, bool, error) {
		t.Error("Renew after Release asked the store")
		return time.Now(), true, nil
	})
	if err != store.ErrLeaseLost {
		t.Fatalf("Renew after Release: %v", err)
	}
}

// TestLeaseStateReleaseDuringRenew: a renewal the store accepted after
// Release was called still leaves the lease lost.
func TestLeaseStateReleaseDuringRenew(t *testing.T) {
	var l LeaseState
	err := l.Renew(t.Context(), time.Hour, func(context.Context) (time.Time, bool, error) {
		l.Release()
		return time.Now(), true, nil
	})
	if err != store.ErrLeaseLost {
		t.Fatalf("got %v", err)
	}
}

// TestLeaseStateSerialises: a second renewal waits for the first, and
// gives up when its ctx ends.
func TestLeaseStateSerialises(t *testing.T) {
	var l LeaseState
	entered, proceed := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- l.Renew(t.Context(), time.Hour, func(context.Context) (time.Time, bool, error) {
			close(entered)
			<-proceed
			return time.Now(), true, nil
		})
	}()
	<-entered
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := l.Renew(ctx, time.Hour, func(context.Context) (time.Time, bool, error) {
		t.Error("ran while another renewal was under way")
		return time.Now(), true, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting renewal: %v", err)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
