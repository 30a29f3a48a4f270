package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/oauthlink/oauthlink"
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

// Store is a TokenStore, VersionDeleter, Locker, ReplayGuard and Pinger over
// a *sql.DB. Create one with New; it is safe for concurrent use. The
// *sql.DB stays the caller's: the Store never closes it.
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

const connColumns = `provider, owner, account_id, access_token, refresh_token, token_type,
	expiry_us, scopes, extra, redirect_uri, status, version, created_us, updated_us, retired`

// scanConn reads one row of connColumns.
func scanConn(sc interface{ Scan(...any) error }) (*oauthlink.Connection, error) {
	var (
		c                                 oauthlink.Connection
		access, refresh, extra, scopes    string
		status, retired                   string
		expiryUS, createdUS, updatedUS    int64
		accountID, tokenType, redirectURI string
	)
	if err := sc.Scan(&c.Provider, &c.Owner, &accountID, &access, &refresh, &tokenType,
		&expiryUS, &scopes, &extra, &redirectURI, &status, &c.Version, &createdUS, &updatedUS, &retired); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	var err error
	if c.Retired, err = decodeRetired(retired); err != nil {
		return nil, err
	}
	c.AccountID, c.TokenType, c.RedirectURI = accountID, tokenType, redirectURI
	c.AccessToken, c.RefreshToken, c.Extra = store.Secret(access), store.Secret(refresh), store.Secret(extra)
	c.Status = store.Status(status)
	c.Expiry, c.CreatedAt, c.UpdatedAt = fromMicros(expiryUS), fromMicros(createdUS), fromMicros(updatedUS)
	return &c, nil
}

// Load returns the connection for (provider, owner), or an error wrapping
// store.ErrNotFound. Times are in UTC.
func (s *Store) Load(ctx context.Context, provider, owner string) (*oauthlink.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "load", err)
	}
	c, err := scanConn(s.db.QueryRowContext(ctx, s.q.load, s.bin(provider), s.bin(owner)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: load %q for %q: %w", provider, owner, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail(ctx, "load", err)
	}
	return c, nil
}

