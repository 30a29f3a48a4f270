package oauthlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/store"
)

// exchangeAndSave spends the code exactly once and commits the connection.
// The store is checked before the code is spent. From the moment the code
// is sent, the provider may issue a grant that only this call knows of, so
// the rest runs under a context the browser cannot cancel: the exchange
// bounded by Config.Tokens.ExchangeTimeout (tokenRequest), identifying and saving
// by twice that. A save that still fails revokes the new tokens, so no live
// grant is orphaned. After the commit the grants it
// replaced are revoked (retireReplaced).
// storeCtx bounds the pre-exchange store check (shared with the replay
// guard's call).
func (e *engine) connect(ctx, storeCtx context.Context, owner, code, verifier string) (*Connection, error) {
	if p, ok := store.Capability[store.Pinger](e.store); ok {
		if err := p.Ping(storeCtx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
	}
	ctx = context.WithoutCancel(ctx)
	form := e.newExchangeForm().Add("code", code)
	if verifier != "" {
		form = form.Add("code_verifier", verifier)
	}
	tok, err := e.tokenRequest(ctx, form)
	if err != nil {
		e.log.Warn("oauthlink: code exchange failed", "provider", e.provider.Name, "owner", owner, "error", err)
		return nil, fmt.Errorf("%w: %w", ErrExchange, err)
	}
	account, err := e.accountID(tok)
	if err != nil {
		e.revokeQuietly(ctx, tok, "")
		return nil, fmt.Errorf("%w: %w", ErrExchange, err)
	}
	if e.provider.RequireRefreshToken && tok.RefreshToken == "" {
		e.revokeQuietly(ctx, tok, account)
		return nil, fmt.Errorf("%w: %w: no refresh_token issued (is the offline scope granted?)", ErrExchange, errTokenResponse)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*e.opts.ExchangeTimeout)
	defer cancel()
	now := e.now()
	conn := &Connection{
		Provider: e.provider.Name, Owner: owner, AccountID: account,
		AccessToken: store.Secret(tok.AccessToken), RefreshToken: store.Secret(tok.RefreshToken),
		TokenType: tok.TokenType, Expiry: e.tokenExpiry(now, tok, tok.RefreshToken),
		Scopes: e.grantedScopes(tok), Extra: store.Secret(tok.Extra),
		RedirectURI: e.redirectURL, Status: store.StatusActive, RefreshedAt: now,
	}
	if e.identify != nil {
		if err := e.identify(sctx, conn); err != nil {
			e.revokeQuietly(ctx, tok, conn.AccountID)
			return nil, fmt.Errorf("%w: identifying the account: %w", ErrExchange, err)
		}
	}
	if err := e.commitNew(sctx, conn); err != nil {
		e.log.Error("oauthlink: saving new connection failed; revoking the new grant", "provider", e.provider.Name, "owner", owner, "error", err)
		e.revokeQuietly(ctx, tok, conn.AccountID)
		if !errors.Is(err, ErrStore) {
			err = fmt.Errorf("%w: %w", ErrStore, err)
		}
		return nil, err
	}
	// The old token may be cached here for CacheTTL: drop it before anyone
	// reads it again.
	e.forget(owner)
	if e.log.Enabled(ctx, slog.LevelInfo) { // the args cost allocations even when discarded
		e.log.Info("oauthlink: connected", "provider", e.provider.Name, "owner", owner, "account", conn.AccountID)
	}
	e.emit(ctx, Event{Kind: EventConnected, Provider: e.provider.Name, Owner: owner})
	if len(conn.Retired) > 0 {
		conn = e.retireReplaced(ctx, conn)
	}
	return conn, nil
}

// commitNew saves conn over whatever the owner had (a reconnect replaces an
// old or reauth_required grant), retrying version conflicts and store
// errors a bounded number of times.
func (e *engine) commitNew(ctx context.Context, conn *Connection) error {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			if werr := retry.Sleep(ctx, retry.Exponential(attempt-1, 200*time.Millisecond, time.Second)); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if err = e.commitOnce(ctx, conn); err == nil {
			return nil
		}
	}
	return err
}

// commitOnce saves conn under the connection lock: a refresh of the owner's
// previous grant that is still in flight finishes first, so its
// compare-and-swap cannot land on the new record when versions restart
// after a delete. The lock is taken per attempt, so a transient store
// failure (a killed pooled connection) is retried like the save.
//
// The grants conn replaces go into conn.Retired in the same save (see
// retiring), so there is no moment in which a replaced grant is live at
// the provider and recorded nowhere.
func (e *engine) commitOnce(ctx context.Context, conn *Connection) error {
	lk, err := e.lockConn(ctx, conn.Owner)
	if err != nil {
		return err
	}
	defer lk.release()
	conn.Version, conn.CreatedAt, conn.Retired = 0, time.Time{}, nil
	var key string
	var ps *pendingSave
	if !e.pending.empty() { // spares building the key on every callback
		key = connKey(conn.Provider, conn.Owner)
		ps = e.pending.get(key)
	}
	old, err := e.store.Load(ctx, conn.Provider, conn.Owner)
	switch {
	case err == nil:
		conn.Version, conn.CreatedAt = old.Version, old.CreatedAt
	case errors.Is(err, store.ErrNotFound):
		old = nil
	default:
		return err
	}
	conn.Retired = e.retiring(conn, old, ps, e.now())
	if err := e.store.Save(ctx, conn); err != nil {
		return err
	}
	if ps != nil && e.pending.get(key) == ps {
		e.pending.put(key, nil) // retired with the old grant
	}
	return nil
}

// revokeQuietly revokes a new grant that will not be stored (account is
// its provider account, "" when unknown), logging a failure: there is no
// record left to retry it from.
func (e *engine) revokeQuietly(ctx context.Context, tok *tokenResponse, account string) {
	ctx = context.WithoutCancel(ctx)
	kind, value := "access_token", tok.AccessToken
	if tok.RefreshToken != "" {
		kind, value = "refresh_token", tok.RefreshToken
	}
	if err := e.revoke(ctx, value, kind, account); err != nil {
		e.log.Error("oauthlink: revoking an unsaved grant failed", "provider", e.provider.Name, "error", err)
	}
}

func (e *engine) grantedScopes(tok *tokenResponse) []string {
	if tok.ScopeSet {
		return strings.Fields(tok.Scope)
	}
	return slices.Clone(e.scopes)
}
