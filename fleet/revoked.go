package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/lifecycle"
	"github.com/oauthlink/oauthlink/store"
)

// EventRevoked is the event MarkRevoked emits through Hooks.OnEvent.
const EventRevoked oauthlink.EventKind = lifecycle.KindRevoked

// Revocation says which consent the provider reported revoked, so that
// MarkRevoked marks that one and never a working connection. Its zero
// value matches the owner's connection whatever it is linked to.
type Revocation struct {
	// AccountID, when set, is the provider account whose consent ended
	// (Qonto's organization_id, Stripe's account): a connection linked to
	// another account (Connection.AccountID, as Identify recorded it) is
	// left alone.
	AccountID string
	// RevokedAt, when set, is when the merchant revoked, by the provider's
	// clock. A connection whose tokens were obtained after it
	// (Connection.RefreshedAt later than RevokedAt plus
	// RevokedAtPrecision) holds a newer consent — the merchant connected
	// again, and the provider delivered the old revocation late or again —
	// and is left alone. A record that predates RefreshedAt (zero) cannot
	// be told apart and is marked.
	RevokedAt time.Time
}

// RevokedAtPrecision is how much later than Revocation.RevokedAt tokens
// may have been obtained and still belong to the revoked consent:
// providers state the time to the second (Qonto's revoked_at), so a
// connection made and revoked within one second must still match.
const RevokedAtPrecision = time.Second

// Matches reports whether conn holds the consent r describes: linked to
// r.AccountID (when set), with tokens obtained no later than r.RevokedAt
// plus RevokedAtPrecision (when set). MarkRevoked applies it under the
// connection's lock; a webhook handler uses it to pick the candidates.
func (r Revocation) Matches(conn *store.Connection) bool {
	if r.AccountID != "" && conn.AccountID != r.AccountID {
		return false
	}
	if !r.RevokedAt.IsZero() && !conn.RefreshedAt.IsZero() && conn.RefreshedAt.After(r.RevokedAt.Add(RevokedAtPrecision)) {
		return false
	}
	return true
}

// MarkRevoked records that the merchant revoked the app's consent at the
// provider for c's connection of owner, as the provider's deauthorization
// webhook reports it (the qonto package's WebhookHandler calls it; wire
// any other provider's webhook to it). Under the connection lock it reads
// the record and, when rev matches it (see Revocation), marks it
// store.StatusRevoked and drops its tokens, extra fields and retired
// grants, with compare-and-swap (re-reading on a conflict), drops the
// cached token, and emits EventRevoked through Hooks.OnEvent. It sends
// nothing to the provider: the grant is already gone there. marked
// reports whether this call marked the connection.
//
// Afterwards Connection and Client fail with an error wrapping
// ErrDisconnected, and RequireConnection treats the owner as not connected
// (reason "disconnected"); other instances of the app stop using their
// cached token within Config.Tokens.CacheTTL, or at the provider's first
// 401, whichever comes first. The record is kept until the owner connects
// again, which replaces it, or Disconnect deletes it. Calling MarkRevoked
// again, for an owner without a connection, or for a connection rev does
// not match returns (false, nil): a webhook delivered twice changes
// nothing. Errors: ErrStore, ErrInvalidOwner, or ctx's error (wrapped in
// ErrStore when the store gave up on it).
func MarkRevoked(ctx context.Context, c *oauthlink.Connector, owner string, rev Revocation) (marked bool, err error) {
	eng, ok := lifecycle.Of(c)
	if !ok {
		return false, fmt.Errorf("%w: fleet.MarkRevoked needs a Connector made by oauthlink.New", oauthlink.ErrConfig)
	}
	return eng.MarkRevoked(ctx, owner, rev.Matches)
}
