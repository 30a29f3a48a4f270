package redisstore

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

var benchScanN = flag.Int("scan.n", 10_000, "how many connections BenchmarkScan seeds")

// BenchmarkScan seeds -scan.n connections (default 10,000) and pages
// through them with Limit 1000: All reads every one; Upkeep asks for the
// active qonto connections refreshed more than 60 days ago, a tenth of
// the fleet, as a keep-alive job would. Both report connections/s.
//
//	go test -run '^$' -bench Scan -scan.n 100000
func BenchmarkScan(b *testing.B) {
	s, _ := newTestStore(b, Options{})
	ctx := b.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	n := *benchScanN
	start := time.Now()
	due := seedFleet(b, ctx, s, n, now)
	b.Logf("seeded %d connections in %s; index %s", n, time.Since(start).Round(time.Millisecond), indexMemory(b, ctx, s, n))

	b.Run("All", func(b *testing.B) {
		benchScanPages(b, ctx, s, store.Query{Limit: 1000}, n)
	})
	b.Run("Upkeep", func(b *testing.B) {
		q := store.Query{Provider: "qonto", Status: store.StatusActive, RefreshedBefore: now.AddDate(0, 0, -60), Limit: 1000}
		benchScanPages(b, ctx, s, q, due)
	})
}

// benchScanPages scans q to its end in every iteration, checks it found
// want connections, and reports connections/s.
func benchScanPages(b *testing.B, ctx context.Context, s *Store, q store.Query, want int) {
	total := 0
	for b.Loop() {
		q := q
		got := 0
		for {
			p, err := s.Scan(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			got += len(p.Connections)
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		if got != want {
			b.Fatalf("scanned %d connections, want %d", got, want)
		}
		total += got
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "conns/s")
}

// seedFleet saves n connections with saveScript, 1000 per pipelined round
// trip: half qonto and half mollie, four in five active, RefreshedAt
// spread evenly over the last 80 days, so that a quarter of them were
// refreshed more than 60 days ago. It returns how many of them the
// Upkeep query finds (a tenth).
func seedFleet(b *testing.B, ctx context.Context, s *Store, n int, now time.Time) (due int) {
	b.Helper()
	if err := saveScript.Load(ctx, s.client).Err(); err != nil {
		b.Fatal(err)
	}
	base := testutil.BenchConnection()
	for i := 0; i < n; i += 1000 {
		pipe := s.client.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			c := base.Clone()
			c.Provider = []string{"qonto", "mollie"}[j%2]
			c.Owner = fmt.Sprintf("shop-%07d", j)
			c.AccountID = fmt.Sprintf("org_%d", j)
			if j%10 >= 8 {
				c.Status = store.StatusReauthRequired
			}
			age := time.Duration(j/10%80)*24*time.Hour + time.Hour
			c.RefreshedAt = now.Add(-age)
			if c.Provider == "qonto" && c.Status == store.StatusActive && age > 60*24*time.Hour {
				due++
			}
			w, err := s.prepareSave(c)
			if err != nil {
				b.Fatal(err)
			}
			saveScript.EvalSha(ctx, pipe, w.keys, w.args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return due
}

// indexMemory describes what the index sets take in Redis, in all and per
// connection.
func indexMemory(b *testing.B, ctx context.Context, s *Store, n int) string {
	var total int64
	for _, k := range s.setKeys() {
		v, err := s.client.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		total += v
	}
	record, err := s.client.MemoryUsage(ctx, s.connKey("qonto", "shop-0000000"), 0).Result()
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("%.1f MB, %d bytes per connection (a record: %d bytes)", float64(total)/1e6, total/int64(n), record)
}
