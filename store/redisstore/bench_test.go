package redisstore

import (
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

func benchConn() *oauthlink.Connection {
	return &oauthlink.Connection{
		Provider: "qonto", Owner: "shop-42", AccessToken: "access_0123456789abcdef0123456789abcdef",
		RefreshToken: "refresh_0123456789abcdef0123456789abcdef", TokenType: "Bearer",
		Expiry: time.Now().Add(time.Hour), Scopes: []string{"offline_access", "organization.read"},
		Status: store.StatusActive,
	}
}

// BenchmarkLoad reads one connection.
func BenchmarkLoad(b *testing.B) {
	s, _ := newTestStore(b, Options{})
	ctx := b.Context()
	if err := s.Save(ctx, benchConn()); err != nil {
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
	c := benchConn()
	for b.Loop() {
		if err := s.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
