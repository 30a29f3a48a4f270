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

// AccountRevocation is what MarkAccountRevoked found and did.
type AccountRevocation struct {
	// Holders counts the connections of the Connector's provider linked
	// to the account that hold a grant the Revocation matches (any
	// status but revoked).
	Holders int
	// Owner is the owner of the one holder, "" when there is not exactly
	// one.
	Owner string
	// Marked reports whether this call marked Owner's connection revoked.
	Marked bool
}

// MarkAccountRevoked is MarkRevoked for a webhook that names the provider
// account rather than the app's owner (Stripe's
// account.application.deauthorized names the account, Qonto's consent
// revocation the organization). It finds the connections of c's provider
// linked to rev.AccountID (store.Scanner, Connection.AccountID as
// Identify or Provider.AccountIDField recorded it) that hold a grant rev
// matches, and:
//
//   - none: does nothing (another app's account, a late or repeated
//     delivery after the merchant connected again, or a connection
//     already revoked);
//   - exactly one, active or reauth_required: marks it with MarkRevoked;
//     a disconnected one is left to the Keeper, which finishes its
//     revocation;
//   - several (several owners linked the same account, each through their
//     own consent): marks none, because the webhook does not say whose
//     consent ended and a working connection must never be declared dead.
//     The revoked one becomes reauth_required at its next refresh, on use
//     or by the Keeper. The caller should log it (Holders says how many).
//
// rev.AccountID must be set. Verify the webhook's signature before you
// call it. c's store must implement store.Scanner. Errors: ErrConfig (no
// Scanner, no AccountID, a Connector not made by oauthlink.New),
// ErrStore, or ctx's error; on an error the provider should deliver the
// webhook again, and a repeat is harmless.
func MarkAccountRevoked(ctx context.Context, c *oauthlink.Connector, rev Revocation) (AccountRevocation, error) {
	var res AccountRevocation
	eng, ok := lifecycle.Of(c)
	if !ok {
		return res, fmt.Errorf("%w: fleet.MarkAccountRevoked needs a Connector made by oauthlink.New", oauthlink.ErrConfig)
	}
	if rev.AccountID == "" {
		return res, fmt.Errorf("%w: fleet.MarkAccountRevoked needs Revocation.AccountID", oauthlink.ErrConfig)
	}
	sc, ok := eng.Scanner()
	if !ok {
		return res, fmt.Errorf("%w: fleet.MarkAccountRevoked needs a store that implements store.Scanner", oauthlink.ErrConfig)
	}
	provider, _ := eng.Provider()
	q := store.Query{Provider: provider, AccountID: rev.AccountID, Limit: 1000}
	var holder *store.Connection
	for {
		page, err := sc.Scan(ctx, q)
		if err != nil {
			return res, fmt.Errorf("%w: fleet.MarkAccountRevoked: %w", oauthlink.ErrStore, err)
		}
		for _, conn := range page.Connections {
			if conn.Status != store.StatusRevoked && rev.Matches(conn) {
				res.Holders++
				holder = conn
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if res.Holders != 1 {
		return res, nil
	}
	res.Owner = holder.Owner
	if holder.Status != store.StatusActive && holder.Status != store.StatusReauthRequired {
		return res, nil
	}
	var err error
	res.Marked, err = eng.MarkRevoked(ctx, holder.Owner, rev.Matches)
	return res, err
}
