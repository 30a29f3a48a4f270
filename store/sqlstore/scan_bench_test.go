package sqlstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// scanBenchEnv sets BenchmarkScan's fleet size.
const scanBenchEnv = "OAUTHLINK_BENCH_SCAN_N"

// scanBenchN is BenchmarkScan's fleet size: $OAUTHLINK_BENCH_SCAN_N, or
// 10,000.
func scanBenchN(b *testing.B) int {
	v := os.Getenv(scanBenchEnv)
	if v == "" {
		return 10_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number of connections", scanBenchEnv, v)
	}
	return n
}

// BenchmarkScan seeds a fleet of connections (see fleetConnection; 10,000
// unless OAUTHLINK_BENCH_SCAN_N says otherwise) and times paging through
// queries of it with pages of 1000, reporting connections per second:
//
//   - all: every connection, by (provider, owner);
//   - upkeep: one provider's active connections refreshed more than 60
//     days ago (about a third of them), oldest first;
//   - upkeep-all-providers: every connection refreshed more than 60 days
//     ago;
//   - account: the connections of one provider account (a webhook's
//     lookup), one Scan per op.
//
// The tables are analysed after seeding, as autovacuum or a scheduled
// ANALYZE would have done in production.
//
//	OAUTHLINK_BENCH_SCAN_N=100000 go test -run '^$' -bench BenchmarkScan
func BenchmarkScan(b *testing.B) {
	n := scanBenchN(b)
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, _ := newTestStore(b, be, nil)
			ctx := b.Context()
			base := time.Now().UTC()
			fleet := make([]*store.Connection, n)
			for i := range fleet {
				fleet[i] = fleetConnection(i, base)
			}
			start := time.Now()
			seed(b, ctx, s, fleet)
			b.Logf("seeded %d connections in %s", n, time.Since(start).Round(time.Millisecond))
			if _, err := s.db.ExecContext(ctx, "ANALYZE "+s.table("connections")); err != nil {
				b.Fatal(err)
			}
			cutoff := base.Add(-60 * 24 * time.Hour)
			for _, bc := range []struct {
				name string
				q    store.Query
			}{
				{"all", store.Query{}},
				{"upkeep", store.Query{Provider: "qonto", Status: store.StatusActive, RefreshedBefore: cutoff}},
				{"upkeep-all-providers", store.Query{RefreshedBefore: cutoff}},
			} {
				b.Run(bc.name, func(b *testing.B) {
					bc.q.Limit = 1000
					var rows int
					for b.Loop() {
						rows = pageThrough(b, ctx, s, bc.q)
					}
					b.ReportMetric(float64(rows), "conns/op")
					b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "conns/s")
				})
			}
			b.Run("account", func(b *testing.B) {
				i := 0
				for b.Loop() {
					q := store.Query{Provider: "qonto", AccountID: fmt.Sprintf("org_%06d", i%(n/10+1))}
					if _, err := s.Scan(ctx, q); err != nil {
						b.Fatal(err)
					}
					i += 7
				}
			})
		})
	}
}

// pageThrough pages through q and returns how many connections it read.
func pageThrough(b *testing.B, ctx context.Context, s *Store, q store.Query) int {
	rows := 0
	for {
		page, err := s.Scan(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(page.Connections)
		if page.Next == "" {
			return rows
		}
		q.Cursor = page.Next
	}
}
