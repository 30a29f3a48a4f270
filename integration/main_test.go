package integration_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/redisstore"
	"github.com/oauthlink/oauthlink/store/sqlstore"
)

// Every pool, client, proxy and fake is closed by its test's cleanup, so
// no goroutine may outlive the package: no pgx or go-redis goroutine needs
// an exception. A test binary started with childEnv set is an instance
// of the app in a process of its own (see child_test.go), not a test run.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(testutil.ReportingM{M: m})
}

const defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresURL is the test server: OAUTHLINK_TEST_POSTGRES or the project's
// loopback default.
func postgresURL() string {
	if u := os.Getenv("OAUTHLINK_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultPostgres
}

// redisOptions reads OAUTHLINK_TEST_REDIS: a redis:// or rediss:// URL, or
// host:port. Default 127.0.0.1:6379.
func redisOptions() (*redis.Options, error) {
	addr := os.Getenv("OAUTHLINK_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if strings.HasPrefix(addr, "redis://") || strings.HasPrefix(addr, "rediss://") {
		return redis.ParseURL(addr)
	}
	return &redis.Options{Addr: addr}, nil
}

// unavailable skips t because a server is down, or fails it when CI is set,
// where every store must be tested.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+" (CI is set: the server must be reachable)", args...)
	}
	testutil.SkipUnavailable(t, fmt.Sprintf(format+" (set OAUTHLINK_TEST_POSTGRES / OAUTHLINK_TEST_REDIS, or CI to make this fatal)", args...))
}

// postgresErr and redisErr remember whether the server answered once, so a
// missing server costs one connect timeout, not one per test.
var postgresErr = sync.OnceValue(func() error {
	db, err := sql.Open("pgx", postgresURL())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
})

var redisErr = sync.OnceValue(func() error {
	opts, err := redisOptions()
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
})

// clock is the settable clock shared by the fake provider, the connectors
// and the SQL store, so tokens expire without sleeping.
type clock = oauthlinktest.Clock

func newClock() *clock { return oauthlinktest.NewClock(time.Now().UTC().Truncate(time.Second)) }

// testContext bounds a test's own store calls, so that a hang fails the
// test instead of the whole run.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// backend is one real store server shared by every instance of a test:
// one PostgreSQL schema or one Redis key prefix of the test's own, removed
// at cleanup. Each instance opens its own pool or client on it.
type backend struct {
	name string
	// spec is what a child process needs to open the same backend.
	spec backendSpec
	// addr is the server's host:port, the target of a proxy.
	addr string
	// open returns a new instance's store on its own pool or client, whose
	// server connections carry name (PostgreSQL application_name, Redis
	// client name) and go to addr (the server, or a proxy in front of it).
	open func(t testing.TB, name, addr string, now func() time.Time) store.TokenStore
	// kill terminates every server connection of the instance called name
	// (pg_terminate_backend, CLIENT KILL) and returns how many it ended.
	kill func(ctx context.Context, name string) (int, error)
	// connections counts the server connections of the instance called
	// name.
	connections func(ctx context.Context, name string) (int, error)
	// inspect is a store without encryption on its own pool, to read what
	// is really stored.
	inspect store.TokenStore
}

// backendSpec names a backend for another process: the server comes from
// the same environment variables, the schema or key prefix from here.
type backendSpec struct {
	Kind   string // "postgres" or "redis"
	Schema string // postgres
	Prefix string // redis
}

