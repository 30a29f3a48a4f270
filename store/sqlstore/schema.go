package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migration is one schema version: statements applied in one transaction.
// {bin} stands for the byte-string column type, {t:name} for a table's
// qualified name and {i:name} for an index name. Migrations are additive,
// so an older release keeps working on a schema a newer one upgraded.
type migration struct {
	name  string
	stmts []string
}

// migrations lists every schema version in order: migrations[i] is version
// i+1. Never edit an applied migration; append a new one.
var migrations = []migration{
	{"connections", []string{`CREATE TABLE {t:connections} (
	provider      {bin}  NOT NULL,
	owner         {bin}  NOT NULL,
	account_id    {bin}  NOT NULL,
	access_token  {bin}  NOT NULL,
	refresh_token {bin}  NOT NULL,
	token_type    {bin}  NOT NULL,
	expiry_us     BIGINT NOT NULL,
	scopes        TEXT   NOT NULL,
	extra         {bin}  NOT NULL,
	redirect_uri  {bin}  NOT NULL,
	status        TEXT   NOT NULL,
	version       BIGINT NOT NULL,
	created_us    BIGINT NOT NULL,
	updated_us    BIGINT NOT NULL,
	PRIMARY KEY (provider, owner)
)`,
		`CREATE INDEX {i:connections_owner} ON {t:connections} (owner, provider)`,
	}},
	{"consumed_states", []string{`CREATE TABLE {t:consumed_states} (
	state_key  {bin}  NOT NULL PRIMARY KEY,
	expires_us BIGINT NOT NULL
)`,
		`CREATE INDEX {i:consumed_states_expires} ON {t:consumed_states} (expires_us)`,
	}},
	{"locks", []string{`CREATE TABLE {t:locks} (
	provider   {bin}  NOT NULL,
	owner      {bin}  NOT NULL,
	token      TEXT   NOT NULL,
	expires_us BIGINT NOT NULL,
	PRIMARY KEY (provider, owner)
)`}},
	// retired: the connection's retired grants (store.RetiredToken) as
	// a JSON array, '' when there are none, which is also what rows
	// written before this migration (or by an older release) hold.
	{"connections_retired", []string{`ALTER TABLE {t:connections} ADD COLUMN retired {bin} NOT NULL DEFAULT ''`}},
	// refreshed_ms: Connection.RefreshedAt in Unix milliseconds, 0 for
	// the zero time (storekit.UnixMilli), which is also what rows written
	// before this migration, or by an older release's INSERT, hold: they
	// read back as zero and come first in Scan's upkeep order. The
	// indexes serve Scan's keyset pages: by status, by provider account,
	// and by refresh time across providers and within one.
	{"connections_scan", []string{
		`ALTER TABLE {t:connections} ADD COLUMN refreshed_ms BIGINT NOT NULL DEFAULT 0`,
		`CREATE INDEX IF NOT EXISTS {i:connections_status} ON {t:connections} (status, provider, owner)`,
		`CREATE INDEX IF NOT EXISTS {i:connections_account} ON {t:connections} (provider, account_id, owner)`,
		`CREATE INDEX IF NOT EXISTS {i:connections_refreshed} ON {t:connections} (refreshed_ms, provider, owner)`,
		`CREATE INDEX IF NOT EXISTS {i:connections_provider_refreshed} ON {t:connections} (provider, refreshed_ms, owner)`,
	}},
	// connections_pending: a partial index of the rows with a revocation
	// left to do (store.Connection.PendingRevocation), in Scan's order, for
	// Scan's PendingRevocation. Its predicate is pendingCond, which Scan
	// repeats word for word so that both planners match it. The database
	// keeps it with every write, an older release's included, and builds
	// it from the rows already there, so no row needs a backfill.
	{"connections_pending", []string{
		`CREATE INDEX IF NOT EXISTS {i:connections_pending} ON {t:connections} (provider, owner) WHERE ` + pendingCond,
	}},
}

// pendingCond is store.Connection.PendingRevocation on a row: disconnected,
// or a non-empty retired list (an empty one is stored as the empty
// string, which rows written before the retired column hold too). It is
// the predicate of the connections_pending index, and the condition Scan
// adds for PendingRevocation: the same text, with constants rather than
// parameters, so that SQLite and PostgreSQL (also in a generic plan) see
// that the query implies the index's predicate. Never change it: the
// migration that made the index is applied already.
const pendingCond = `(status = 'disconnected' OR retired <> '')`

// pgNowUS is PostgreSQL's clock in microseconds since the epoch.
const pgNowUS = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"

// expand replaces the placeholders of a migration statement.
func (s *Store) expand(stmt string) string {
	bin := "BYTEA"
	if s.dialect == SQLite {
		bin = "TEXT"
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(stmt, '{')
		if i < 0 {
			b.WriteString(stmt)
			return b.String()
		}
		j := strings.IndexByte(stmt[i:], '}') + i
		b.WriteString(stmt[:i])
		switch tok := stmt[i+1 : j]; {
		case tok == "bin":
			b.WriteString(bin)
		case strings.HasPrefix(tok, "t:"):
			b.WriteString(s.table(tok[2:]))
		case strings.HasPrefix(tok, "i:"):
			b.WriteString(`"` + s.prefix + tok[2:] + `"`)
		default:
			panic("sqlstore: bad migration placeholder " + tok)
		}
		stmt = stmt[j+1:]
	}
}

// schemaVersion returns the highest applied migration, or an error when the
// migrations table does not exist yet.
func (s *Store) schemaVersion(ctx context.Context, q querier) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM "+s.table("schema_migrations")).Scan(&v)
	return int(v.Int64), err
}

