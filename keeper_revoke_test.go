package oauthlink_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/fleet"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

// The Keeper's revocation retries, Retry-After, and a pass through the
// encrypting store.

func TestKeeperRetriesDisconnect(t *testing.T) {
	e := keeperEnv(t)
	conn := e.connected("qonto", "shop-1")
	e.connected("qonto", "shop-2")
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable})
	}
	require.ErrorIs(t, e.links["qonto"].Disconnect(context.Background(), "shop-1"), oauthlink.ErrRevoke)
	k, sl := e.keeper(e.links["qonto"], fleet.KeeperOptions{})

	// Still failing, with Retry-After: counted, kept, and the pass's next
	// send waits.
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	}
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Checked)
	assert.Equal(t, map[string]int{fleet.KeeperFailRevoke: 1}, rep.Failed)
	assert.Zero(t, rep.RevocationsCompleted)
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Equal(t, store.StatusDisconnected, stored.Status)

	rep, err = k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.RevocationsCompleted)
	assert.Nil(t, rep.Failed)
	assert.Contains(t, sl.waits, 30*time.Second, "Retry-After held the next send back")
	_, err = e.load("qonto", "shop-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.False(t, e.qonto.RefreshTokenValid(conn.RefreshToken.Reveal()))
	_, err = e.load("qonto", "shop-2")
	assert.NoError(t, err, "an active connection is left alone")
}

func TestKeeperRetriesRetired(t *testing.T) {
	e := keeperEnv(t)
	old := e.connected("qonto", "shop-1")
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable})
	}
	e.connected("qonto", "shop-1") // reconnect; the old grant's revocation fails
	stored, err := e.load("qonto", "shop-1")
	require.NoError(t, err)
	require.Len(t, stored.Retired, 1)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.RevocationsCompleted)
	stored, err = e.load("qonto", "shop-1")
	require.NoError(t, err)
	assert.Empty(t, stored.Retired)
	assert.False(t, e.qonto.RefreshTokenValid(old.RefreshToken.Reveal()))
	assert.True(t, e.qonto.RefreshTokenValid(stored.RefreshToken.Reveal()))
}

func TestKeeperHonoursRetryAfterOnRefresh(t *testing.T) {
	e := keeperEnv(t)
	e.fleet(2, 0)
	for range 4 { // every attempt of the first refresh
		e.qonto.Fault(oauthlinktest.EndpointToken, oauthlinktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	}
	k, sl := e.keeper(e.links["qonto"], fleet.KeeperOptions{Concurrency: 1, Rate: -1})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Checked)
	assert.Equal(t, 1, rep.Refreshed)
	assert.Equal(t, map[string]int{fleet.KeeperFailRefresh: 1}, rep.Failed)
	assert.Equal(t, []time.Duration{30 * time.Second}, sl.waits, "the second send waited out Retry-After")
	rep, err = k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Refreshed, "the failed one is retried by the next pass")
}

func TestKeeperThroughEncryptedStore(t *testing.T) {
	e := keeperEnv(t, withStore(encryptedMemstore(t, tokenKey("k1", 7))))
	due, _ := e.fleet(2, 1)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, len(due), rep.Refreshed)
	assert.Equal(t, len(due), e.qonto.Refreshes())
}
