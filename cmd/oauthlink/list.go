package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

var commandHelp = map[string]string{
	"list": `Lists the connections the filters select, ordered by provider and owner
(with --due-before: by refresh time, oldest first). --pending selects the
revocations the Keeper still has to finish. A table, or with
--json one JSON object per line. Tokens are never read: the listing
shows whether they are set and which key seals them.
`,
	"show": `Shows every non-secret field of one connection, read through the
encryption (a record that fails to open is an error). Tokens are never
shown: only whether they are set.
`,
	"stats": `Counts connections by provider and status, and the active connections
due for upkeep: those of --due-provider whose tokens were last refreshed
more than --fraction of --idle ago (or never recorded), whose refresh
token the provider would expire from disuse.
`,
	"rewrap": `Re-encrypts every record not sealed with the first key
(OAUTHLINK_TOKEN_KEY), reading with it and OAUTHLINK_OLD_TOKEN_KEYS, one
page of owners at a time (encrypted.Reseal: under the connection's lease
and with compare-and-swap, so it is safe while apps run). Run it until it
rewraps 0; then the old keys can be retired. After an interruption, resume
with the --from cursor it printed; running it again is harmless.
`,
	"keep": `Runs one pass of fleet.Keeper per configured provider: refreshes the
active connections whose tokens are older than --fraction of the
provider's IdleLifetime (Qonto: 90 days; Mollie has none), through the
ordinary refresh path (lease, re-read, compare-and-swap: safe beside the
apps' own Keepers), and retries the revocations left pending. Providers
are configured with the demo's variables for a real provider:
QONTO_CLIENT_ID, QONTO_CLIENT_SECRET, QONTO_STAGING_TOKEN,
QONTO_AUTHORIZE_URL, QONTO_TOKEN_URL, QONTO_REVOKE_URL, QONTO_API_URL,
MOLLIE_CLIENT_ID, MOLLIE_CLIENT_SECRET, MOLLIE_AUTHORIZE_URL,
MOLLIE_TOKEN_URL, MOLLIE_API_URL, and OAUTHLINK_PUBLIC_URL. Exits 1 when
a connection failed.
`,
	"migrate": `Creates or upgrades the store's schema. A SQL store (SQLite, PostgreSQL)
is migrated by opening it. Redis has no schema: migrate adds every record
to the indexes list, stats, keep and webhooks read (redisstore's
Reindex), which records saved by an older version may be missing from;
it is idempotent, resumes where an interrupted run stopped, and is safe
while the apps run. Memory has nothing to migrate. Needs no token key.
`,
}

func parseStatus(s string) (store.Status, error) {
	if st := store.Status(s); st.Valid() {
		return st, nil
	}
	return "", usagef("--status must be active, reauth_required, disconnected or revoked, got %q", s)
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func parseTime(flagName, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("%s must be an RFC 3339 time or a date (2006-01-02), got %q", flagName, s)
}

func (c *cli) list(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	provider := fs.String("provider", "", "only this provider's connections")
	status := fs.String("status", "", "only this status: active, reauth_required, disconnected or revoked")
	account := fs.String("account", "", "only the connections to this provider account (needs --provider)")
	dueBefore := fs.String("due-before", "", "only connections last refreshed before this time (RFC 3339 or a date), oldest first")
	pending := fs.Bool("pending", false, "only connections with a revocation left to do at the provider (disconnected, or with retired grants)")
	asJSON := fs.Bool("json", false, "one JSON object per line instead of a table")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	q := store.Query{Provider: *provider, AccountID: *account, PendingRevocation: *pending, Limit: 500}
	var err error
	if *status != "" {
		if q.Status, err = parseStatus(*status); err != nil {
			return err
		}
	}
	if *account != "" && *provider == "" {
		return usagef("--account needs --provider")
	}
	if *dueBefore != "" {
		if q.RefreshedBefore, err = parseTime("--due-before", *dueBefore); err != nil {
			return err
		}
	}
	return c.withStore(ctx, func(st *encrypted.Store) error {
		sc, err := scanner(st)
		if err != nil {
			return err
		}
		if *asJSON {
			return scanAll(ctx, sc, q, func(conn *store.Connection) error {
				return writeJSON(c.stdout, newView(conn, conn, false))
			})
		}
		t := newTable(c.stdout, "PROVIDER", "OWNER", "ACCOUNT", "STATUS", "EXPIRES", "REFRESHED", "RETIRED", "KEY")
		err = scanAll(ctx, sc, q, func(conn *store.Connection) error {
			v := newView(conn, conn, false)
			t.row(cell(v.Provider), cell(v.Owner), cell(v.AccountID), string(v.Status), timeCell(v.Expiry),
				timeCell(v.RefreshedAt), strconv.Itoa(v.Retired), cell(v.Key))
			return nil
		})
		if ferr := t.flush(); err == nil {
			err = ferr
		}
		return err
	})
}

func (c *cli) show(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	asJSON := fs.Bool("json", false, "one JSON object instead of lines of text")
	if err := c.parse(fs, args, 2); err != nil {
		return err
	}
	provider, owner := fs.Arg(0), fs.Arg(1)
	return c.withStore(ctx, func(st *encrypted.Store) error {
		conn, err := st.Load(ctx, provider, owner)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no connection %q for owner %q", provider, owner)
		}
		if err != nil {
			return err
		}
		raw, err := st.Unwrap().Load(ctx, provider, owner)
		if err != nil {
			return err
		}
		v := newView(conn, raw, true)
		if *asJSON {
			return writeJSON(c.stdout, v)
		}
		return c.showText(v)
	})
}

func (c *cli) showText(v view) error {
	present := map[bool]string{true: "set", false: "-"}
	t := newTable(c.stdout, "provider:", cell(v.Provider))
	for _, r := range [][2]string{
		{"owner:", cell(v.Owner)},
		{"account:", cell(v.AccountID)},
		{"status:", string(v.Status)},
		{"scopes:", cell(strings.Join(v.Scopes, ","))},
		{"token type:", cell(v.TokenType)},
		{"expires:", timeCell(v.Expiry)},
		{"refreshed at:", timeCell(v.RefreshedAt)},
		{"redirect uri:", cell(v.RedirectURI)},
		{"access token:", present[v.HasAccessToken]},
		{"refresh token:", present[v.HasRefreshToken]},
		{"extra:", present[v.HasExtra]},
		{"retired:", strconv.Itoa(v.Retired)},
	} {
		t.row(r[0], r[1])
	}
	for i, r := range v.RetiredGrants {
		t.row(fmt.Sprintf("  retired[%d]:", i), cell(r.Kind)+" since "+timeCell(r.Since))
	}
	t.row("sealed with key:", cell(v.Key))
	t.row("version:", strconv.FormatInt(v.Version, 10))
	t.row("created:", timeCell(&v.CreatedAt))
	t.row("updated:", timeCell(&v.UpdatedAt))
	return t.flush()
}
