package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

// replayExpiryWait bounds how long after its expiry (plus expirySlack) a
// replay record may still refuse its key.
const replayExpiryWait = 5 * time.Second

// digest returns a key shaped like the ones the callback uses: a hex digest.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (s suite) testReplayGuard(t *testing.T) {
	if _, ok := s.store(t).(store.ReplayGuard); !ok {
		t.Skip("store does not implement store.ReplayGuard")
	}
	guard := func(t *testing.T) store.ReplayGuard { return s.store(t).(store.ReplayGuard) }
	consume := func(t *testing.T, rg store.ReplayGuard, key string, expires time.Time) bool {
		t.Helper()
		first, err := rg.Consume(testContext(t), key, expires)
		require.NoError(t, err, "Consume")
		return first
	}
	later := func() time.Time { return time.Now().Add(time.Hour) }

	t.Run("FirstThenReplayed", func(t *testing.T) {
		rg := guard(t)
		key := digest("state-1")
		assert.True(t, consume(t, rg, key, later()), "first Consume")
		assert.False(t, consume(t, rg, key, later()), "second Consume")
		assert.False(t, consume(t, rg, key, later()), "third Consume")
	})

	t.Run("KeysIndependent", func(t *testing.T) {
		rg := guard(t)
		keys := []string{digest("a"), digest("b"), "k", "k:", "K", "k*", "k%", "{k}"}
		for _, k := range keys {
			assert.True(t, consume(t, rg, k, later()), "first Consume of %q", k)
		}
		for _, k := range keys {
			assert.False(t, consume(t, rg, k, later()), "second Consume of %q", k)
		}
	})

	t.Run("ConcurrentConsumeOneWinner", func(t *testing.T) {
		const (
			callers = 16
			rounds  = 5
		)
		rg := guard(t)
		ctx := testContext(t)
		for round := range rounds {
			key := digest(fmt.Sprint("race-", round))
			firsts := make([]bool, callers)
			errs := make([]error, callers)
			race(t, "concurrent Consume", times(callers, func(i int) { firsts[i], errs[i] = rg.Consume(ctx, key, later()) })...)
			n := 0
			for i := range callers {
				if assert.NoError(t, errs[i]) && firsts[i] {
					n++
				}
			}
			assert.Equal(t, 1, n, "round %d: calls that saw first=true", round)
		}
	})

	// The contract does not say what an expires already in the past means,
	// so the suite records with a short future expiry and waits for it to
	// pass: a correct store cannot fail this however slow it is.
	t.Run("ExpiredConsumedAgain", func(t *testing.T) {
		rg := guard(t)
		key := digest("expiring")
		expires := time.Now().Add(shortTTL)
		assert.True(t, consume(t, rg, key, expires), "first Consume")
		// A store may count the time left from when the call reached it
		// (Redis's PX), which a loaded machine delays: poll, boundedly,
		// rather than bet on one moment. A record that outlives its
		// expiry by seconds still fails.
		waitUntil(expires.Add(expirySlack))
		limit := time.Now().Add(replayExpiryWait)
		for !consume(t, rg, key, later()) {
			require.True(t, time.Now().Before(limit), "Consume after the record expired: still refused %s after its expiry", replayExpiryWait)
			time.Sleep(expirySlack)
		}
		assert.False(t, consume(t, rg, key, later()), "Consume right after the new record")
	})
}
