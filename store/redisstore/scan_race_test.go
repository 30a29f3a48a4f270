package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

// testScanConcurrentWriters scans while other goroutines keep changing,
// deleting and re-creating some connections: every connection left alone
// is returned exactly once by each scan it matches, and every connection
// returned matches the query.
func testScanConcurrentWriters(t *testing.T, open storeFactory) {
	s, _ := open(t)
	ctx := testutil.Context(t)
	still := map[[2]string]*store.Connection{}
	for i := range 60 {
		c := &store.Connection{Provider: scanProviders[i%2], Owner: fmt.Sprintf("still-%02d", i),
			Status: scanStatuses[i%3], AccountID: "org_1", RefreshedAt: scanBase.Add(time.Duration(i-30) * time.Minute)}
		require.NoError(t, s.Save(ctx, c))
		still[[2]string{c.Provider, c.Owner}] = c
	}
	writers, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { busyWriter(writers, s, w) })
	}
	queries := []store.Query{{}, {Status: store.StatusActive}, {RefreshedBefore: scanBase},
		{Provider: "mollie", Status: store.StatusActive, RefreshedBefore: scanBase.Add(time.Hour)},
		{Provider: "qonto", AccountID: "org_1"}}
	for range 3 {
		for _, q := range queries {
			seen := map[[2]string]int{}
			for _, c := range scanEverything(t, ctx, s, q, 3) {
				seen[[2]string{c.Provider, c.Owner}]++
				assert.True(t, storekit.Matches(c, q), "%+v returned %v", q, c)
			}
			for k, c := range still {
				if storekit.Matches(c, q) {
					assert.Equal(t, 1, seen[k], "%+v: %q returned %d times", q, k, seen[k])
				} else {
					assert.Zero(t, seen[k], "%+v: %q does not match", q, k)
				}
			}
		}
	}
	cancel()
	wg.Wait()
}

// busyWriter changes, deletes and re-creates connections of its own until
// ctx ends, moving them through every set's order.
func busyWriter(ctx context.Context, s *Store, w int) {
	for i := 0; ctx.Err() == nil; i++ {
		o := fmt.Sprintf("busy-%d-%d", w, i%5)
		p := scanProviders[(i+w)%2]
		c, err := s.Load(ctx, p, o)
		if err != nil {
			c = &store.Connection{Provider: p, Owner: o}
		}
		if i%9 == 0 && c.Version > 0 {
			_ = s.Delete(ctx, p, o)
			continue
		}
		c.Status = scanStatuses[i%3]
		c.AccountID = scanAccounts[i%2+1]
		c.RefreshedAt = scanBase.Add(time.Duration(i%120-60) * time.Minute)
		_ = s.Save(ctx, c)
	}
}
