package replayguard

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The guard runs on the clock it is given: a key is refused until its
// expiry on that clock, then accepted again, and a full guard makes room
// only as the clock passes expiries.
func TestGuardOnInjectedClock(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(2, func() time.Time { return now })
	ctx := context.Background()
	consume := func(key string, ttl time.Duration) (bool, error) {
		return g.Consume(ctx, key, now.Add(ttl))
	}
	if first, err := consume("a", time.Minute); !first || err != nil {
		t.Fatalf("first a: %v %v", first, err)
	}
	if first, err := consume("a", time.Minute); first || err != nil {
		t.Fatalf("replayed a: %v %v", first, err)
	}
	if first, err := consume("b", 2*time.Minute); !first || err != nil {
		t.Fatalf("first b: %v %v", first, err)
	}
	if _, err := consume("c", time.Minute); !errors.Is(err, ErrFull) {
		t.Fatalf("full guard: %v, want ErrFull", err)
	}
	now = now.Add(time.Minute) // a expires on the injected clock, not the real one
	if first, err := consume("c", time.Minute); !first || err != nil {
		t.Fatalf("c after a expired: %v %v", first, err)
	}
	if first, err := consume("a", time.Minute); first || !errors.Is(err, ErrFull) {
		t.Fatalf("a while b and c are live: %v %v, want ErrFull", first, err)
	}
	now = now.Add(time.Minute) // b and c expire
	if first, err := consume("a", time.Minute); !first || err != nil {
		t.Fatalf("a after every expiry: %v %v, want accepted", first, err)
	}
	if g.Len() != 1 {
		t.Fatalf("Len %d, want 1", g.Len())
	}
}

func TestGuardPastExpiryRecordsNothing(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(1, func() time.Time { return now })
	if first, err := g.Consume(context.Background(), "k", now); !first || err != nil {
		t.Fatalf("%v %v", first, err)
	}
	if g.Len() != 0 {
		t.Fatalf("Len %d, want 0", g.Len())
	}
}

func TestGuardDoneContext(t *testing.T) {
	g := New(1, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Consume(ctx, "k", time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if g.Len() != 0 {
		t.Fatal("a done context recorded the key")
	}
}
