package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/oauthlink/oauthlink/store"
)

// view is what the CLI shows of a connection: every field but the
// secrets, of which it says only whether they are set, and the id of the
// key that seals the record.
type view struct {
	Provider        string        `json:"provider"`
	Owner           string        `json:"owner"`
	AccountID       string        `json:"account_id"`
	Status          store.Status  `json:"status"`
	Scopes          []string      `json:"scopes"`
	TokenType       string        `json:"token_type"`
	Expiry          *time.Time    `json:"expiry"`
	RefreshedAt     *time.Time    `json:"refreshed_at"`
	RedirectURI     string        `json:"redirect_uri"`
	HasAccessToken  bool          `json:"has_access_token"`
	HasRefreshToken bool          `json:"has_refresh_token"`
	HasExtra        bool          `json:"has_extra"`
	Retired         int           `json:"retired"`
	RetiredGrants   []retiredView `json:"retired_grants,omitempty"`
	Key             string        `json:"key"`
	Version         int64         `json:"version"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
}

// retiredView is a retired grant without its token.
type retiredView struct {
	Kind  string     `json:"kind"`
	Since *time.Time `json:"since"`
}

// newView describes c; raw is the record as stored (sealed), for the key
// id, and may be c itself when only the metadata was read.
func newView(c, raw *store.Connection, details bool) view {
	v := view{
		Provider: c.Provider, Owner: c.Owner, AccountID: c.AccountID, Status: c.Status,
		Scopes: c.Scopes, TokenType: c.TokenType, Expiry: timePtr(c.Expiry), RefreshedAt: timePtr(c.RefreshedAt),
		RedirectURI: c.RedirectURI, HasAccessToken: c.AccessToken != "", HasRefreshToken: c.RefreshToken != "",
		HasExtra: c.Extra != "", Retired: len(c.Retired), Key: sealKey(raw),
		Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if details {
		for _, r := range c.Retired {
			v.RetiredGrants = append(v.RetiredGrants, retiredView{Kind: r.Kind, Since: timePtr(r.Since)})
		}
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// sealKey names the key that seals raw's values: the key id of the first
// sealed value ("" when the record holds no token), "plaintext" for a
// value not sealed. Ids are not secret: they name keys, and appear in
// every ciphertext.
func sealKey(raw *store.Connection) string {
	values := []store.Secret{raw.AccessToken, raw.RefreshToken, raw.Extra}
	for _, r := range raw.Retired {
		values = append(values, r.Token)
	}
	for _, s := range values {
		v := s.Reveal()
		if v == "" {
			continue
		}
		for _, prefix := range []string{"olk2:", "olk1:"} {
			if rest, ok := strings.CutPrefix(v, prefix); ok {
				if id, _, ok := strings.Cut(rest, ":"); ok {
					return id
				}
			}
		}
		return "plaintext"
	}
	return ""
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// cell makes s safe for a table cell: "-" when empty, quoted when it has
// a control or space character that would break the columns.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// timeCell formats t for a table, "-" when unset.
func timeCell(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02T15:04Z")
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() error { return t.tw.Flush() }
