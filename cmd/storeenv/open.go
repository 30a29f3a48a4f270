package storeenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/store/redisstore"
	"github.com/oauthlink/oauthlink/store/sqlstore"
)

// Spec is a parsed OAUTHLINK_STORE.
type Spec struct {
	Kind string // "sqlite", "memory", "postgres" or "redis"
	// Path is the SQLite file; URL the PostgreSQL or Redis URL.
	Path, URL string
}

// Parse parses "sqlite:<path>", "memory", "postgres://…" (or
// "postgresql://…") and "redis://…" (or "rediss://…").
func Parse(spec string) (Spec, error) {
	switch {
	case spec == "memory":
		return Spec{Kind: "memory"}, nil
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" || strings.ContainsAny(path, "?#") {
			return Spec{}, errors.New("OAUTHLINK_STORE: sqlite:<path> needs a file path without '?' or '#'")
		}
		return Spec{Kind: "sqlite", Path: path}, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return Spec{Kind: "postgres", URL: spec}, nil
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		return Spec{Kind: "redis", URL: spec}, nil
	}
	return Spec{}, errors.New(`OAUTHLINK_STORE must be "sqlite:<path>", "memory", "postgres://…" or "redis://…"`)
}

// String describes the store for a log or a page, without a password.
func (s Spec) String() string {
	switch s.Kind {
	case "sqlite":
		return "SQLite file " + s.Path
	case "memory":
		return "memory (lost on restart)"
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return s.Kind
	}
	return s.Kind + " at " + u.Redacted()
}

// Shared reports whether several instances can share the store.
func (s Spec) Shared() bool { return s.Kind == "postgres" || s.Kind == "redis" }

// OpenDriver opens the driver's store, unencrypted, and returns it with the
// function that closes what it opened. Every store here also implements
// store.Locker, store.ReplayGuard and store.Pinger, which oauthlink picks
// up by itself: on PostgreSQL and Redis, refresh locks and the replay guard
// are shared by every instance. A SQL store is migrated (sqlstore.New).
// Warnings about the store go to log.
func OpenDriver(ctx context.Context, s Spec, log *slog.Logger) (store.TokenStore, func() error, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch s.Kind {
	case "memory":
		return memstore.New(), func() error { return nil }, nil
	case "sqlite":
		// busy_timeout: a writer waits for the file lock instead of failing
		// at once; WAL lets readers work while a refresh writes.
		db, err := sql.Open("sqlite", "file:"+s.Path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			return nil, nil, err
		}
		return newSQLStore(ctx, db, s)
	case "postgres":
		db, err := sql.Open("pgx", s.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("opening %s: %w", s, err)
		}
		SizePostgresPool(db)
		return newSQLStore(ctx, db, s)
	case "redis":
		opts, err := redis.ParseURL(s.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("OAUTHLINK_STORE: %s is not a valid Redis URL", s)
		}
		client := redis.NewClient(opts)
		st, err := openRedis(ctx, client, log)
		if err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("opening %s: %w", s, err)
		}
		return st, client.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown store kind %q", s.Kind)
}

// PostgreSQL pool of each process (see sqlstore's package documentation on
// pool sizing).
const (
	// PostgresMaxConns bounds the process's connections, and as many stay
	// open when idle: database/sql keeps only 2 idle by default, so a
	// burst of requests opened (and closed again) a server process per
	// request beyond two, and the demo's GET /api/connections had a p99 of
	// hundreds of milliseconds under 64 concurrent clients. Every store
	// call holds one connection for one statement, and none while a lock
	// is held, so 16 serves many more concurrent requests; four instances
	// stay well inside PostgreSQL's default max_connections of 100.
	PostgresMaxConns = 16
	// postgresConnMaxLifetime retires connections now and then, so a
	// failover or a DNS change is picked up and server-side memory does
	// not grow.
	postgresConnMaxLifetime = 30 * time.Minute
	// postgresConnMaxIdleTime closes connections a quiet process no longer
	// needs.
	postgresConnMaxIdleTime = 5 * time.Minute
)

// SizePostgresPool sets the PostgreSQL pool limits on db.
func SizePostgresPool(db *sql.DB) {
	db.SetMaxOpenConns(PostgresMaxConns)
	db.SetMaxIdleConns(PostgresMaxConns)
	db.SetConnMaxLifetime(postgresConnMaxLifetime)
	db.SetConnMaxIdleTime(postgresConnMaxIdleTime)
}

func newSQLStore(ctx context.Context, db *sql.DB, s Spec) (store.TokenStore, func() error, error) {
	st, err := sqlstore.New(ctx, db, sqlstore.Options{})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", s, err)
	}
	return st, db.Close, nil
}

// openRedis opens the Redis store on whatever server it is given, as the
// demo should: redisstore refuses a server that can lose saved connections
// (no append-only file, appendfsync no, eviction), so this opts out with
// AllowVolatile and logs the risk instead. A production app should keep
// the refusal.
func openRedis(ctx context.Context, client *redis.Client, log *slog.Logger) (*redisstore.Store, error) {
	err := redisstore.CheckDurability(ctx, client)
	switch {
	case errors.Is(err, redisstore.ErrVolatile), errors.Is(err, redisstore.ErrDurabilityUnknown):
		log.Warn("this Redis can lose saved connections; the demo runs anyway (redisstore.Options.AllowVolatile). "+
			"In production use appendonly yes, appendfsync always (or everysec) and maxmemory-policy noeviction", "risk", err.Error())
	case err != nil:
		return nil, err
	}
	st, err := redisstore.New(client, redisstore.Options{AllowVolatile: true})
	if err != nil {
		return nil, err
	}
	return st, st.Ping(ctx)
}
