package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// Scan returns a page of the connections that match q, as described by
// store.Scanner. Pages are keyset pages: each one starts after the sort
// key of the previous page's last row (never at an OFFSET), so a page
// costs the same wherever it falls and rows written during the scan
// neither shift nor repeat the rest. Without q.RefreshedBefore the key is
// (provider, owner), compared as bytes; with it, (refreshed_ms, provider,
// owner) over the rows refreshed before q.RefreshedBefore or never. A
// Provider filter fixes provider, which then drops out of the key, so the
// indexes that start with provider serve one provider's pages.
// q.PendingRevocation adds pendingCond, which the partial index
// connections_pending serves in the (provider, owner) order. The
// cursor and the filter and order rules are storekit's, which every store
// shares.
//
// q.AccountID without q.Provider is an error. A cursor that Scan did not
// issue, or issued for other filters, returns an error wrapping
// store.ErrBadCursor.
func (s *Store) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	if err := storekit.CheckQuery("sqlstore", q); err != nil {
		return store.Page{}, err
	}
	after, start, err := storekit.DecodeCursor(q, q.Cursor)
	if err != nil {
		return store.Page{}, fmt.Errorf("sqlstore: scan: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Page{}, s.fail(ctx, "scan", err)
	}
	var from *storekit.Cursor
	if !start {
		from = &after
	}
	limit := q.PageLimit()
	stmt, args := s.scanQuery(q, from, limit+1)
	rows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return store.Page{}, s.fail(ctx, "scan", err)
	}
	defer rows.Close()
	out := make([]*store.Connection, 0, limit+1)
	for rows.Next() {
		c, err := scanConn(rows)
		if err != nil {
			return store.Page{}, s.fail(ctx, "scan", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, s.fail(ctx, "scan", err)
	}
	// One row more than the page tells whether another page follows, so
	// the last page, even a full one, ends with Next "".
	page := store.Page{Connections: out}
	if len(out) > limit {
		page.Connections = out[:limit]
		page.Next = storekit.EncodeCursor(q, storekit.CursorOf(out[limit-1]))
	}
	return page, nil
}

// scanQuery returns the statement and arguments of one page of q: at most
// n rows after the sort key after (nil: from the start).
func (s *Store) scanQuery(q store.Query, after *storekit.Cursor, n int) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if q.Provider != "" {
		add("provider = ?", s.bin(q.Provider))
	}
	if q.AccountID != "" {
		add("account_id = ?", s.bin(q.AccountID))
	}
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if q.PendingRevocation {
		where = append(where, pendingCond)
	}
	byTime := storekit.Upkeep(q)
	if byTime {
		// Zero is stored as 0, below every later time; only a cutoff
		// at or before 1970 needs to name it.
		if before := ceilMilli(q.RefreshedBefore); before > 0 {
			add("refreshed_ms < ?", before)
		} else {
			add("(refreshed_ms < ? OR refreshed_ms = 0)", before)
		}
	}
	// The sort key, without provider when the filter fixes it.
	var cols []string
	var key []any
	if byTime {
		cols = append(cols, "refreshed_ms")
		if after != nil {
			key = append(key, after.RefreshedAt)
		}
	}
	if q.Provider == "" {
		cols = append(cols, "provider")
		if after != nil {
			key = append(key, s.bin(after.Provider))
		}
	}
	cols = append(cols, "owner")
	order := strings.Join(cols, ", ")
	if after != nil {
		key = append(key, s.bin(after.Owner))
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
		if len(cols) == 1 {
			where = append(where, order+" > "+marks)
		} else {
			// A row value comparison, which both dialects turn into an
			// index range on the key's columns.
			where = append(where, "("+order+") > ("+marks+")")
		}
		args = append(args, key...)
	}
	var b strings.Builder
	b.WriteString("SELECT " + connColumns + " FROM " + s.table("connections"))
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY " + order + " LIMIT ?")
	return s.rebind(b.String()), append(args, n)
}

// ceilMilli is the smallest Unix millisecond not before t: a time stored
// in whole milliseconds is before t exactly when its millisecond is below
// ceilMilli(t).
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}
