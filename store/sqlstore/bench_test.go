package sqlstore

import (
	"testing"

	"github.com/oauthlink/oauthlink/internal/testutil"
)

// BenchmarkLoad reads one connection.
func BenchmarkLoad(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, _ := newTestStore(b, be, nil)
			ctx := b.Context()
			if err := s.Save(ctx, testutil.BenchConnection()); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Load(ctx, "qonto", "shop-42"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSave updates one connection (compare-and-swap on its version).
func BenchmarkSave(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, _ := newTestStore(b, be, nil)
			ctx := b.Context()
			c := testutil.BenchConnection()
			for b.Loop() {
				if err := s.Save(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
