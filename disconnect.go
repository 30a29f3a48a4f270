package oauthlink

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthlink/oauthlink/store"
)

// disconnect is Connector.Disconnect.
func (e *engine) disconnect(ctx context.Context, owner string) error {
	if err := checkOwner(owner); err != nil {
		return err
	}
	e.forget(owner)
	ctx = e.opStart(ctx)
	conn, err := e.markDisconnected(ctx, owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	// The tokens are ours to retire now; finish even if the user leaves.
	ctx = context.WithoutCancel(ctx)
	key := connKey(e.provider.Name, owner)
	ps := e.pending.get(key)
	done, err := e.revokeAll(ctx, disconnecting(conn, ps))
	if err != nil {
		if _, derr := e.dropRetired(ctx, owner, done); derr != nil {
			e.log.Warn("oauthlink: recording confirmed revocations failed", "provider", e.provider.Name, "owner", owner, "error", derr)
		}
		e.log.Error("oauthlink: revocation failed; connection kept as disconnected for a retry", "provider", e.provider.Name, "owner", owner, "error", err)
		e.emit(ctx, Event{Kind: EventRevokeFailed, Provider: e.provider.Name, Owner: owner, Err: err})
		return fmt.Errorf("%w at %s: %w", ErrRevoke, e.provider.Name, err)
	}
	if ps != nil && e.pending.get(key) == ps {
		e.pending.put(key, nil) // revoked with the grant
	}
	if err := e.deleteRevoked(ctx, conn, done); err != nil {
		return err
	}
	e.forget(owner)
	e.log.Info("oauthlink: disconnected", "provider", e.provider.Name, "owner", owner)
	e.emit(ctx, Event{Kind: EventDisconnected, Provider: e.provider.Name, Owner: owner})
	return nil
}

// disconnecting lists what Disconnect revokes: the connection's grant,
// the rotated pair of that grant this process holds unsaved (ps), and
// the grants the connection still had to retire.
func disconnecting(conn *Connection, ps *pendingSave) []store.RetiredToken {
	toks := make([]store.RetiredToken, 0, 2+len(conn.Retired))
	if rt := grantToken(conn); rt.Token != "" {
		toks = append(toks, rt)
	}
	if ps != nil && ps.conn != nil {
		if rt := grantToken(ps.conn); rt.Token != "" {
			toks = append(toks, rt)
		}
	}
	return append(toks, conn.Retired...)
}

// deleteRevoked deletes the record it marked, only if it is still that
// record with nothing left to revoke: a reconnect that committed while the
// revocation ran keeps its new connection. The connection lock (store.Locker)
// makes the re-read and the delete one step; where the store has
// store.VersionDeleter the delete is conditional on the version just re-read,
// which also covers a store without store.Locker and a lock that expired. The
// re-read compares the grant, not the version: versions restart after a
// delete, so a connection deleted and created again meanwhile can be back
// at the marked version, but not with the marked grant.
func (e *engine) deleteRevoked(ctx context.Context, marked *Connection, done map[store.Secret]bool) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.ExchangeTimeout*3)
	defer cancel()
	lk, err := e.lockConn(ctx, marked.Owner)
	if err != nil {
		return err
	}
	defer lk.release()
	cur, err := e.store.Load(ctx, e.provider.Name, marked.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if cur.Status != store.StatusDisconnected || grantToken(cur).Token != grantToken(marked).Token {
		return nil // replaced by a new connection meanwhile
	}
	for _, rt := range cur.Retired {
		if !done[rt.Token] {
			return fmt.Errorf("%w at %s: the connection lists a grant that was not revoked yet; call Disconnect again", ErrRevoke, e.provider.Name)
		}
	}
	if vd, ok := store.Capability[store.VersionDeleter](e.store); ok {
		err = vd.DeleteVersion(ctx, e.provider.Name, marked.Owner, cur.Version)
	} else {
		err = e.store.Delete(ctx, e.provider.Name, marked.Owner)
	}
	if errors.Is(err, store.ErrVersionConflict) {
		return nil // replaced between the re-read and the delete
	}
	if err != nil {
		return fmt.Errorf("%w: deleting revoked connection: %w", ErrStore, err)
	}
	return nil
}

// markDisconnected sets store.StatusDisconnected with compare-and-swap, re-reading
// on conflicts (a refresh may be writing at the same moment).
func (e *engine) markDisconnected(ctx context.Context, owner string) (*Connection, error) {
	var err error
	for range 8 {
		var conn *Connection
		conn, err = e.store.Load(ctx, e.provider.Name, owner)
		if err != nil {
			return nil, err
		}
		if conn.Status == store.StatusDisconnected {
			return conn, nil
		}
		conn.Status = store.StatusDisconnected
		if err = e.store.Save(ctx, conn); err == nil {
			return conn, nil
		}
		if !errors.Is(err, store.ErrVersionConflict) {
			return nil, err
		}
	}
	return nil, err
}
