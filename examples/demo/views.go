package main

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

type loginView struct {
	User, Error string
	// Continue says why the login form is shown ("Log in to continue").
	Continue string
	// Rule says which names are allowed.
	Rule string
}

type dashboardView struct {
	User, Store string
	// Problem is shown above the providers when the store failed.
	Problem string
	// Notice is the one-time notice of the last action.
	Notice string
	// SandboxLost lists the sandboxes that started without their state.
	SandboxLost []sandboxLoss
	Providers   []providerView
}

type providerView struct {
	Name, Title string
	// Sandbox is the fake's URL; "" against the real provider.
	Sandbox string
	// Consents is the sandbox Qonto's "connected applications" page,
	// where a merchant revokes access; "" elsewhere.
	Consents    string
	Conn        *connView // nil: not connected
	ClientLinks bool
	Signup      *signupForm // Mollie only
}

// connView is a connection as the dashboard shows it: the status the
// library knows, in words, and only the actions that can work.
type connView struct {
	// Status is the store's status (data-status); Label says it for people.
	Status, Label string
	// Active, Reauth, Revoked and Pending (disconnected, its revocation
	// not confirmed) are the four statuses.
	Active, Reauth, Revoked, Pending bool
	// Account is the provider's id; AccountName its name, when known.
	Account, AccountName string
	Scopes               []string
	ExpiresAt            string // RFC 3339, UTC, for <time datetime>
	Expires              string // timeFormat
	ExpiresIn            string // "in 59 min", "expired 2 min ago"
	Expired              bool
	Connected            string // timeFormat
	ConnectedAgo         string // "2 h 5 min ago"
	// Trouble is the last failed API call, "" when none.
	Trouble string
	// RetiredPending counts replaced grants still to revoke.
	RetiredPending int
}

// statusLabels are the statuses in words.
var statusLabels = map[store.Status]string{
	store.StatusActive:         "Active",
	store.StatusReauthRequired: "Needs reconnect",
	store.StatusRevoked:        "Revoked by the merchant",
	store.StatusDisconnected:   "Disconnected — revocation pending",
}

// statusLabel says status in words.
func statusLabel(s store.Status) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return string(s)
}

// timeFormat is the one date format of the pages, always with a relative
// time beside it.
const timeFormat = "2006-01-02 15:04 UTC"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func newConnView(c *oauthlink.Connection, now time.Time) *connView {
	v := &connView{
		Status: string(c.Status), Label: statusLabel(c.Status),
		Active: c.Status == store.StatusActive, Reauth: c.Status == store.StatusReauthRequired,
		Revoked: c.Status == store.StatusRevoked, Pending: c.Status == store.StatusDisconnected,
		Account: c.AccountID, Scopes: c.Scopes, RetiredPending: len(c.Retired),
	}
	if !c.CreatedAt.IsZero() {
		v.Connected, v.ConnectedAgo = fmtTime(c.CreatedAt), ago(c.CreatedAt, now)
	}
	if !c.Expiry.IsZero() {
		v.ExpiresAt, v.Expires = c.Expiry.UTC().Format(time.RFC3339), fmtTime(c.Expiry)
		v.Expired = !c.Expiry.After(now)
		v.ExpiresIn = relative(c.Expiry, now)
		if v.Expired && v.Active {
			v.ExpiresIn += "; refreshed on next use"
		}
	}
	return v
}

// ago says how long ago t, a past event, was: "2 h 5 min ago", or "just
// now" (also for a t a little after now: the store's clock stamped it).
func ago(t, now time.Time) string {
	if d := now.Sub(t); d >= time.Second {
		return human(d) + " ago"
	}
	return "just now"
}

// relative says t relative to now: "in 59 min", "2 h 5 min ago".
func relative(t, now time.Time) string {
	if d := t.Sub(now); d > 0 {
		return "in " + human(d)
	}
	return human(now.Sub(t)) + " ago"
}

// human rounds d for people: "45 s", "59 min", "2 h 5 min", "3 days".
func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// signupForm is the client-link form: what was sent, and the bad field.
type signupForm struct {
	Values       map[string]string
	Field, Error string
}

// Value returns the sent value of a field, for re-rendering.
func (f *signupForm) Value(name string) string {
	if f == nil {
		return ""
	}
	return f.Values[name]
}

// signupField is one field of the client-link form and its place in
// Mollie's request (the path a *mollie.ValidationError names).
type signupField struct {
	Name, Label, Mollie, Type, Hint string
	Required                        bool
}

var signupFields = []signupField{
	{Name: "email", Label: "Email", Mollie: "owner.email", Type: "email", Required: true},
	{Name: "given_name", Label: "Given name", Mollie: "owner.givenName", Type: "text", Required: true},
	{Name: "family_name", Label: "Family name", Mollie: "owner.familyName", Type: "text", Required: true},
	{Name: "organization_name", Label: "Organization name", Mollie: "name", Type: "text", Required: true},
	{Name: "country", Label: "Country", Mollie: "address.country", Type: "text", Required: true, Hint: "two letters, e.g. NL"},
	{Name: "street", Label: "Street and number", Mollie: "address.streetAndNumber", Type: "text"},
	{Name: "postal_code", Label: "Postal code", Mollie: "address.postalCode", Type: "text"},
	{Name: "city", Label: "City", Mollie: "address.city", Type: "text"},
	{Name: "registration_number", Label: "Registration number", Mollie: "registrationNumber", Type: "text"},
	{Name: "vat_number", Label: "VAT number", Mollie: "vatNumber", Type: "text"},
}

// formField maps Mollie's field path to the form's field name, or "".
func formField(molliePath string) string {
	for _, f := range signupFields {
		if f.Mollie == molliePath {
			return f.Name
		}
	}
	return ""
}

func fieldByName(name string) *signupField {
	for i := range signupFields {
		if signupFields[i].Name == name {
			return &signupFields[i]
		}
	}
	return nil
}

type errorView struct {
	Status                             int
	StatusText, Title, Message, Detail string
	LoggedIn                           bool
	// User is who is logged in, for the header; "" when nobody.
	User string
	// Action is the button that fixes the problem; nil: the dashboard
	// link only.
	Action *pageAction
}

// pageAction is a button on an error page: a link (GET) or a form (POST).
type pageAction struct {
	Label, Href string
	Post        bool
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (a *app) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, struct {
		Page   any
		Fields []signupField
	}{data, signupFields}); err != nil {
		a.log.Error("rendering", "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
