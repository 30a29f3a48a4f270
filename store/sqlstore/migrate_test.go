package sqlstore

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

// appliedVersions returns the versions recorded in the migrations table.
func appliedVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.db.QueryContext(testutil.Context(t), "SELECT version FROM "+s.table("schema_migrations")+" ORDER BY version")
	require.NoError(t, err)
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		vs = append(vs, v)
	}
	require.NoError(t, rows.Err())
	return vs
}

func allVersions() []int {
	var vs []int
	for i := range migrations {
		vs = append(vs, i+1)
	}
	return vs
}

func TestMigrateIdempotent(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		require.NoError(t, s.Save(testutil.Context(t), &oauthlink.Connection{Provider: "p", Owner: "o"}))
		s2 := newOn(t, db.DB, db, nil)
		// Force the locked path too, not only the quick up-to-date check.
		require.NoError(t, s2.migrateLocked(testutil.Context(t), len(migrations)))
		assert.Equal(t, allVersions(), appliedVersions(t, s2))
		_, err := s2.Load(testutil.Context(t), "p", "o")
		assert.NoError(t, err)
	})
}

// TestMigrateConcurrent starts several instances at once on one empty
// database, each with its own pool: every New succeeds and each migration
// is applied once.
func TestMigrateConcurrent(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		db := b.open(t)
		const instances = 5
		pools := []*sql.DB{db.DB}
		for range instances - 1 {
			pools = append(pools, db.reopen(t))
		}
		ctx := testutil.Context(t)
		var wg sync.WaitGroup
		errs := make([]error, instances)
		stores := make([]*Store, instances)
		for i, pool := range pools {
			wg.Go(func() { stores[i], errs[i] = New(ctx, pool, db.opts) })
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "instance %d", i)
		}
		assert.Equal(t, allVersions(), appliedVersions(t, stores[0]))
	})
}

// TestMigrateUpgrade upgrades a database that an older release created
// (only the first migration applied) and that holds data.
func TestMigrateUpgrade(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := testutil.Context(t)
		old, err := newStore(db.DB, db.opts)
		require.NoError(t, err)
		require.NoError(t, old.migrate(ctx, 1))
		assert.Equal(t, []int{1}, appliedVersions(t, old))
		// The first release's INSERT, which knows only the first
		// migration's columns.
		created := time.Now().UTC().Truncate(time.Microsecond)
		_, err = db.ExecContext(ctx, old.rebind("INSERT INTO "+old.table("connections")+
			` (provider, owner, account_id, access_token, refresh_token, token_type, expiry_us, scopes,
			extra, redirect_uri, status, version, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'null', ?, ?, 'active', 1, ?, ?)`),
			old.bin("p"), old.bin("o"), old.bin(""), old.bin("at"), old.bin(""), old.bin(""),
			micros(time.Time{}), old.bin(""), old.bin(""), micros(created), micros(created))
		require.NoError(t, err)
		c := &oauthlink.Connection{Provider: "p", Owner: "o", AccessToken: "at", Status: store.StatusActive,
			Version: 1, CreatedAt: created, UpdatedAt: created}

		s := newOn(t, db.DB, db, nil)
		assert.Equal(t, allVersions(), appliedVersions(t, s))
		got, err := s.Load(ctx, "p", "o")
		require.NoError(t, err)
		assert.Equal(t, c, got, "a row written before the upgrade reads back with no retired grant")
		assert.True(t, got.Expiry.IsZero())
		first, err := s.Consume(ctx, "k", time.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, first)
	})
}

// TestMigrateRetiredColumn: rows that an older release writes on the
// upgraded schema (its INSERT and UPDATE do not name the retired column)
// still work, and an older release's UPDATE keeps the retired grants
// this release wrote.
func TestMigrateRetiredColumn(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		since := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		c := &oauthlink.Connection{Provider: "p", Owner: "o", AccessToken: "at", Status: store.StatusActive,
			Retired: []store.RetiredToken{{Token: "rt-old", Kind: "refresh_token", Since: since}}}
		require.NoError(t, s.Save(ctx, c))

		_, err := s.db.ExecContext(ctx, s.rebind("UPDATE "+s.table("connections")+
			" SET access_token = ?, version = version + 1 WHERE provider = ? AND owner = ? AND version = ?"),
			s.bin("at2"), s.bin("p"), s.bin("o"), c.Version)
		require.NoError(t, err)
		got, err := s.Load(ctx, "p", "o")
		require.NoError(t, err)
		assert.Equal(t, store.Secret("at2"), got.AccessToken)
		assert.Equal(t, c.Retired, got.Retired)

		_, err = s.db.ExecContext(ctx, s.rebind("INSERT INTO "+s.table("connections")+
			` (provider, owner, account_id, access_token, refresh_token, token_type, expiry_us, scopes,
			extra, redirect_uri, status, version, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, 0, '[]', ?, ?, 'active', 1, 0, 0)`),
			s.bin("q"), s.bin("o"), s.bin(""), s.bin("at"), s.bin(""), s.bin(""), s.bin(""), s.bin(""))
		require.NoError(t, err)
		got, err = s.Load(ctx, "q", "o")
		require.NoError(t, err)
		assert.Nil(t, got.Retired)
	})
}

