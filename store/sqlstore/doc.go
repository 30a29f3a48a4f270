// Package sqlstore is an store.TokenStore over database/sql for SQLite
// and PostgreSQL. It also implements the optional store.VersionDeleter,
// store.Locker, store.ReplayGuard, store.Pinger and store.Scanner
// capabilities, so several instances sharing one database refresh each
// token once and refuse a replayed callback at any instance, and fleet
// work pages through every connection.
//
// The package imports no driver: the application opens the *sql.DB with the
// driver it prefers and passes it to New. For SQLite we recommend
// modernc.org/sqlite (driver "sqlite", pure Go, so no cgo), for PostgreSQL
// pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib, driver "pgx");
// the tests run on modernc.org/sqlite and on a real PostgreSQL through pgx.
// The dialect is detected from the driver's package (pgx, lib/pq, modernc,
// mattn and ncruces SQLite drivers) or set with Options.Dialect. It needs
// SQLite 3.24 or later and PostgreSQL 9.6 or later.
//
// # Usage
//
//	db, err := sql.Open("sqlite", "file:/var/lib/app/oauthlink.db"+
//		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
//	if err != nil { ... }
//	st, err := sqlstore.New(ctx, db, sqlstore.Options{})
//	if err != nil { ... }
//	// st is an store.TokenStore, VersionDeleter, Locker, ReplayGuard,
//	// Pinger and Scanner.
//
// PostgreSQL is the same with sql.Open("pgx", "postgres://...") and, if the
// tables belong in their own schema, Options{Schema: "oauthlink"} (the
// schema must exist).
//
// # Schema and migrations
//
// New creates and upgrades its tables itself. Every table name starts with
// Options.TablePrefix ("oauthlink_" by default) and, on PostgreSQL, lives in
// Options.Schema:
//
//	oauthlink_schema_migrations applied migrations (version, name, applied_us)
//	oauthlink_connections       one row per (provider, owner)
//	oauthlink_consumed_states   replay-guard records with expiry
//	oauthlink_locks             lock leases
//
// Migrations are numbered and applied in order inside one transaction that
// first serialises every instance starting at the same moment: PostgreSQL
// takes pg_advisory_xact_lock on a key derived from the schema and prefix,
// SQLite begins with BEGIN IMMEDIATE (the database's single write lock).
// Inside, the applied versions are read again, so running New on many
// instances at once applies each migration exactly once. Migrations are
// additive: a database already migrated by a newer release is accepted.
//
// A connection is one row holding both tokens, expiry, scopes, extra fields,
// retired grants, status, version and timestamps, so a reader sees the old
// record or the new one, never a mix. Save is a compare-and-swap: an update is
// "UPDATE … WHERE provider = ? AND owner = ? AND version = ?" and a create is
// "INSERT … ON CONFLICT DO NOTHING"; zero rows affected means
// store.ErrVersionConflict. DeleteVersion is "DELETE … WHERE provider = ?
// AND owner = ? AND version = ?"; when it deletes nothing, a SELECT of the
// version tells a missing row from a conflict.
//
// Column types: provider, owner, tokens, extra, account id, token type and
// redirect URI are BYTEA on PostgreSQL (TEXT on SQLite, which keeps bytes as
// given), so any byte sequence, NUL and invalid UTF-8 included, round-trips
// exactly and List orders by byte value, not by the database's collation.
// Inspect them in psql with convert_from(owner, 'UTF8'). Times are BIGINT
// microseconds since the Unix epoch in UTC (columns ending in _us), which
// both dialects store alike; the store's timestamps are truncated to the
// microsecond and returned in UTC. Scopes are a JSON array of strings and
// must be valid UTF-8 (RFC 6749 §3.3 allows only printable ASCII). Tokens
// are opaque strings: an encrypting wrapper can store ciphertext as is. A
// zero Expiry (a token without a known lifetime) is stored as the zero
// time's microseconds and reads back as the zero time.
//
// The retired column (added by the fourth migration, empty in rows
// written before it) holds Connection.Retired: empty when the list is,
// else a JSON array of {"token": base64 bytes, "kind": string, "since_us":
// microseconds}, in the list's order. The token is base64 so that any
// bytes round-trip, as in the token columns; kinds must be valid UTF-8. A
// release that predates the column leaves it alone when it updates a
// row, so retired grants outlive a rolling deploy.
//
// The refreshed_ms column (added by the fifth migration) holds
// Connection.RefreshedAt in Unix milliseconds, the precision it is kept
// to, and 0 for the zero time: rows written before the column existed,
// or inserted by an older release, read back as zero. An older release's
// update leaves the column as it was, so a connection refreshed by it
// during a rolling deploy looks older than it is and may be refreshed
// once more by the upkeep, which is harmless.
//
// # Scans
//
// Scan (store.Scanner) pages by keyset, never by OFFSET: a page is
// "WHERE filters AND (sort key) > (cursor's key) ORDER BY sort key LIMIT
// n+1", the extra row telling whether another page follows. The sort key
// is (provider, owner), compared as bytes like List's order; with
// Query.RefreshedBefore it is (refreshed_ms, provider, owner), over the
// rows with refreshed_ms below the cutoff, zero included. A Provider
// filter drops provider from the key. Each shape has an index that yields
// its rows in order from a range, so a page costs the same at the start
// and the end of a scan; the fifth migration creates them beside the
// primary key (provider, owner) and (owner, provider):
//
//	oauthlink_connections_status            (status, provider, owner)
//	oauthlink_connections_account           (provider, account_id, owner)
//	oauthlink_connections_refreshed         (refreshed_ms, provider, owner)
//	oauthlink_connections_provider_refreshed (provider, refreshed_ms, owner)
//
// Query.PendingRevocation (the keeper's revocation retries) reads a
// partial index, which the sixth migration creates; it holds only the
// rows with a revocation left to do (store.Connection.PendingRevocation),
// so that query costs what the pending connections cost, whatever the
// fleet's size:
//
//	oauthlink_connections_pending (provider, owner)
//	    WHERE (status = 'disconnected' OR retired <> '')
//
// Scan repeats that predicate word for word, which both planners need to
// use a partial index. The database keeps the index with every write, an
// older release's too, and builds it from the rows already there: no row
// needs a backfill. PendingRevocation with RefreshedBefore reads the
// upkeep order's index and checks the predicate row by row.
//
// The migrations build the indexes inside their transaction, which blocks
// writes to the table while it runs: on a 2-core test machine, the fifth
// migration's four over 100,000 connections took 0.6 s on PostgreSQL and
// 0.3 s on SQLite. They create each one only if no index of that name
// exists, so an operator of a much larger PostgreSQL table can build them
// beforehand with CREATE INDEX CONCURRENTLY, under the names (with the
// table prefix, in the store's schema) and definitions above.
//
// BenchmarkScan over 100,000 connections in pages of 1000, on that
// machine while other work ran on it: a full listing read 130,000 to
// 300,000 connections a second on PostgreSQL and 115,000 to 175,000 on
// SQLite, the upkeep query of one provider 95,000 to 230,000 and 70,000
// to 125,000, and an account lookup took 0.07 to 0.2 ms on either.
//
// # Locks
//
// Lock takes the cross-instance lock the refresher holds while it spends a
// refresh token. The lock is a lease (store.Lease) of the ttl given to
// Lock: a row holding a random owner token and an expiry. Its holder
// renews it while it works and releases it when done; a holder that dies
// stops renewing, and the lease expires after at most one ttl.
//
// On PostgreSQL it writes a lease row (a random owner token and an expiry
// of the server's clock plus ttl) with one atomic statement, "INSERT … ON
// CONFLICT DO UPDATE … WHERE the lease expired RETURNING token", so of any
// number of waiters exactly one wins, and instances with skewed clocks
// agree. A waiter polls with jittered exponential backoff (2 ms doubling to
// 200 ms, never sleeping past the current lease's expiry). A lease, unlike
// a session-scoped advisory lock, survives the holder's connection: when
// that session is killed between the provider's answer and the save (a
// failover, a pooler restart, pg_terminate_backend), waiters keep waiting
// while the holder reconnects and saves the rotated refresh token, instead
// of replaying the token it just spent (which Hydra punishes by revoking
// the grant). Release deletes the row only while it still holds its own
// token, retrying on a fresh connection; a crashed holder's lease expires
// after ttl. No connection is held while the lock is.
//
// SQLite has one write lock per database file, so a transaction cannot stay
// open while the holder refreshes: the holder's own Save would wait for it.
// There Lock writes a lease row (a random owner token and an expiry now+ttl)
// inside BEGIN IMMEDIATE, after checking that no unexpired lease exists, and
// commits at once. A waiter polls with jittered exponential backoff (2 ms
// doubling to 200 ms, never sleeping past the current lease's expiry) until
// it wins or ctx ends. Release deletes the row only if it still holds its
// own token, so a holder whose lease expired cannot release a successor's
// lock. Expiry compares Options.Now readings, which is sound because every
// process sharing a SQLite file runs on the same host.
//
// Renew is one conditional statement, "UPDATE … SET expires_us = now + ttl
// WHERE provider = ? AND owner = ? AND token = ? AND expires_us > now": on
// PostgreSQL now is the server's clock and the statement is retried up to
// three times on a fresh connection, as Release is; on SQLite now is
// Options.Now and the statement runs inside BEGIN IMMEDIATE. It extends
// the lease only while the row still carries the holder's token and has
// not expired; when it updates no row the lease expired or another
// instance took it, and Renew returns an error wrapping
// store.ErrLeaseLost (then, and after Release, every later Renew does
// too, without asking the database). A failed statement leaves the lease
// as it was. Lease.Deadline is this process's clock reading taken just
// before the acquiring or last successful renewing statement was sent,
// plus its ttl: the database counts ttl from the moment the statement
// runs, which is later, so its expiry is never earlier than Deadline.
//
// # PostgreSQL pool sizing
//
// Every call (Load, List, Save, Delete, DeleteVersion, Consume, Ping, each
// attempt of Lock, Renew and Release) borrows one connection from the
// *sql.DB for one statement and gives it back; only New holds one for its
// migration transaction. A lock is a lease row: no connection is held
// while a lock is held, and a waiter borrows one only for each poll. So no
// call needs two connections at once, any limit is free of pool deadlock,
// and the limit only decides how many statements run at once. Size the
// pool yourself; database/sql's defaults (no limit on open connections,
// only 2 kept idle) do not fit a web server:
//
//	db.SetMaxOpenConns(16)                  // per instance, see below
//	db.SetMaxIdleConns(16)                  // as many as open
//	db.SetConnMaxLifetime(30 * time.Minute) // recycle now and then
//	db.SetConnMaxIdleTime(5 * time.Minute)  // shrink after a burst
//
// SetMaxIdleConns matters most: with the default of 2, every burst of more
// than two concurrent requests opens new server connections (a PostgreSQL
// backend process each, and authentication) and closes them right after.
// The demo (examples/demo) under 64 concurrent clients on GET
// /api/connections, one List each, on loopback, measured with the
// defaults a p99 of 250 to 345 ms and about 1,200 requests per second,
// and with the settings above a p99 of 15 to 27 ms and about 10,000 (its
// BenchmarkAPIConnections; SQLite and Redis had a p99 of 15 to 26 ms).
//
// SetMaxOpenConns bounds what one instance takes from the server's
// max_connections (100 by default, a few reserved for superusers): the sum
// over all instances, plus what migrations, administration and other
// applications need, must fit. More connections than a few per server CPU
// core add contention, not throughput (on a 2-core test machine, limits
// of 4 to 16 performed alike and 32 worse). A caller waits for a free
// connection for as long as its context allows.
//
// SetConnMaxLifetime replaces connections now and then, so that a
// failover or DNS change is followed and server memory does not creep;
// keep it below any idle timeout of a proxy or load balancer in between.
// SetConnMaxIdleTime closes what a quiet instance no longer needs.
//
// # Replay guard and ping
//
// Consume inserts the key with its expiry; "INSERT … ON CONFLICT (key) DO
// UPDATE … WHERE expires_us <= now" overwrites only an expired record, so
// exactly one of concurrent callers affects a row and sees first == true.
// Expired records are also deleted in small batches, at most once a minute
// per Store, and by Ping.
//
// Ping runs that batch DELETE: a real write statement, cheap when there is
// nothing to delete, which fails on a read-only PostgreSQL replica or
// session and on a read-only or locked SQLite file, not just on an
// unreachable server.
//
// # SQLite settings
//
// Open SQLite with a busy timeout and WAL, as in the example above:
// without busy_timeout a writer that finds the file locked fails at once
// with SQLITE_BUSY instead of waiting. New and Lock retry SQLITE_BUSY by
// themselves; Load, List, Save and Delete do not, so busy_timeout is also
// the longest a save waits for another writer before it fails.
//
// # SQLite with several processes
//
// Supported: several processes on one host (instances of the app, or the
// app and a tool) sharing one database file on a local filesystem, each
// opening it with busy_timeout and WAL. SQLite's file locks serialise
// their writes, and the lock leases are sound because every process reads
// the same clock. A process killed at any moment, inside a save's
// transaction or its commit included, leaves the file consistent: its
// uncommitted transaction is gone (in WAL, frames without a commit record
// are ignored), everything committed before stays, and the kernel releases
// its locks, so the other processes carry on. An outside sweep ran two
// demo processes on one file through 15 SIGKILLs inside saves:
// integrity_check ok and every connected row present. The demo's
// TestSQLiteProcessesKilled repeats it on every test run: two processes,
// six kills of one of them (three paused inside a save's write
// transaction), then PRAGMA integrity_check and every committed save.
//
// Not supported: a file on a network filesystem (NFS, SMB and the like),
// whose locking is unreliable and which cannot share WAL's memory-mapped
// index between hosts, and so processes on several hosts: use PostgreSQL
// there. Several processes on one host never write in parallel: their
// writes queue on the file's single write lock, each for at most
// busy_timeout.
package sqlstore