// openSpec opens an instance's store on the backend spec names, on a pool
// or client of its own whose connections carry name, outside any test (a
// child process); closeFn closes the pool or client.
func openSpec(ctx context.Context, spec backendSpec, name string, now func() time.Time) (st store.TokenStore, closeFn func() error, err error) {
	switch spec.Kind {
	case "postgres":
		u, err := url.Parse(postgresURL())
		if err != nil {
			return nil, nil, err
		}
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			return nil, nil, err
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		s, err := sqlstore.New(ctx, db, sqlstore.Options{Dialect: sqlstore.Postgres, Schema: spec.Schema, Now: now})
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return s, db.Close, nil
	case "redis":
		opts, err := redisOptions()
		if err != nil {
			return nil, nil, err
		}
		opts.ClientName = name
		opts.ContextTimeoutEnabled = true
		c := redis.NewClient(opts)
		// The test Redis runs without persistence; the tests accept that
		// on purpose (redisstore refuses it unless told).
		s, err := redisstore.New(c, redisstore.Options{Prefix: spec.Prefix, AllowVolatile: true})
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return s, c.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown backend %q", spec.Kind)
}

// backendKinds are the shared stores the tests run on.
var backendKinds = []struct {
	name string
	new  func(t testing.TB) *backend
}{
	{"postgres", newPostgres},
	{"redis", newRedis},
}

// forBackends runs f as a subtest per backend.
func forBackends(t *testing.T, f func(t *testing.T, newBackend func(t testing.TB) *backend)) {
	t.Helper()
	for _, k := range backendKinds {
		t.Run(k.name, func(t *testing.T) { f(t, k.new) })
	}
}

// newPostgres creates a schema of the test's own on the PostgreSQL test
// server and returns a backend on it.
func newPostgres(t testing.TB) *backend {
	t.Helper()
	base, err := url.Parse(postgresURL())
	require.NoError(t, err, "OAUTHLINK_TEST_POSTGRES")
	if err := postgresErr(); err != nil {
		unavailable(t, "PostgreSQL at %s is unreachable: %v", base.Redacted(), err)
	}
	dsn := func(name, addr string) string {
		u := *base
		u.Host = addr
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		return u.String()
	}
	open := func(t testing.TB, name, addr string) *sql.DB {
		db, err := sql.Open("pgx", dsn(name, addr))
		require.NoError(t, err)
		// 4 instances share a server with other packages' tests: cap each
		// pool. One connection holds the refresh lock; the rest serve
		// loads and saves.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		t.Cleanup(func() { db.Close() })
		return db
	}
	adminName := "oauthlink-itest-admin-" + strings.ToLower(rand.Text()[:8])
	admin := open(t, adminName, base.Host)
	schema := "oauthlink_itest_" + strings.ToLower(rand.Text()[:12])
	ctx := testContext(t)
	_, err = admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		require.NoError(t, err)
	})
	newStore := func(t testing.TB, db *sql.DB, now func() time.Time) *sqlstore.Store {
		s, err := sqlstore.New(testContext(t), db, sqlstore.Options{Dialect: sqlstore.Postgres, Schema: schema, Now: now})
		require.NoError(t, err)
		return s
	}
	b := &backend{
		name: "postgres",
		spec: backendSpec{Kind: "postgres", Schema: schema},
		addr: base.Host,
		open: func(t testing.TB, name, addr string, now func() time.Time) store.TokenStore {
			return newStore(t, open(t, name, addr), now)
		},
		kill: func(ctx context.Context, name string) (int, error) {
			rows, err := admin.QueryContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, name)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			return n, rows.Err()
		},
		connections: func(ctx context.Context, name string) (int, error) {
			var n int
			err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = $1`, name).Scan(&n)
			return n, err
		},
	}
	b.inspect = newStore(t, admin, nil)
	return b
}

// newRedis reserves a key prefix of the test's own on the Redis test server
// and returns a backend on it.
func newRedis(t testing.TB) *backend {
	t.Helper()
	base, err := redisOptions()
	require.NoError(t, err, "OAUTHLINK_TEST_REDIS")
	if err := redisErr(); err != nil {
		unavailable(t, "Redis at %s is unreachable: %v", base.Addr, err)
	}
	client := func(t testing.TB, name, addr string) *redis.Client {
		opts := *base
		opts.Addr = addr
		opts.ClientName = name
		opts.ContextTimeoutEnabled = true
		c := redis.NewClient(&opts)
		t.Cleanup(func() { c.Close() })
		return c
	}
	admin := client(t, "oauthlink-itest-admin-"+strings.ToLower(rand.Text()[:8]), base.Addr)
	prefix := "oauthlink-itest:" + strings.ToLower(rand.Text()[:12]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var keys []string
		iter := admin.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		require.NoError(t, iter.Err())
		if len(keys) > 0 {
			require.NoError(t, admin.Del(ctx, keys...).Err())
		}
	})
	// clientIDs lists the ids of the connections named name. CLIENT KILL
	// has no name filter, so the list is read and each id killed.
	clientIDs := func(ctx context.Context, name string) ([]string, error) {
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			return nil, err
		}
		var ids []string
		sc := bufio.NewScanner(strings.NewReader(list))
		for sc.Scan() {
			var id string
			named := false
			for _, f := range strings.Fields(sc.Text()) {
				k, v, _ := strings.Cut(f, "=")
				switch {
				case k == "id":
					id = v
				case k == "name" && v == name:
					named = true
				}
			}
			if named && id != "" {
				ids = append(ids, id)
			}
		}
		return ids, sc.Err()
	}
	newStore := func(t testing.TB, c *redis.Client) *redisstore.Store {
		// The test Redis runs without persistence; the tests accept that
		// on purpose (redisstore refuses it unless told).
		s, err := redisstore.New(c, redisstore.Options{Prefix: prefix, AllowVolatile: true})
		require.NoError(t, err)
		return s
	}
	b := &backend{
		name: "redis",
		spec: backendSpec{Kind: "redis", Prefix: prefix},
		addr: base.Addr,
		open: func(t testing.TB, name, addr string, _ func() time.Time) store.TokenStore {
			// redisstore stamps UpdatedAt with the real clock; it has no
			// clock option.
			return newStore(t, client(t, name, addr))
		},
		kill: func(ctx context.Context, name string) (int, error) {
			ids, err := clientIDs(ctx, name)
			if err != nil {
				return 0, err
			}
			n := 0
			for _, id := range ids {
				k, err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Int()
				if err != nil {
					return n, fmt.Errorf("CLIENT KILL ID %s: %w", id, err)
				}
				n += k
			}
			return n, nil
		},
		connections: func(ctx context.Context, name string) (int, error) {
			ids, err := clientIDs(ctx, name)
			return len(ids), err
		},
	}
	b.inspect = newStore(t, admin)
	return b
}
