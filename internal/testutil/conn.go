package testutil

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// BenchConnection returns the connection the drivers' benchmarks save and
// load: ("qonto", "shop-42"), with fake tokens of realistic length (40 bytes), not yet
// created (Version 0).
func BenchConnection() *store.Connection {
	return &store.Connection{
		Provider: "qonto", Owner: "shop-42", AccessToken: store.Secret("fake-access-" + strings.Repeat("x", 28)),
		RefreshToken: store.Secret("fake-refresh-" + strings.Repeat("x", 28)), TokenType: "Bearer",
		Expiry: time.Now().Add(time.Hour), Scopes: []string{"offline_access", "organization.read"},
		Status: store.StatusActive,
	}
}

// RaceCompareAndSwap races writers on stores (taken in turn, as separate
// instances sharing one backend), first creating ("p", "o") and then
// updating it: of the writers that read one version, exactly one must
// commit and every other must get store.ErrVersionConflict.
func RaceCompareAndSwap(t testing.TB, ctx context.Context, stores []store.TokenStore, writers int) {
	t.Helper()
	for _, version := range []int64{0, 1} { // create, then update
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			st := stores[i%len(stores)]
			wg.Go(func() {
				errs[i] = st.Save(ctx, &store.Connection{Provider: "p", Owner: "o", Version: version,
					AccessToken: store.Secret(strconv.Itoa(i))})
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrVersionConflict):
				t.Errorf("version %d: writer %d: %v, want store.ErrVersionConflict", version, i, err)
			}
		}
		if won != 1 {
			t.Errorf("version %d: %d writers committed, want 1", version, won)
		}
		got, err := stores[0].Load(ctx, "p", "o")
		if err != nil {
			t.Fatalf("version %d: Load: %v", version, err)
		}
		if got.Version != version+1 {
			t.Errorf("version %d: stored version %d, want %d", version, got.Version, version+1)
		}
	}
}
