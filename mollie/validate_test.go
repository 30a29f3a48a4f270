package mollie

import (
	"errors"
	"strings"
	"testing"

	"github.com/oauthlink/oauthlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *ClientLinkRequest)
		field  string // "" = valid
	}{
		{"valid", func(r *ClientLinkRequest) {}, ""},
		{"minimal", func(r *ClientLinkRequest) {
			*r = ClientLinkRequest{OrganizationOwner: OrganizationOwner{Email: "a@b.nl", GivenName: "A", FamilyName: "B"}, Name: "N", Address: Address{Country: "DE"}}
		}, ""},
		{"no email", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "" }, "owner.email"},
		{"blank email", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "   " }, "owner.email"},
		{"email without at", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "owner.shop.example" }, "owner.email"},
		{"email without dot in domain", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "owner@localhost" }, "owner.email"},
		{"email with display name", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "Anna <owner@shop.example>" }, "owner.email"},
		{"email with two ats", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "a@b@shop.example" }, "owner.email"},
		{"email with space", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "an na@shop.example" }, "owner.email"},
		{"email domain label with underscore", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "a@sh_op.example" }, "owner.email"},
		{"email empty label", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "a@shop..example" }, "owner.email"},
		{"email IDN unicode", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "a@bücher.example" }, "owner.email"},
		{"email IDN punycode", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "a@xn--bcher-kva.example" }, ""},
		{"email plus tag", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = "a+mollie@shop.example" }, ""},
		{"email too long", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = strings.Repeat("a", 250) + "@b.nl" }, "owner.email"},
		{"email local part too long", func(r *ClientLinkRequest) { r.OrganizationOwner.Email = strings.Repeat("a", 65) + "@b.nl" }, "owner.email"},
		{"no given name", func(r *ClientLinkRequest) { r.OrganizationOwner.GivenName = "" }, "owner.givenName"},
		{"no family name", func(r *ClientLinkRequest) { r.OrganizationOwner.FamilyName = " \t" }, "owner.familyName"},
		{"family name with newline", func(r *ClientLinkRequest) { r.OrganizationOwner.FamilyName = "de\nVries" }, "owner.familyName"},
		{"given name unicode", func(r *ClientLinkRequest) { r.OrganizationOwner.GivenName = "Zoë" }, ""},
		{"given name invalid utf8", func(r *ClientLinkRequest) { r.OrganizationOwner.GivenName = "Zo\xff" }, "owner.givenName"},
		{"locale lower country", func(r *ClientLinkRequest) { r.OrganizationOwner.Locale = "nl_nl" }, "owner.locale"},
		{"locale hyphen", func(r *ClientLinkRequest) { r.OrganizationOwner.Locale = "nl-NL" }, "owner.locale"},
		{"locale language only", func(r *ClientLinkRequest) { r.OrganizationOwner.Locale = "nl" }, "owner.locale"},
		{"locale en_US", func(r *ClientLinkRequest) { r.OrganizationOwner.Locale = "en_US" }, ""},
		{"no name", func(r *ClientLinkRequest) { r.Name = "" }, "name"},
		{"name too long", func(r *ClientLinkRequest) { r.Name = strings.Repeat("é", 256) }, "name"},
		{"name at limit", func(r *ClientLinkRequest) { r.Name = strings.Repeat("é", 255) }, ""},
		{"no country", func(r *ClientLinkRequest) { r.Address.Country = "" }, "address.country"},
		{"country lower case", func(r *ClientLinkRequest) { r.Address.Country = "nl" }, "address.country"},
		{"country alpha-3", func(r *ClientLinkRequest) { r.Address.Country = "NLD" }, "address.country"},
		{"country digits", func(r *ClientLinkRequest) { r.Address.Country = "12" }, "address.country"},
		{"street without postal code", func(r *ClientLinkRequest) { r.Address.PostalCode = "" }, "address.postalCode"},
		{"street without city", func(r *ClientLinkRequest) { r.Address.City = "" }, "address.city"},
		{"street without postal code, country without postal codes", func(r *ClientLinkRequest) {
			r.Address = Address{StreetAndNumber: "Sheikh Zayed Road 1", City: "Dubai", Country: "AE"}
		}, ""},
		{"no street, no city", func(r *ClientLinkRequest) { r.Address = Address{Country: "BE"} }, ""},
		{"postal code without street", func(r *ClientLinkRequest) { r.Address = Address{PostalCode: "1000", Country: "BE"} }, ""},
		{"date ok", func(r *ClientLinkRequest) { r.IncorporationDate = "2024-02-29" }, ""},
		{"date not leap year", func(r *ClientLinkRequest) { r.IncorporationDate = "2023-02-29" }, "incorporationDate"},
		{"date month 13", func(r *ClientLinkRequest) { r.IncorporationDate = "2023-13-01" }, "incorporationDate"},
		{"date day-first", func(r *ClientLinkRequest) { r.IncorporationDate = "20-12-2018" }, "incorporationDate"},
		{"date short", func(r *ClientLinkRequest) { r.IncorporationDate = "2018-1-2" }, "incorporationDate"},
		{"date with time", func(r *ClientLinkRequest) { r.IncorporationDate = "2018-12-20T00:00:00Z" }, "incorporationDate"},
		{"vat with control char", func(r *ClientLinkRequest) { r.VATNumber = "NL\x00815" }, "vatNumber"},
		{"registration office too long", func(r *ClientLinkRequest) { r.RegistrationOffice = strings.Repeat("x", 256) }, "registrationOffice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest()
			tt.change(&r)
			err := r.Validate()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.field, ve.Field)
			assert.NotEmpty(t, ve.Reason)
			assert.Contains(t, err.Error(), tt.field)
			assert.ErrorIs(t, err, oauthlink.ErrBadRequest)
		})
	}
}

func TestValidationErrorDoesNotEchoInput(t *testing.T) {
	r := validRequest()
	r.OrganizationOwner.Email = "<script>alert(1)</script>@x"
	err := r.Validate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "<script>")
	assert.True(t, errors.Is(err, oauthlink.ErrBadRequest))
}

func TestTrimmedBeforeValidation(t *testing.T) {
	r := validRequest()
	r.OrganizationOwner.Email = "  owner@shop.example\n"
	r.Address.Country = " NL "
	require.Error(t, r.Validate(), "Validate checks the request as given")
	tr := r.trimmed()
	require.NoError(t, tr.Validate())
	assert.Equal(t, "owner@shop.example", tr.OrganizationOwner.Email)
	assert.Equal(t, "  owner@shop.example\n", r.OrganizationOwner.Email, "trimmed works on a copy")
}
