package main

import (
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresPool: the demo's PostgreSQL store holds at most pgMaxConns
// connections however many requests wait (several instances share the
// server's max_connections), and keeps them open when the burst is over
// (database/sql's default of 2 idle connections would close the rest, so
// the next burst pays for new server processes again).
//
// 64 concurrent List calls are held inside PostgreSQL by a table lock the
// test takes first, so each admitted call holds its connection until the
// lock is released; the store's connections are counted in
// pg_stat_activity by an application_name of the test's own.
func TestPostgresPool(t *testing.T) {
	storeURL := postgresStore(t)
	u, err := url.Parse(storeURL)
	require.NoError(t, err)
	appName := "demo-pool-" + strings.ToLower(rand.Text()[:10])
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	spec, err := parseStore(u.String())
	require.NoError(t, err)
	ctx := testContext(t)
	st, closeStore, err := openStore(ctx, spec, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer closeStore()

	admin, err := sql.Open("pgx", storeURL) // the same schema, another name
	require.NoError(t, err)
	defer admin.Close()
	count := func() int {
		var n int
		require.NoError(t, admin.QueryRowContext(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", appName).Scan(&n))
		return n
	}
	// Idle connections left from New's migration do not count.
	require.LessOrEqual(t, count(), pgMaxConns)

	tx, err := admin.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "LOCK TABLE oauthlink_connections IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, loadClients)
	for i := range loadClients {
		wg.Go(func() {
			if _, err := st.List(ctx, fmt.Sprintf("pool-owner-%d", i)); err != nil {
				errs <- err
			}
		})
	}
	// Every admitted List waits for the lock on a connection of its own:
	// the count reaches the limit, then stays there.
	deadline := time.Now().Add(20 * time.Second)
	for n := count(); n < pgMaxConns; n = count() {
		require.True(t, time.Now().Before(deadline), "only %d connections after 20 s", n)
		time.Sleep(5 * time.Millisecond)
	}
	seen := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		seen = max(seen, count())
	}
	assert.Equal(t, pgMaxConns, seen, "connections while %d requests wait", loadClients)

	require.NoError(t, tx.Rollback())
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, pgMaxConns, count(), "connections kept open after the burst")
}
