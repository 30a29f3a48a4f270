package sqlstore

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
)

// appliedVersions returns the versions recorded in the migrations table.
func appliedVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.db.QueryContext(testContext(t), "SELECT version FROM "+s.table("schema_migrations")+" ORDER BY version")
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
		require.NoError(t, s.Save(testContext(t), &oauthlink.Connection{Provider: "p", Owner: "o"}))
		s2 := newOn(t, db.DB, db, nil)
		// Force the locked path too, not only the quick up-to-date check.
		require.NoError(t, s2.migrateLocked(testContext(t), len(migrations)))
		assert.Equal(t, allVersions(), appliedVersions(t, s2))
		_, err := s2.Load(testContext(t), "p", "o")
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
		ctx := testContext(t)
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
		ctx := testContext(t)
		old, err := newStore(db.DB, db.opts)
		require.NoError(t, err)
		require.NoError(t, old.migrate(ctx, 1))
		assert.Equal(t, []int{1}, appliedVersions(t, old))
		c := &oauthlink.Connection{Provider: "p", Owner: "o", AccessToken: "at", Status: oauthlink.StatusActive}
		require.NoError(t, old.Save(ctx, c))

		s := newOn(t, db.DB, db, nil)
		assert.Equal(t, allVersions(), appliedVersions(t, s))
		got, err := s.Load(ctx, "p", "o")
		require.NoError(t, err)
		assert.Equal(t, c, got)
		first, err := s.Consume(ctx, "k", time.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, first)
	})
}

// TestMigrateNewerSchema: a database a newer release migrated further is
// accepted, so a rolling deploy can restart old instances.
func TestMigrateNewerSchema(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, db := newTestStore(t, b, nil)
		_, err := s.db.ExecContext(testContext(t), s.rebind("INSERT INTO "+s.table("schema_migrations")+
			" (version, name, applied_us) VALUES (?, 'future', 0)"), len(migrations)+10)
		require.NoError(t, err)
		newOn(t, db.DB, db, nil)
	})
}
