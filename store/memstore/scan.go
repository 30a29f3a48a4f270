package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// Scan returns a page of the connections q selects, in q's order
// (store.Scanner). It walks every record under the read lock and sorts the
// matches: linear in the number of connections, which suits the tests,
// demos and single instances memstore is for.
func (s *Store) Scan(ctx context.Context, q store.Query) (store.Page, error) {
	if err := ctx.Err(); err != nil {
		return store.Page{}, fmt.Errorf("memstore: scan: %w", err)
	}
	if err := storekit.CheckQuery("memstore", q); err != nil {
		return store.Page{}, err
	}
	after, start, err := storekit.DecodeCursor(q, q.Cursor)
	if err != nil {
		return store.Page{}, fmt.Errorf("memstore: scan: %w", err)
	}
	s.mu.RLock()
	var matches []*store.Connection
	for _, byProvider := range s.conns {
		for _, c := range byProvider {
			if storekit.Matches(c, q) && (start || storekit.CursorOf(c).Compare(after, q) > 0) {
				matches = append(matches, c.Clone())
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(matches, func(a, b *store.Connection) int {
		return storekit.CursorOf(a).Compare(storekit.CursorOf(b), q)
	})
	limit := q.PageLimit()
	if len(matches) <= limit {
		return store.Page{Connections: matches}, nil
	}
	page := matches[:limit]
	return store.Page{Connections: page, Next: storekit.EncodeCursor(q, storekit.CursorOf(page[limit-1]))}, nil
}
