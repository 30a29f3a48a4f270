package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

const connColumns = `provider, owner, account_id, access_token, refresh_token, token_type,
	expiry_us, scopes, extra, redirect_uri, status, version, created_us, updated_us, retired, refreshed_ms`

// scanConn reads one row of connColumns.
func scanConn(sc interface{ Scan(...any) error }) (*store.Connection, error) {
	var (
		c                                 store.Connection
		access, refresh, extra, scopes    string
		status, retired                   string
		expiryUS, createdUS, updatedUS    int64
		refreshedMS                       int64
		accountID, tokenType, redirectURI string
	)
	if err := sc.Scan(&c.Provider, &c.Owner, &accountID, &access, &refresh, &tokenType,
		&expiryUS, &scopes, &extra, &redirectURI, &status, &c.Version, &createdUS, &updatedUS, &retired,
		&refreshedMS); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = storekit.DecodeScopes(scopes); err != nil {
		return nil, err
	}
	if c.Retired, err = storekit.DecodeRetired(retired, storekit.SinceMicros); err != nil {
		return nil, err
	}
	c.AccountID, c.TokenType, c.RedirectURI = accountID, tokenType, redirectURI
	c.AccessToken, c.RefreshToken, c.Extra = store.Secret(access), store.Secret(refresh), store.Secret(extra)
	c.Status = store.Status(status)
	c.Expiry, c.CreatedAt, c.UpdatedAt = fromMicros(expiryUS), fromMicros(createdUS), fromMicros(updatedUS)
	c.RefreshedAt = fromMillis(refreshedMS)
	return &c, nil
}

// Load returns the connection for (provider, owner), or an error wrapping
// store.ErrNotFound. Times are in UTC.
func (s *Store) Load(ctx context.Context, provider, owner string) (*store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "load", err)
	}
	c, err := scanConn(s.db.QueryRowContext(ctx, s.q.load, s.bin(provider), s.bin(owner)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: load %q for %q: %w", provider, owner, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.fail(ctx, "load", err)
	}
	return c, nil
}

// List returns owner's connections ordered by provider (byte order), or an
// empty slice when there are none.
func (s *Store) List(ctx context.Context, owner string) ([]*store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q.list, s.bin(owner))
	if err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	defer rows.Close()
	out := []*store.Connection{}
	for rows.Next() {
		c, err := scanConn(rows)
		if err != nil {
			return nil, s.fail(ctx, "list", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "list", err)
	}
	return out, nil
}

// Save writes c with compare-and-swap on c.Version (see
// store.TokenStore): Version 0 creates the row, any other value must be
// the stored version. A mismatch, or an update of a deleted row, returns an
// error wrapping store.ErrVersionConflict and changes nothing. On
// success c.Version, c.UpdatedAt and, on create, c.CreatedAt are set to the
// stored values (UTC, truncated to the microsecond); an update keeps the
// stored CreatedAt. A negative Version is an error.
func (s *Store) Save(ctx context.Context, c *store.Connection) error {
	scopes, retired, err := storekit.EncodeSave("sqlstore", c, storekit.SinceMicros)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "save", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var res sql.Result
	if c.Version == 0 {
		res, err = s.db.ExecContext(ctx, s.q.insert, s.insertArgs(c, scopes, retired, micros(now))...)
	} else {
		res, err = s.db.ExecContext(ctx, s.q.update, s.updateArgs(c, scopes, retired, micros(now))...)
	}
	if err != nil {
		return s.fail(ctx, "save", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, "save", err)
	}
	if n != 1 {
		return storekit.SaveConflict("sqlstore", c)
	}
	storekit.Saved(c, now)
	return nil
}

// fields returns the values of the columns a Save writes, in the order of
// the insert and update statements after (provider, owner).
func (s *Store) fields(c *store.Connection, scopes string) []any {
	return []any{
		s.bin(c.AccountID), s.bin(c.AccessToken.Reveal()), s.bin(c.RefreshToken.Reveal()), s.bin(c.TokenType),
		micros(c.Expiry), scopes, s.bin(c.Extra.Reveal()), s.bin(c.RedirectURI), string(c.Status),
	}
}

// insertArgs returns the arguments of the insert statement that creates c
// at nowUS, with scopes and retired as storekit.EncodeSave returned them.
func (s *Store) insertArgs(c *store.Connection, scopes, retired string, nowUS int64) []any {
	args := append([]any{s.bin(c.Provider), s.bin(c.Owner)}, s.fields(c, scopes)...)
	return append(args, nowUS, nowUS, s.bin(retired), storekit.UnixMilli(c.RefreshedAt))
}

// updateArgs returns the arguments of the compare-and-swap update of c
// at nowUS.
func (s *Store) updateArgs(c *store.Connection, scopes, retired string, nowUS int64) []any {
	return append(s.fields(c, scopes), s.bin(retired), storekit.UnixMilli(c.RefreshedAt), nowUS,
		s.bin(c.Provider), s.bin(c.Owner), c.Version)
}

// Delete removes the connection for (provider, owner). Deleting a missing
// connection returns nil.
func (s *Store) Delete(ctx context.Context, provider, owner string) error {
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "delete", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.delete, s.bin(provider), s.bin(owner)); err != nil {
		return s.fail(ctx, "delete", err)
	}
	return nil
}

// DeleteVersion removes the connection for (provider, owner) only if its
// Version is version, as described by store.VersionDeleter: another
// stored version returns an error wrapping store.ErrVersionConflict and
// changes nothing, and a missing connection returns nil. A version below 1
// is an error.
//
// The delete is one conditional statement. When it deletes nothing, a
// second statement tells a missing row (nil, also when the row was deleted
// in between) from another version (a conflict). A row created in between
// is reported as a conflict whatever its version: it is not the row the
// caller read.
func (s *Store) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	if version < 1 {
		return fmt.Errorf("sqlstore: delete %q for %q: version %d is not positive", provider, owner, version)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(ctx, "delete", err)
	}
	res, err := s.db.ExecContext(ctx, s.q.deleteVersion, s.bin(provider), s.bin(owner), version)
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	if n == 1 {
		return nil
	}
	var stored int64
	err = s.db.QueryRowContext(ctx, s.q.version, s.bin(provider), s.bin(owner)).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return s.fail(ctx, "delete", err)
	}
	return fmt.Errorf("sqlstore: delete %q for %q: version %d, stored %d: %w",
		provider, owner, version, stored, store.ErrVersionConflict)
}
