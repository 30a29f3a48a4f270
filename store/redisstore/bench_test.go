package redisstore

import (
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"
)

// BenchmarkLoad reads one connection.
func BenchmarkLoad(b *testing.B) {
	s, _ := newTestStore(b, Options{})
	ctx := b.Context()
	if err := s.Save(ctx, testutil.BenchConnection()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Load(ctx, "qonto", "shop-42"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave updates one connection (the compare-and-swap script).
func BenchmarkSave(b *testing.B) {
	s, _ := newTestStore(b, Options{})
	ctx := b.Context()
	c := testutil.BenchConnection()
	for b.Loop() {
		if err := s.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveRefresh updates one connection as a token refresh does:
// new tokens and a new RefreshedAt, which moves its members in the index
// sets ordered by RefreshedAt.
func BenchmarkSaveRefresh(b *testing.B) {
	s, _ := newTestStore(b, Options{})
	ctx := b.Context()
	c := testutil.BenchConnection()
	c.AccountID = "org_1"
	at := time.Now().Truncate(time.Millisecond)
	for b.Loop() {
		at = at.Add(time.Millisecond)
		c.RefreshedAt = at
		if err := s.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
