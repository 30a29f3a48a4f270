package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// Dialect names the SQL dialect a Store speaks.
type Dialect string

const (
	// SQLite is SQLite 3.24 or later (modernc.org/sqlite, mattn/go-sqlite3,
	// ncruces/go-sqlite3).
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL 9.6 or later (pgx's stdlib driver, lib/pq).
	Postgres Dialect = "postgres"
)

// DefaultTablePrefix is the default Options.TablePrefix.
const DefaultTablePrefix = "oauthlink_"

// releaseTimeout bounds the statements that release a lock or roll back a
// transaction on a path where the caller's context is gone or has none.
const releaseTimeout = 5 * time.Second

// Options configures a Store. The zero value is valid for any driver whose
// dialect can be detected.
type Options struct {
	// Dialect is the database's SQL dialect. Default: detected from the
	// driver's Go package (pgx and lib/pq are Postgres; modernc.org/sqlite,
	// mattn/go-sqlite3 and ncruces/go-sqlite3 are SQLite); New fails when
	// it is empty and the driver is unknown (for example wrapped by a
	// tracing driver).
	Dialect Dialect
	// Schema is the PostgreSQL schema that holds the tables. It must exist
	// and match [A-Za-z_][A-Za-z0-9_]*. Default "": unqualified names, found
	// through the connection's search_path. Not allowed with SQLite.
	Schema string
	// TablePrefix starts every table and index name, so that several
	// stores can share one schema or file. It must match
	// [A-Za-z_][A-Za-z0-9_]* and be at most 32 bytes. Default
	// DefaultTablePrefix ("oauthlink_").
	TablePrefix string
	// Now is the clock for CreatedAt, UpdatedAt, SQLite lock leases and
	// replay-guard expiry. Default time.Now. PostgreSQL lock expiry uses the
	// server's and the process's real clocks whatever Now says.
	Now func() time.Time
}

// Store is a TokenStore, VersionDeleter, Locker, ReplayGuard, Pinger and
// Scanner over a *sql.DB. Create one with New; it is safe for concurrent
// use. The *sql.DB stays the caller's: the Store never closes it.
type Store struct {
	db      *sql.DB
	dialect Dialect
	schema  string
	prefix  string
	now     func() time.Time
	q       queries

	nextSweep atomic.Int64 // unix µs before which Consume does not sweep
}

var (
	_ store.TokenStore     = (*Store)(nil)
	_ store.VersionDeleter = (*Store)(nil)
	_ store.Locker         = (*Store)(nil)
	_ store.ReplayGuard    = (*Store)(nil)
	_ store.Pinger         = (*Store)(nil)
	_ store.Scanner        = (*Store)(nil)
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New returns a Store over db, after creating or upgrading its tables (see
// the package documentation). It is safe to call from many instances at
// once. ctx bounds the migration, including the wait for another instance's
// migration.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	s, err := newStore(db, opts)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, len(migrations)); err != nil {
		return nil, s.fail(ctx, "migrate", err)
	}
	return s, nil
}

// newStore validates opts and returns a Store whose schema is not migrated.
func newStore(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if opts.Dialect == "" {
		d, err := detectDialect(db)
		if err != nil {
			return nil, err
		}
		opts.Dialect = d
	}
	if opts.Dialect != SQLite && opts.Dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %q", opts.Dialect)
	}
	if opts.Schema != "" {
		if opts.Dialect != Postgres {
			return nil, errors.New("sqlstore: Options.Schema is PostgreSQL only")
		}
		if !identRE.MatchString(opts.Schema) || len(opts.Schema) > 63 {
			return nil, fmt.Errorf("sqlstore: invalid schema name %q", opts.Schema)
		}
	}
	if opts.TablePrefix == "" {
		opts.TablePrefix = DefaultTablePrefix
	}
	if !identRE.MatchString(opts.TablePrefix) || len(opts.TablePrefix) > 32 {
		return nil, fmt.Errorf("sqlstore: invalid table prefix %q", opts.TablePrefix)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		db:      db,
		dialect: opts.Dialect,
		schema:  opts.Schema,
		prefix:  opts.TablePrefix,
		now:     opts.Now,
	}
	s.q = s.buildQueries()
	return s, nil
}

// detectDialect maps the driver's Go package to a dialect.
func detectDialect(db *sql.DB) (Dialect, error) {
	t := reflect.TypeOf(db.Driver())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	switch {
	case strings.Contains(pkg, "jackc/pgx"), strings.HasSuffix(pkg, "lib/pq"):
		return Postgres, nil
	case strings.HasPrefix(pkg, "modernc.org/sqlite"), strings.Contains(pkg, "mattn/go-sqlite3"),
		strings.Contains(pkg, "ncruces/go-sqlite3"):
		return SQLite, nil
	}
	return "", fmt.Errorf("sqlstore: cannot detect the dialect of driver %s.%s: set Options.Dialect", pkg, t.Name())
}

// Dialect returns the dialect the Store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// table returns the quoted, schema-qualified name of table t.
func (s *Store) table(t string) string {
	name := `"` + s.prefix + t + `"`
	if s.schema != "" {
		return `"` + s.schema + `".` + name
	}
	return name
}

// bin converts a string for a byte column: []byte for PostgreSQL's BYTEA
// (never nil, which would be NULL), the string itself for SQLite, whose TEXT
// keeps any bytes and compares them with memcmp.
func (s *Store) bin(v string) any {
	if s.dialect == Postgres {
		return append([]byte{}, v...)
	}
	return v
}

// rebind turns the ? placeholders of q into $n for PostgreSQL. The
// package's queries have no ? inside literals.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fail wraps err for op, adding ctx.Err() when the context ended so that
// errors.Is(err, context.Canceled) holds whatever the driver returned.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, ce, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// micros converts t to the stored form: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts the stored form back, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// fromMillis reads refreshed_ms, which storekit.UnixMilli wrote: Unix
// milliseconds in UTC, and 0 for the zero time.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