// migrate applies migrations up to version target. A quick unlocked read
// skips the transaction when nothing is pending, so instances that start
// on an up-to-date schema (possibly read-only) do not queue on the lock.
func (s *Store) migrate(ctx context.Context, target int) error {
	if v, err := s.schemaVersion(ctx, s.db); err == nil && v >= target {
		return nil
	}
	return s.migrateLocked(ctx, target)
}

// migrateLocked applies the pending migrations up to target in one
// transaction that excludes every other instance's migration.
func (s *Store) migrateLocked(ctx context.Context, target int) error {
	return s.withTx(ctx, func(ctx context.Context, c *sql.Conn) error {
		if s.dialect == Postgres {
			key := lockKey("migrate", s.schema, s.prefix)
			if _, err := c.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := c.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.table("schema_migrations")+
			" (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)"); err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}
		v, err := s.schemaVersion(ctx, c)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		for ; v < target; v++ {
			m := migrations[v]
			for _, stmt := range m.stmts {
				if _, err := c.ExecContext(ctx, s.expand(stmt)); err != nil {
					return fmt.Errorf("migration %d (%s): %w", v+1, m.name, err)
				}
			}
			if _, err := c.ExecContext(ctx, s.rebind("INSERT INTO "+s.table("schema_migrations")+
				" (version, name, applied_us) VALUES (?, ?, ?)"), v+1, m.name, micros(s.now())); err != nil {
				return fmt.Errorf("record migration %d: %w", v+1, err)
			}
		}
		return nil
	})
}

// queries holds the package's statements, built once per Store for its
// tables and dialect.
type queries struct {
	load, list, insert, update, delete string
	deleteVersion, version             string
	consume, sweepStates, sweepLocks   string
	lockRead, lockWrite, lockRelease   string
	lockAcquirePG, lockRemainingPG     string
	lockRenew, lockRenewPG             string
}

func (s *Store) buildQueries() queries {
	conns, states, locks := s.table("connections"), s.table("consumed_states"), s.table("locks")
	return queries{
		load: s.rebind("SELECT " + connColumns + " FROM " + conns + " WHERE provider = ? AND owner = ?"),
		list: s.rebind("SELECT " + connColumns + " FROM " + conns + " WHERE owner = ? ORDER BY provider"),
		insert: s.rebind("INSERT INTO " + conns + " (" + connColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
	ON CONFLICT (provider, owner) DO NOTHING`),
		update: s.rebind("UPDATE " + conns + ` SET account_id = ?, access_token = ?, refresh_token = ?,
	token_type = ?, expiry_us = ?, scopes = ?, extra = ?, redirect_uri = ?, status = ?,
	retired = ?, refreshed_ms = ?, version = version + 1, updated_us = ?
	WHERE provider = ? AND owner = ? AND version = ?`),
		delete:        s.rebind("DELETE FROM " + conns + " WHERE provider = ? AND owner = ?"),
		deleteVersion: s.rebind("DELETE FROM " + conns + " WHERE provider = ? AND owner = ? AND version = ?"),
		version:       s.rebind("SELECT version FROM " + conns + " WHERE provider = ? AND owner = ?"),

		// The target of ON CONFLICT DO UPDATE is named by its unqualified
		// table name in both dialects.
		consume: s.rebind("INSERT INTO " + states + ` (state_key, expires_us) VALUES (?, ?)
	ON CONFLICT (state_key) DO UPDATE SET expires_us = excluded.expires_us
	WHERE "` + s.prefix + `consumed_states".expires_us <= ?`),
		sweepStates: s.rebind("DELETE FROM " + states + " WHERE state_key IN (SELECT state_key FROM " + states +
			" WHERE expires_us <= ? LIMIT 1000)"),
		sweepLocks: s.rebind("DELETE FROM " + locks + " WHERE expires_us <= ?"),

		lockRead: s.rebind("SELECT token, expires_us FROM " + locks + " WHERE provider = ? AND owner = ?"),
		lockWrite: s.rebind("INSERT INTO " + locks + ` (provider, owner, token, expires_us) VALUES (?, ?, ?, ?)
	ON CONFLICT (provider, owner) DO UPDATE SET token = excluded.token, expires_us = excluded.expires_us`),
		lockRelease: s.rebind("DELETE FROM " + locks + " WHERE provider = ? AND owner = ? AND token = ?"),
		// PostgreSQL: take the lease atomically on the server's clock.
		lockAcquirePG: s.rebind("INSERT INTO " + locks + ` (provider, owner, token, expires_us)
	VALUES (?, ?, ?, ` + pgNowUS + ` + ?)
	ON CONFLICT (provider, owner) DO UPDATE SET token = excluded.token, expires_us = excluded.expires_us
	WHERE "` + s.prefix + `locks".expires_us <= ` + pgNowUS + `
	RETURNING token`),
		lockRemainingPG: s.rebind("SELECT expires_us - " + pgNowUS + " FROM " + locks + " WHERE provider = ? AND owner = ?"),
		// Renew: extend the lease only while it is still the caller's
		// (its token) and unexpired. SQLite passes the new expiry and now.
		lockRenew: s.rebind("UPDATE " + locks + ` SET expires_us = ?
	WHERE provider = ? AND owner = ? AND token = ? AND expires_us > ?`),
		lockRenewPG: s.rebind("UPDATE " + locks + " SET expires_us = " + pgNowUS + ` + ?
	WHERE provider = ? AND owner = ? AND token = ? AND expires_us > ` + pgNowUS),
	}
}
