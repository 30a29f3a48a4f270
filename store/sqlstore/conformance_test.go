package sqlstore

import (
	"testing"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/storetest"
)

// TestConformance runs the suite every TokenStore passes, on SQLite and on
// PostgreSQL, each subtest on a database (file or schema) of its own.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) store.TokenStore {
				s, _ := newTestStore(t, b, nil)
				return s
			})
		})
	}
}