// List returns owner's connections ordered by provider (byte order), or an
// empty slice when there are none.
func (s *Store) List(ctx context.Context, owner string) ([]*oauthlink.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q.list, s.bin(owner))
	if err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	defer rows.Close()
	out := []*oauthlink.Connection{}
	for rows.Next() {
		c, err := scanConn(rows)
		if err != nil {
			return nil, s.fail(ctx, "list", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	return out, nil
}

// Save writes c with compare-and-swap on c.Version (see
// store.TokenStore): Version 0 creates the row, any other value must be
// the stored version. A mismatch, or an update of a deleted row, returns an
// error wrapping store.ErrVersionConflict and changes nothing. On
// success c.Version, c.UpdatedAt and, on create, c.CreatedAt are set to the
// stored values (UTC, truncated to the microsecond); an update keeps the
// stored CreatedAt. A negative Version is an error.
func (s *Store) Save(ctx context.Context, c *oauthlink.Connection) error {
	if c == nil {
		return errors.New("sqlstore: save: nil connection")
	}
	if c.Version < 0 {
		return fmt.Errorf("sqlstore: save %q for %q: negative version %d", c.Provider, c.Owner, c.Version)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "save", err)
	}
	for _, sc := range c.Scopes {
		if !utf8.ValidString(sc) {
			return fmt.Errorf("sqlstore: save %q for %q: scope is not valid UTF-8", c.Provider, c.Owner)
		}
	}
	scopes, err := json.Marshal(c.Scopes)
	if err != nil {
		return fmt.Errorf("sqlstore: save: encode scopes: %w", err)
	}
	retired, err := encodeRetired(c.Retired)
	if err != nil {
		return fmt.Errorf("sqlstore: save %q for %q: %w", c.Provider, c.Owner, err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	nowUS := micros(now)
	fields := []any{
		s.bin(c.AccountID), s.bin(c.AccessToken.Reveal()), s.bin(c.RefreshToken.Reveal()), s.bin(c.TokenType),
		micros(c.Expiry), string(scopes), s.bin(c.Extra.Reveal()), s.bin(c.RedirectURI), string(c.Status),
	}
	var res sql.Result
	if c.Version == 0 {
		args := append([]any{s.bin(c.Provider), s.bin(c.Owner)}, fields...)
		res, err = s.db.ExecContext(ctx, s.q.insert, append(args, nowUS, nowUS, s.bin(retired))...)
	} else {
		args := append(fields, s.bin(retired), nowUS, s.bin(c.Provider), s.bin(c.Owner), c.Version)
		res, err = s.db.ExecContext(ctx, s.q.update, args...)
	}
	if err != nil {
		return s.fail(ctx, "save", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, "save", err)
	}
	if n != 1 {
		if c.Version == 0 {
			return fmt.Errorf("sqlstore: create %q for %q: already exists: %w", c.Provider, c.Owner, store.ErrVersionConflict)
		}
		return fmt.Errorf("sqlstore: update %q for %q: version %d is not the stored one: %w",
			c.Provider, c.Owner, c.Version, store.ErrVersionConflict)
	}
	if c.Version == 0 {
		c.CreatedAt = now
	}
	c.Version++
	c.UpdatedAt = now
	return nil
}

// Delete removes the connection for (provider, owner). Deleting a missing
// connection returns nil.
func (s *Store) Delete(ctx context.Context, provider, owner string) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "delete", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.delete, s.bin(provider), s.bin(owner)); err != nil {
		return s.fail(ctx, "delete", err)
	}
	return nil
}

// DeleteVersion removes the connection for (provider, owner) only if its
// Version is version, as described by store.VersionDeleter: another
// stored version returns an error wrapping store.ErrVersionConflict and
// changes nothing, and a missing connection returns nil. A version below 1
// is an error.
//
// The delete is one conditional statement. When it deletes nothing, a
// second statement tells a missing row (nil, also when the row was deleted
// in between) from another version (a conflict). A row created in between
// is reported as a conflict whatever its version: it is not the row the
// caller read.
func (s *Store) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	if version < 1 {
		return fmt.Errorf("sqlstore: delete %q for %q: version %d is not positive", provider, owner, version)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "delete", err)
	}
	res, err := s.db.ExecContext(ctx, s.q.deleteVersion, s.bin(provider), s.bin(owner), version)
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	if n == 1 {
		return nil
	}
	var stored int64
	err = s.db.QueryRowContext(ctx, s.q.version, s.bin(provider), s.bin(owner)).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	return fmt.Errorf("sqlstore: delete %q for %q: version %d, stored %d: %w",
		provider, owner, version, stored, store.ErrVersionConflict)
}

// storedRetired is the stored form of one store.RetiredToken, an
// element of the retired column's JSON array. The token is a byte string
// (base64 in JSON), so any bytes round-trip exactly; Since is microseconds
// since the Unix epoch, as every stored time.
type storedRetired struct {
	Token   []byte `json:"token"`
	Kind    string `json:"kind"`
	SinceUS int64  `json:"since_us"`
}

// encodeRetired returns the retired column's value: "" for no retired
// grant, a JSON array otherwise. Kinds must be valid UTF-8.
func encodeRetired(rs []store.RetiredToken) (string, error) {
	if len(rs) == 0 {
		return "", nil
	}
	out := make([]storedRetired, len(rs))
	for i, r := range rs {
		if !utf8.ValidString(r.Kind) {
			return "", fmt.Errorf("retired token %d: kind is not valid UTF-8", i)
		}
		out[i] = storedRetired{Token: []byte(r.Token.Reveal()), Kind: r.Kind, SinceUS: micros(r.Since)}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode retired tokens: %w", err)
	}
	return string(b), nil
}

// decodeRetired reads the retired column: nil for "".
func decodeRetired(v string) ([]store.RetiredToken, error) {
	if v == "" {
		return nil, nil
	}
	var stored []storedRetired
	if err := json.Unmarshal([]byte(v), &stored); err != nil {
		return nil, fmt.Errorf("decode retired tokens: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	rs := make([]store.RetiredToken, len(stored))
	for i, r := range stored {
		rs[i] = store.RetiredToken{Token: store.Secret(r.Token), Kind: r.Kind, Since: fromMicros(r.SinceUS)}
	}
	return rs, nil
}
