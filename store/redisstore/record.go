package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// Hash field names of a connection record.
const (
	fVersion     = "v"
	fWriteID     = "w"
	fCreated     = "created"
	fUpdated     = "updated"
	fAccountID   = "account_id"
	fAccess      = "access_token"
	fRefresh     = "refresh_token"
	fTokenType   = "token_type"
	fExpiry      = "expiry"
	fScopes      = "scopes"
	fExtra       = "extra"
	fRedirectURI = "redirect_uri"
	fStatus      = "status"
	fRetired     = "retired"
	fRefreshed   = "refreshed"
	// fEpoch is set when a record is created (or first saved by a
	// version with the Scan index), from the server's clock
	// (microseconds), and kept by updates: with the version it orders the
	// states of one connection across a delete and a re-create (see
	// split.go).
	fEpoch = "e"
)

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// decode builds a Connection from a record's hash fields.
func decode(provider, owner string, h map[string]string) (*store.Connection, error) {
	c := &store.Connection{
		Provider:     provider,
		Owner:        owner,
		AccountID:    h[fAccountID],
		AccessToken:  store.Secret(h[fAccess]),
		RefreshToken: store.Secret(h[fRefresh]),
		TokenType:    h[fTokenType],
		Extra:        store.Secret(h[fExtra]),
		RedirectURI:  h[fRedirectURI],
		Status:       store.Status(h[fStatus]),
	}
	var err error
	if c.Version, err = strconv.ParseInt(h[fVersion], 10, 64); err != nil {
		return nil, fmt.Errorf("bad version: %w", err)
	}
	for f, dst := range map[string]*time.Time{fExpiry: &c.Expiry, fCreated: &c.CreatedAt, fUpdated: &c.UpdatedAt} {
		if *dst, err = time.Parse(time.RFC3339Nano, h[f]); err != nil {
			return nil, fmt.Errorf("bad %s: %w", f, err)
		}
	}
	if c.RefreshedAt, err = decodeRefreshed(h[fRefreshed]); err != nil {
		return nil, err
	}
	if c.Scopes, err = storekit.DecodeScopes(h[fScopes]); err != nil {
		return nil, err
	}
	if c.Retired, err = storekit.DecodeRetired(h[fRetired], storekit.SinceRFC3339); err != nil {
		return nil, err
	}
	return c, nil
}

// Load returns the connection for (provider, owner), or an error wrapping
// store.ErrNotFound. Times are in UTC.
func (s *Store) Load(ctx context.Context, provider, owner string) (*store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "load", err)
	}
	h, err := s.client.HGetAll(ctx, s.connKey(provider, owner)).Result()
	if err != nil {
		return nil, fail(ctx, "load", err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("redisstore: load %q for %q: %w", provider, owner, store.ErrNotFound)
	}
	c, err := decode(provider, owner, h)
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %q for %q: %w", provider, owner, err)
	}
	return c, nil
}

// List returns owner's connections ordered by provider (byte order), or an
// empty slice when there are none. It reads the owner's index, then every
// record in one pipelined round trip; a record deleted in between is left
// out.
func (s *Store) List(ctx context.Context, owner string) ([]*store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "list", err)
	}
	// Members of equal score are ordered by their bytes (memcmp).
	providers, err := s.client.ZRange(ctx, s.indexKey(owner), 0, -1).Result()
	if err != nil {
		return nil, fail(ctx, "list", err)
	}
	out := []*store.Connection{}
	if len(providers) == 0 {
		return out, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(providers))
	for i, p := range providers {
		cmds[i] = pipe.HGetAll(ctx, s.connKey(p, owner))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fail(ctx, "list", err)
	}
	for i, cmd := range cmds {
		h := cmd.Val()
		if len(h) == 0 {
			continue
		}
		c, err := decode(providers[i], owner, h)
		if err != nil {
			return nil, fmt.Errorf("redisstore: list %q for %q: %w", providers[i], owner, err)
		}
		out = append(out, c)
	}
	return out, nil
}
