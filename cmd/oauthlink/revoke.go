package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// revoke disconnects one connection as the app's DisconnectHandler would:
// Connector.Disconnect marks it disconnected, revokes its grant (and every
// grant it still lists in Retired) at the provider, and deletes the record
// once the provider confirmed. The provider is configured from the demo's
// variables, as for keep.
func (c *cli) revoke(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	if err := c.parse(fs, args, 2); err != nil {
		return err
	}
	provider, owner := fs.Arg(0), fs.Arg(1)
	var kp *keepProvider
	for _, p := range keepProviders(c.getenv) {
		if p.name == provider {
			kp = &p
		}
	}
	if kp == nil {
		return fmt.Errorf("provider %q is not configured: set %s_CLIENT_ID and %s_CLIENT_SECRET, as for the demo",
			provider, strings.ToUpper(provider), strings.ToUpper(provider))
	}
	publicURL := strings.TrimRight(cmp.Or(c.getenv("OAUTHLINK_PUBLIC_URL"), "http://127.0.0.1:8080"), "/")
	return c.withStore(ctx, func(st *encrypted.Store) error {
		if _, err := st.Load(ctx, provider, owner); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no %s connection for owner %q", provider, owner)
		} else if err != nil {
			return err
		}
		conn, err := kp.connector(st, publicURL)
		if err != nil {
			return err
		}
		if err := conn.Disconnect(ctx, owner); err != nil {
			return fmt.Errorf("%w (the record is kept as disconnected: run revoke again, or let a Keeper retry)", err)
		}
		_, err = fmt.Fprintf(c.stdout, "revoked at %s and deleted: %s %q\n", provider, provider, owner)
		return err
	})
}