// TestMigrateNewerSchema: a database a newer release migrated further is
// accepted, so a rolling deploy can restart old instances.
func TestMigrateNewerSchema(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		_, err := s.db.ExecContext(testutil.Context(t), s.rebind("INSERT INTO "+s.table("schema_migrations")+
			" (version, name, applied_us) VALUES (?, 'future', 0)"), len(migrations)+10)
		require.NoError(t, err)
		newOn(t, db.DB, db, nil)
	})
}

// TestMigrateRefreshedAt upgrades a database created at the schema before
// refreshed_us (four migrations) that holds rows: they read RefreshedAt
// as the zero time, a later Save stores it, and an older release's
// INSERT, which does not name the column, leaves it zero.
func TestMigrateRefreshedAt(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := testutil.Context(t)
		old, err := newStore(db.DB, db.opts)
		require.NoError(t, err)
		require.NoError(t, old.migrate(ctx, 4))
		for _, owner := range []string{"o1", "o2"} {
			_, err = db.ExecContext(ctx, old.rebind("INSERT INTO "+old.table("connections")+
				` (provider, owner, account_id, access_token, refresh_token, token_type, expiry_us, scopes,
				extra, redirect_uri, status, version, created_us, updated_us, retired)
				VALUES (?, ?, ?, ?, ?, ?, 0, '[]', ?, ?, 'active', 1, 0, 0, ?)`),
				old.bin("p"), old.bin(owner), old.bin("acct"), old.bin("at"), old.bin("rt"), old.bin("Bearer"),
				old.bin(""), old.bin(""), old.bin(""))
			require.NoError(t, err)
		}

		s := newOn(t, db.DB, db, nil)
		assert.Equal(t, allVersions(), appliedVersions(t, s))
		got, err := s.Load(ctx, "p", "o1")
		require.NoError(t, err)
		assert.True(t, got.RefreshedAt.IsZero(), "a row from before the upgrade: %v", got.RefreshedAt)
		page, err := s.Scan(ctx, store.Query{RefreshedBefore: time.Unix(1, 0)})
		require.NoError(t, err)
		assert.Len(t, page.Connections, 2, "zero RefreshedAt is before any time")

		refreshed := time.Date(2031, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
		got.RefreshedAt = refreshed
		require.NoError(t, s.Save(ctx, got))
		got, err = s.Load(ctx, "p", "o1")
		require.NoError(t, err)
		assert.True(t, refreshed.Equal(got.RefreshedAt), "got %v", got.RefreshedAt)

		_, err = db.ExecContext(ctx, s.rebind("INSERT INTO "+s.table("connections")+
			` (provider, owner, account_id, access_token, refresh_token, token_type, expiry_us, scopes,
			extra, redirect_uri, status, version, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, 0, '[]', ?, ?, 'active', 1, 0, 0)`),
			s.bin("p"), s.bin("o3"), s.bin(""), s.bin("at"), s.bin(""), s.bin(""), s.bin(""), s.bin(""))
		require.NoError(t, err)
		got, err = s.Load(ctx, "p", "o3")
		require.NoError(t, err)
		assert.True(t, got.RefreshedAt.IsZero())
	})
}

// TestMigrateScanIndexBuiltBefore: an index of the fifth migration that
// an operator built beforehand (CREATE INDEX CONCURRENTLY on a large
// PostgreSQL table) does not fail the migration.
func TestMigrateScanIndexBuiltBefore(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := testutil.Context(t)
		old, err := newStore(db.DB, db.opts)
		require.NoError(t, err)
		require.NoError(t, old.migrate(ctx, 4))
		_, err = db.ExecContext(ctx, old.expand(`CREATE INDEX {i:connections_account} ON {t:connections} (provider, account_id, owner)`))
		require.NoError(t, err)
		s := newOn(t, db.DB, db, nil)
		assert.Equal(t, allVersions(), appliedVersions(t, s))
	})
}

