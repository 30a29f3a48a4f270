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
}

type dashboardView struct {
	User, Store string
	// Problem is shown above the providers when the store failed.
	Problem   string
	Providers []providerView
}

type providerView struct {
	Name, Title string
	// Sandbox is the fake's URL; "" against the real provider.
	Sandbox     string
	Conn        *connView // nil: not connected
	ClientLinks bool
	Signup      *signupForm // Mollie only
}

type connView struct {
	Status         string
	Active, Reauth bool
	Account        string
	Scopes         []string
	ExpiresAt      string // RFC 3339, UTC
	ExpiresIn      string // "in 59 min", "expired 2 min ago"
	Expired        bool
	ConnectedAt    string
}

func newConnView(c *oauthlink.Connection, now time.Time) *connView {
	v := &connView{
		Status: string(c.Status), Active: c.Status == store.StatusActive,
		Reauth: c.Status == store.StatusReauthRequired, Account: c.AccountID, Scopes: c.Scopes,
		ExpiresAt: c.Expiry.UTC().Format(time.RFC3339),
	}
	if !c.CreatedAt.IsZero() {
		v.ConnectedAt = c.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	left := c.Expiry.Sub(now)
	v.Expired = left <= 0
	if v.Expired {
		v.ExpiresIn = "expired " + human(-left) + " ago; refreshed on next use"
	} else {
		v.ExpiresIn = "in " + human(left)
	}
	return v
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
