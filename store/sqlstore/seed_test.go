package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// seedBatch is how many rows seed inserts per transaction.
const seedBatch = 1000

// seed creates conns (each of Version 0) with Save's insert statement,
// seedBatch rows per transaction, which is what makes 100,000 rows on
// PostgreSQL take seconds instead of minutes. It sets Version, CreatedAt
// and UpdatedAt as Save would.
func seed(tb testing.TB, ctx context.Context, s *Store, conns []*store.Connection) {
	tb.Helper()
	for len(conns) > 0 {
		n := min(len(conns), seedBatch)
		if err := seedTx(ctx, s, conns[:n]); err != nil {
			tb.Fatalf("seed: %v", err)
		}
		conns = conns[n:]
	}
}

// seedTx inserts conns in one transaction.
func seedTx(ctx context.Context, s *Store, conns []*store.Connection) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.q.insert)
	if err != nil {
		return err
	}
	defer stmt.Close()
	now := s.now().UTC().Truncate(time.Microsecond)
	for _, c := range conns {
		scopes, retired, err := storekit.EncodeSave("seed", c, storekit.SinceMicros)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, s.insertArgs(c, scopes, retired, micros(now))...); err != nil {
			return fmt.Errorf("insert %q for %q: %w", c.Provider, c.Owner, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, c := range conns {
		storekit.Saved(c, now)
	}
	return nil
}

// fleetConnection is the i-th connection of a generated fleet: two
// providers, a status mix of 90% active, one account per ten owners,
// and RefreshedAt spread over the 120 days before base, with every
// twentieth one zero (a record from before RefreshedAt was kept).
func fleetConnection(i int, base time.Time) *store.Connection {
	provider := "qonto"
	if i%3 == 0 {
		provider = "mollie"
	}
	status := store.StatusActive
	switch i % 20 {
	case 7:
		status = store.StatusReauthRequired
	case 13:
		status = store.StatusDisconnected
	}
	var refreshed time.Time
	if i%20 != 5 {
		// A multiplicative hash spreads neighbouring owners over the
		// window, so that the time order differs from the key order.
		spread := time.Duration(uint64(i)*2654435761%(120*24*3600)) * time.Second
		refreshed = base.Add(-spread).Truncate(time.Millisecond)
	}
	return &store.Connection{
		Provider:     provider,
		Owner:        fmt.Sprintf("shop-%07d", i),
		AccountID:    fmt.Sprintf("org_%06d", i/10),
		AccessToken:  store.Secret(fmt.Sprintf("access_%040d", i)),
		RefreshToken: store.Secret(fmt.Sprintf("refresh_%040d", i)),
		TokenType:    "Bearer",
		Expiry:       base.Add(time.Hour).Truncate(time.Millisecond),
		Scopes:       []string{"organizations.read", "payments.read", "offline_access"},
		RedirectURI:  "https://app.example.com/oauth/" + provider + "/callback",
		Status:       status,
		RefreshedAt:  refreshed,
	}
}
