package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/oauthlink/oauthlink/store"
)

// TestScanPlans checks that an index serves every query shape Scan
// builds, first page and later ones: the rows come out of an index range
// in the page's order, with no sort and no scan of the whole table. On
// PostgreSQL the planner is told to avoid sequential scans and sorts, so
// the check is about the indexes the migration made, not about the
// statistics of a small test table (BenchmarkScan's fleet shows the plans
// PostgreSQL picks by itself).
func TestScanPlans(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		base := time.Now().UTC()
		fleet := make([]*store.Connection, 300)
		for i := range fleet {
			fleet[i] = fleetConnection(i, base)
		}
		seed(t, ctx, s, fleet)
		cutoff := base.Add(-30 * 24 * time.Hour)
		for _, q := range []store.Query{
			{},
			{Provider: "qonto"},
			{Status: store.StatusActive},
			{Provider: "qonto", Status: store.StatusActive},
			{Provider: "qonto", AccountID: "org_000001"},
			{RefreshedBefore: cutoff},
			{Provider: "qonto", RefreshedBefore: cutoff},
			{Provider: "qonto", Status: store.StatusActive, RefreshedBefore: cutoff},
			{PendingRevocation: true},
			{Provider: "qonto", PendingRevocation: true},
		} {
			q.Limit = 2
			page, err := s.Scan(ctx, q)
			require.NoError(t, err)
			require.NotEmpty(t, page.Next, "%+v: the fleet has too few rows for a second page", q)
			after, _, err := storekit.DecodeCursor(q, page.Next)
			require.NoError(t, err)
			for _, from := range []*storekit.Cursor{nil, &after} {
				stmt, args := s.scanQuery(q, from, q.PageLimit()+1)
				plan := explain(t, ctx, s, stmt, args)
				// A filter or a cursor must bound the index range, not
				// only filter the rows of a walk over a whole index.
				if q.Provider != "" || q.Status != "" || from != nil || !q.RefreshedBefore.IsZero() {
					want := map[Dialect]string{SQLite: "SEARCH ", Postgres: "Index Cond"}[s.dialect]
					assert.Contains(t, plan, want, "%+v walks a whole index:\n%s", q, plan)
				}
				if s.dialect == SQLite {
					assert.NotContains(t, plan, "TEMP B-TREE", "%+v sorts:\n%s", q, plan)
					assert.Contains(t, plan, " USING ", "%+v reads no index:\n%s", q, plan)
				} else {
					assert.Contains(t, plan, "Index Scan", "%+v reads no index:\n%s", q, plan)
					assert.NotContains(t, plan, "Sort", "%+v sorts:\n%s", q, plan)
					assert.NotContains(t, plan, "Seq Scan", "%+v reads the table:\n%s", q, plan)
				}
			}
		}
	})
}

// TestScanPendingPlan: the revocation query (PendingRevocation, with or
// without Provider) reads the partial index connections_pending, whose
// rows are only the pending ones, in the page's order: no sort, no read
// of the table or of an index that holds every row. The plans are logged
// (go test -v -run TestScanPendingPlan) as evidence.
func TestScanPendingPlan(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		s, _ := newTestStore(t, b, nil)
		ctx := testutil.Context(t)
		base := time.Now().UTC()
		fleet := make([]*store.Connection, 400)
		for i := range fleet {
			fleet[i] = fleetConnection(i, base)
			if i%20 == 17 {
				fleet[i].Retired = []store.RetiredToken{{Token: "rt-old", Kind: "refresh_token", Since: base}}
			}
		}
		seed(t, ctx, s, fleet)
		if s.dialect == Postgres {
			// Statistics, so that the planner sees how few rows the
			// partial index holds.
			_, err := s.db.ExecContext(ctx, "ANALYZE "+s.table("connections"))
			require.NoError(t, err)
		}
		index := s.prefix + "connections_pending"
		for _, q := range []store.Query{
			{PendingRevocation: true},
			{Provider: "qonto", PendingRevocation: true},
			{Provider: "mollie", PendingRevocation: true},
		} {
			q.Limit = 3
			page, err := s.Scan(ctx, q)
			require.NoError(t, err)
			require.NotEmpty(t, page.Next, "%+v: too few pending rows for a second page", q)
			after, _, err := storekit.DecodeCursor(q, page.Next)
			require.NoError(t, err)
			for _, from := range []*storekit.Cursor{nil, &after} {
				stmt, args := s.scanQuery(q, from, q.PageLimit()+1)
				for _, steer := range []bool{false, true} {
					if steer && s.dialect == SQLite {
						continue // SQLite's plan has no settings to steer
					}
					plan := explainWith(t, ctx, s, stmt, args, steer)
					t.Logf("%s %+v after=%v steered=%v:\n%s", s.dialect, q, from != nil, steer, plan)
					assert.Contains(t, plan, index, "%+v does not read the pending index:\n%s", q, plan)
					if s.dialect == SQLite {
						assert.NotContains(t, plan, "TEMP B-TREE", "%+v sorts:\n%s", q, plan)
					} else {
						assert.NotContains(t, plan, "Sort", "%+v sorts:\n%s", q, plan)
						assert.NotContains(t, plan, "Seq Scan", "%+v reads the table:\n%s", q, plan)
					}
				}
			}
		}
	})
}

// explain returns the plan of stmt with args, one line per plan node.
func explain(t *testing.T, ctx context.Context, s *Store, stmt string, args []any) string {
	t.Helper()
	return explainWith(t, ctx, s, stmt, args, true)
}

// explainWith is explain, with PostgreSQL's planner told to avoid
// sequential scans and sorts only when steer is set.
func explainWith(t *testing.T, ctx context.Context, s *Store, stmt string, args []any, steer bool) string {
	t.Helper()
	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	prefix := "EXPLAIN QUERY PLAN "
	if s.dialect == Postgres {
		prefix = "EXPLAIN (COSTS OFF) "
	}
	if s.dialect == Postgres && steer {
		for _, set := range []string{"enable_seqscan", "enable_sort", "enable_incremental_sort", "enable_bitmapscan"} {
			_, err := tx.ExecContext(ctx, "SET LOCAL "+set+" = off")
			require.NoError(t, err)
		}
	}
	rows, err := tx.QueryContext(ctx, prefix+stmt, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		lines = append(lines, vals[len(vals)-1].String) // the detail column
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}
