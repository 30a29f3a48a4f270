package mollie

import (
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oauthlink/oauthlink"
)

// ValidationError reports the first field of a ClientLinkRequest that would
// not be accepted, before anything is sent to Mollie. Field uses Mollie's
// JSON path ("owner.email", "address.country"); Reason is ours, never user
// input, so both are safe to show. A BuildFunc may return one for a field
// of its own form.
//
// It chooses HTTP 422 (HTTPStatus), which oauthlink.HTTPStatus and the
// Connector's error page honour, and wraps an *oauthlink.ParamError naming
// Field, so the default error page names the field (and errors.Is(err,
// oauthlink.ErrBadRequest) holds).
type ValidationError struct {
	// Field is the JSON path of the offending field, e.g. "owner.email".
	Field string
	// Reason says what is wrong, e.g. "is required".
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("mollie: invalid client link request: %s %s", e.Field, e.Reason)
}

// HTTPStatus is 422: the form needs fixing.
func (e *ValidationError) HTTPStatus() int { return http.StatusUnprocessableEntity }

// Unwrap returns an *oauthlink.ParamError naming Field.
func (e *ValidationError) Unwrap() error { return &oauthlink.ParamError{Param: e.Field} }

// maxText caps free-text fields. Mollie documents no limits; this only
// keeps absurd input from being sent.
const maxText = 255

var (
	countryShape = regexp.MustCompile(`^[A-Z]{2}$`)
	localeShape  = regexp.MustCompile(`^[a-z]{2}_[A-Z]{2}$`)
	dateShape    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	domainLabel  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// noPostalCodes are ISO 3166-1 countries without a postal-code system, where
// Mollie requires only the city next to a street (Mollie asks for a postal
// code only where the country has them). The list is conservative; Mollie
// has the last word (a 422 names the field).
var noPostalCodes = map[string]bool{
	"AE": true, "AG": true, "AO": true, "BS": true, "BZ": true, "FJ": true,
	"GD": true, "GH": true, "HK": true, "KN": true, "MO": true, "QA": true,
	"SC": true, "SR": true, "TV": true, "VU": true, "YE": true, "ZW": true,
}

// Validate reports the first problem Mollie would reject, as a
// *ValidationError, or nil. Required: owner.email (an address; domains as
// Punycode, as Mollie asks for internationalised domains), owner.givenName,
// owner.familyName, name and address.country (ISO 3166-1 alpha-2, two
// upper-case letters). Once address.streetAndNumber is given, address.city
// and (where the country has postal codes) address.postalCode are required
// too. owner.locale, when set, looks like "nl_NL"; incorporationDate, when
// set, is a real YYYY-MM-DD date. Text fields are at most 255 characters of
// valid UTF-8 without control characters. Validate checks the request as
// given; CreateClientLink trims surrounding spaces first.
func (r *ClientLinkRequest) Validate() error {
	type check struct {
		field, value string
		required     bool
	}
	for _, c := range []check{
		{"owner.email", r.OrganizationOwner.Email, true},
		{"owner.givenName", r.OrganizationOwner.GivenName, true},
		{"owner.familyName", r.OrganizationOwner.FamilyName, true},
		{"owner.locale", r.OrganizationOwner.Locale, false},
		{"name", r.Name, true},
		{"address.streetAndNumber", r.Address.StreetAndNumber, false},
		{"address.postalCode", r.Address.PostalCode, false},
		{"address.city", r.Address.City, false},
		{"address.country", r.Address.Country, true},
		{"registrationNumber", r.RegistrationNumber, false},
		{"vatNumber", r.VATNumber, false},
		{"legalEntity", r.LegalEntity, false},
		{"registrationOffice", r.RegistrationOffice, false},
		{"incorporationDate", r.IncorporationDate, false},
	} {
		if err := checkText(c.field, c.value, c.required); err != nil {
			return err
		}
	}
	if reason := emailProblem(r.OrganizationOwner.Email); reason != "" {
		return &ValidationError{"owner.email", reason}
	}
	if r.OrganizationOwner.Locale != "" && !localeShape.MatchString(r.OrganizationOwner.Locale) {
		return &ValidationError{"owner.locale", "must look like nl_NL (language_COUNTRY)"}
	}
	if !countryShape.MatchString(r.Address.Country) {
		return &ValidationError{"address.country", "must be an ISO 3166-1 alpha-2 code of two upper-case letters, e.g. NL"}
	}
	if strings.TrimSpace(r.Address.StreetAndNumber) != "" {
		if strings.TrimSpace(r.Address.PostalCode) == "" && !noPostalCodes[r.Address.Country] {
			return &ValidationError{"address.postalCode", "is required when streetAndNumber is given"}
		}
		if strings.TrimSpace(r.Address.City) == "" {
			return &ValidationError{"address.city", "is required when streetAndNumber is given"}
		}
	}
	if d := r.IncorporationDate; d != "" {
		if _, err := time.Parse(time.DateOnly, d); err != nil || !dateShape.MatchString(d) {
			return &ValidationError{"incorporationDate", "must be a real date in YYYY-MM-DD form"}
		}
	}
	return nil
}

func checkText(field, v string, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return &ValidationError{field, "is required"}
	case !utf8.ValidString(v):
		return &ValidationError{field, "is not valid UTF-8"}
	case utf8.RuneCountInString(v) > maxText:
		return &ValidationError{field, fmt.Sprintf("is longer than %d characters", maxText)}
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return &ValidationError{field, "contains control characters"}
	}
	return nil
}

// emailProblem checks the shape of a bare address (no display name, no
// comments), ASCII only: Mollie asks for internationalised domains in
// Punycode, and we cannot convert them with the standard
// library alone.
func emailProblem(s string) string {
	const bad = "must be an email address like name@example.com"
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "must be ASCII; write internationalised domains in Punycode (xn--...)"
		}
	}
	if len(s) > 254 {
		return bad
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return bad
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 || !strings.Contains(domain, ".") {
		return bad
	}
	for _, label := range strings.Split(domain, ".") {
		if !domainLabel.MatchString(label) {
			return bad
		}
	}
	return ""
}
