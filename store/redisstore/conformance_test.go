package redisstore

import (
	"testing"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/storetest"
)

// TestConformance runs the suite every TokenStore passes, each subtest
// under a key prefix of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.TokenStore {
		s, _ := newTestStore(t, Options{})
		return s
	})
}
