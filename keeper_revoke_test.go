package oauthlink_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/fleet"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
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

// scanRecorder is a store whose Scan records each query and the
// connections it returned for it.
type scanRecorder struct {
	store.TokenStore
	mu    sync.Mutex
	scans []recordedScan
}

type recordedScan struct {
	q     store.Query
	conns []*store.Connection
}

func (s *scanRecorder) Unwrap() store.TokenStore { return s.TokenStore }

func (s *scanRecorder) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	page, err := s.TokenStore.(store.Scanner).Scan(ctx, q)
	if err == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := recordedScan{q: q}
		for _, c := range page.Connections {
			rec.conns = append(rec.conns, c.Clone())
		}
		s.scans = append(s.scans, rec)
	}
	return page, err
}

func (s *scanRecorder) take() []recordedScan {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.scans
	s.scans = nil
	return out
}

// TestKeeperReadsOnlyPendingForRevocations: the revocation step of a pass
// asks the store for the pending connections (Query.PendingRevocation)
// instead of reading every connection of the provider and skipping the
// ones with nothing to revoke; the refresh step reads only the due ones.
// Between them, a pass never loads an active connection that is neither
// due nor pending.
func TestKeeperReadsOnlyPendingForRevocations(t *testing.T) {
	rec := &scanRecorder{TokenStore: memstore.New()}
	e := keeperEnv(t, withStore(rec))
	for i := range 6 {
		e.connected("qonto", fmt.Sprintf("idle-%d", i)) // active, not due
	}
	e.connected("qonto", "shop-disconnected")
	e.connected("qonto", "shop-retired")
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable})
	}
	require.ErrorIs(t, e.links["qonto"].Disconnect(context.Background(), "shop-disconnected"), oauthlink.ErrRevoke)
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable})
	}
	e.connected("qonto", "shop-retired") // reconnect; the old grant's revocation fails
	rec.take()

	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{PageSize: 1})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 2, rep.RevocationsCompleted)
	assert.Zero(t, rep.Refreshed, "nothing is due")

	var pendingScans int
	var loaded []string
	for _, sc := range rec.take() {
		assert.Equal(t, "qonto", sc.q.Provider)
		assert.True(t, sc.q.PendingRevocation || !sc.q.RefreshedBefore.IsZero(),
			"a scan of every connection of the provider: %+v", sc.q)
		for _, c := range sc.conns {
			if sc.q.PendingRevocation {
				assert.True(t, c.PendingRevocation(), "the revocation step loaded %s, not pending", c.Owner)
				loaded = append(loaded, c.Owner)
			}
			assert.NotContains(t, c.Owner, "idle-", "a pass loaded a connection with nothing to do")
		}
		if sc.q.PendingRevocation {
			pendingScans++
		}
	}
	assert.ElementsMatch(t, []string{"shop-disconnected", "shop-retired"}, loaded)
	assert.Equal(t, 2, pendingScans, "page size 1: one page per pending connection, and the last says so")

	// The revocations done, the next pass reads no connection at all.
	rep, err = k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Zero(t, rep.Checked)
	for _, sc := range rec.take() {
		assert.Empty(t, sc.conns, "%+v", sc.q)
	}
}

// filterBlind is a Scanner written before Query.PendingRevocation
// existed: it ignores the filter and returns every connection.
type filterBlind struct{ store.TokenStore }

func (s filterBlind) Unwrap() store.TokenStore { return s.TokenStore }

func (s filterBlind) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	q.PendingRevocation = false
	return s.TokenStore.(store.Scanner).Scan(ctx, q)
}

// TestKeeperRevocationsOnAFilterBlindScanner: with a store that ignores
// PendingRevocation, the keeper still works on the pending connections
// only.
func TestKeeperRevocationsOnAFilterBlindScanner(t *testing.T) {
	e := keeperEnv(t, withStore(filterBlind{memstore.New()}))
	for i := range 3 {
		e.connected("qonto", fmt.Sprintf("idle-%d", i))
	}
	e.connected("qonto", "shop-1")
	for range 4 {
		e.qonto.Fault(oauthlinktest.EndpointRevoke, oauthlinktest.Fault{Status: http.StatusServiceUnavailable})
	}
	require.ErrorIs(t, e.links["qonto"].Disconnect(context.Background(), "shop-1"), oauthlink.ErrRevoke)
	k, _ := e.keeper(e.links["qonto"], fleet.KeeperOptions{})
	rep, err := k.Pass(passCtx(t))
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Checked, "only the pending connection is worked on")
	assert.Equal(t, 1, rep.RevocationsCompleted)
	for i := range 3 {
		_, err := e.load("qonto", fmt.Sprintf("idle-%d", i))
		assert.NoError(t, err)
	}
}
