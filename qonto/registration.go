package qonto

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidID: a registration or organization id is not a UUID. Qonto's
// registration.id and organization ids are UUIDs (Qonto's authorization
// reference shows 1acf250c-a068-47fa-ae9d-032b85c148dc and
// a584b060-8c96-488d-8bbb-74f0d3d2803c), so anything else is a bug or
// tampered input, refused before the user is sent to Qonto. Returned from
// oauthlink.Config.AuthParams it makes the start handler answer 400 (the
// connector wraps AuthParams errors in oauthlink.ErrBadRequest). The
// message names the parameter, never the rejected value.
var ErrInvalidID = errors.New("qonto: id must be a UUID")

// WithRegistration returns the authorization parameters that pre-select the
// organization created by a partner onboarding registration:
// registration_id=id, where id is the registration.id from POST
// /register/registrations on Qonto's Onboarding API (the partner
// onboarding flow that creates an organization for a new customer). The
// user is then not asked to pick an organization. Use the result as
// oauthlink.BeginOptions.Params or return it from oauthlink.Config.AuthParams.
// id must be a UUID (either case; sent in lower case, the canonical form of
// RFC 9562 §4); anything else is an error wrapping ErrInvalidID.
func WithRegistration(id string) (url.Values, error) {
	return withID(ParamRegistrationID, id)
}

// WithOrganization returns the authorization parameters that restrict the
// user to one Qonto organization: organization_id=id (no organization
// selector is shown). id must be a UUID, as for WithRegistration.
func WithOrganization(id string) (url.Values, error) {
	return withID(ParamOrganizationID, id)
}

func withID(param, id string) (url.Values, error) {
	if !isUUID(id) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidID, param)
	}
	return url.Values{param: {strings.ToLower(id)}}, nil
}

// isUUID reports whether s has the 8-4-4-4-12 hexadecimal shape.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
