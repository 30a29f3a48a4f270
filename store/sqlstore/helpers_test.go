package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(testutil.ReportingM{M: m}) }

const defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresURL is the test server's address: OAUTHLINK_TEST_POSTGRES or the
// project's loopback default.
func postgresURL() string {
	if u := os.Getenv("OAUTHLINK_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultPostgres
}

// unavailable skips t because a server is down, or fails it under CI, where
// every store must be tested.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI is set: the server must be reachable)", args...)
	}
	testutil.SkipUnavailable(t, fmt.Sprintf(format+" (set OAUTHLINK_TEST_POSTGRES, or CI to make this fatal)", args...))
}

// postgresErr remembers whether the server answered once, so that a
// missing server costs one connect timeout, not one per test.
var postgresErr = sync.OnceValue(func() error {
	db := openPgx(postgresURL())
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
})

// testDB is an empty database of its own for one test.
type testDB struct {
	*sql.DB
	// opts selects the database's tables (the PostgreSQL schema).
	opts Options
	// reopen opens another pool on the same database, as a second
	// instance would.
	reopen func(t testing.TB) *sql.DB
	// readOnly opens a read-only pool on the same database.
	readOnly func(t testing.TB) *sql.DB
}

// backend opens test databases of one dialect, with cleanup registered.
type backend struct {
	name string
	open func(t testing.TB) *testDB
}

var backends = []backend{
	{name: "sqlite", open: func(t testing.TB) *testDB {
		path := filepath.Join(t.TempDir(), "oauthlink.db")
		return &testDB{
			DB:       openSQLite(t, path, ""),
			reopen:   func(t testing.TB) *sql.DB { return openSQLite(t, path, "") },
			readOnly: func(t testing.TB) *sql.DB { return openSQLite(t, path, "&mode=ro") },
		}
	}},
	{name: "postgres", open: func(t testing.TB) *testDB {
		if err := postgresErr(); err != nil {
			unavailable(t, "PostgreSQL at %s is unreachable: %v", redactURL(postgresURL()), err)
		}
		db := openPostgres(t, "")
		schema := "oauthlink_test_" + strings.ToLower(rand.Text()[:12])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema)
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
			require.NoError(t, err)
		})
		return &testDB{
			DB:       db,
			opts:     Options{Dialect: Postgres, Schema: schema},
			reopen:   func(t testing.TB) *sql.DB { return openPostgres(t, "") },
			readOnly: func(t testing.TB) *sql.DB { return openPostgres(t, "default_transaction_read_only=on") },
		}
	}},
}

func openSQLite(t testing.TB, path, extra string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+extra)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// openPostgres opens a pool on the test server, with extra query
// parameters (runtime settings) appended to its URL.
func openPostgres(t testing.TB, extra string) *sql.DB {
	t.Helper()
	u := postgresURL()
	if extra != "" {
		if strings.Contains(u, "?") {
			u += "&" + extra
		} else {
			u += "?" + extra
		}
	}
	db := openPgx(u)
	// Keep the connections the suite's bursts of concurrent writers open
	// (database/sql keeps 2 idle by default and would reconnect).
	db.SetMaxIdleConns(20)
	t.Cleanup(func() { db.Close() })
	return db
}

// redactURL drops a password from a database URL for messages.
func redactURL(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	userinfo := u[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return u[:scheme+3] + userinfo[:i] + ":xxx" + u[at:]
	}
	return u
}

// forBackends runs f as a parallel subtest per dialect.
func forBackends(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// newTestStore opens an empty database of b and returns a migrated Store on
// it with clock now (nil: time.Now).
func newTestStore(t testing.TB, b backend, now func() time.Time) (*Store, *testDB) {
	t.Helper()
	db := b.open(t)
	s := newOn(t, db.DB, db, now)
	return s, db
}

// newOn returns a migrated Store over pool (db or another pool on it).
func newOn(t testing.TB, pool *sql.DB, db *testDB, now func() time.Time) *Store {
	t.Helper()
	opts := db.opts
	opts.Now = now
	s, err := New(testutil.Context(t), pool, opts)
	require.NoError(t, err)
	return s
}

// clock is a settable clock for Options.Now.
type clock = oauthlinktest.Clock

func newClock() *clock { return oauthlinktest.NewClock(time.Now().UTC().Truncate(time.Millisecond)) }

// openPgx opens PostgreSQL through pgx's database/sql driver.
func openPgx(url string) *sql.DB {
	db, err := sql.Open("pgx", url)
	if err != nil {
		panic(err) // sql.Open fails only for an unknown driver name
	}
	return db
}