// TestMigratePending upgrades a database created at the schema before the
// pending index (five migrations) that holds rows of every kind: the
// pending ones (disconnected, or with retired grants) are found by
// PendingRevocation at once, without a backfill, and the index stays
// right when an older release, which knows nothing of it, writes the
// rows afterwards. Upgrading again, or onto an index an operator built
// beforehand, changes nothing.
func TestMigratePending(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		db := b.open(t)
		ctx := testutil.Context(t)
		old, err := newStore(db.DB, db.opts)
		require.NoError(t, err)
		const before = 5
		require.NoError(t, old.migrate(ctx, before))
		require.Equal(t, []int{1, 2, 3, 4, 5}, appliedVersions(t, old))
		retired, err := storekit.EncodeRetired([]store.RetiredToken{{Token: "rt-old", Kind: "refresh_token",
			Since: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}, storekit.SinceMicros)
		require.NoError(t, err)
		// The previous release's INSERT, which names every column but has
		// no idea of the index.
		insert := old.rebind("INSERT INTO " + old.table("connections") +
			` (provider, owner, account_id, access_token, refresh_token, token_type, expiry_us, scopes,
			extra, redirect_uri, status, version, created_us, updated_us, retired, refreshed_ms)
			VALUES (?, ?, ?, ?, ?, ?, 0, '[]', ?, ?, ?, 1, 0, 0, ?, 0)`)
		for _, r := range []struct {
			owner, status, retired string
		}{
			{"active", "active", ""},
			{"disconnected", "disconnected", ""},
			{"retired", "active", retired},
			{"reauth", "reauth_required", ""},
			{"revoked-retired", "revoked", retired},
		} {
			_, err := db.ExecContext(ctx, insert, old.bin("p"), old.bin(r.owner), old.bin(""), old.bin("at"),
				old.bin("rt"), old.bin("Bearer"), old.bin(""), old.bin(""), r.status, old.bin(r.retired))
			require.NoError(t, err)
		}
		pending := func(s *Store) []string {
			t.Helper()
			var out []string
			q := store.Query{Provider: "p", PendingRevocation: true, Limit: 1}
			for {
				page, err := s.Scan(ctx, q)
				require.NoError(t, err)
				for _, c := range page.Connections {
					require.True(t, c.PendingRevocation(), "%s is not pending", c.Owner)
					out = append(out, c.Owner)
				}
				if page.Next == "" {
					return out
				}
				q.Cursor = page.Next
			}
		}

		s := newOn(t, db.DB, db, nil)
		assert.Equal(t, allVersions(), appliedVersions(t, s))
		assert.Equal(t, []string{"disconnected", "retired", "revoked-retired"}, pending(s),
			"rows written before the upgrade are in the index")

		// An older release's UPDATE, which names neither the index nor
		// (before the fourth migration) the retired column: the database
		// keeps the partial index right.
		for _, u := range []struct{ set, owner string }{
			{"status = 'disconnected'", "active"},
			{"retired = ''", "retired"},
			{"status = 'active'", "disconnected"},
		} {
			_, err := db.ExecContext(ctx, s.rebind("UPDATE "+s.table("connections")+" SET "+u.set+
				", version = version + 1 WHERE provider = ? AND owner = ?"), s.bin("p"), s.bin(u.owner))
			require.NoError(t, err)
		}
		assert.Equal(t, []string{"active", "revoked-retired"}, pending(s))

		// Idempotent: the locked path again, and an index built by hand
		// before the migration ran.
		require.NoError(t, s.migrateLocked(ctx, len(migrations)))
		assert.Equal(t, allVersions(), appliedVersions(t, s))

		db2 := b.open(t)
		old2, err := newStore(db2.DB, db2.opts)
		require.NoError(t, err)
		require.NoError(t, old2.migrate(ctx, before))
		_, err = db2.ExecContext(ctx, old2.expand(`CREATE INDEX {i:connections_pending} ON {t:connections} (provider, owner) WHERE `+pendingCond))
		require.NoError(t, err)
		s2 := newOn(t, db2.DB, db2, nil)
		assert.Equal(t, allVersions(), appliedVersions(t, s2))
		assert.Empty(t, pending(s2))
	})
}

// TestPendingCondStatus: the pending index's predicate names the status
// store.Connection.PendingRevocation does.
func TestPendingCondStatus(t *testing.T) {
	assert.Contains(t, pendingCond, "status = '"+string(store.StatusDisconnected)+"'")
}
