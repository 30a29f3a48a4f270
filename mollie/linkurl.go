package mollie

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/oauthlink/oauthlink/internal/apiclient"
)

// Values of the approval_prompt parameter (ParamApprovalPrompt).
const (
	// ApprovalAuto shows the consent screen only when needed (Mollie's
	// default).
	ApprovalAuto = "auto"
	// ApprovalForce always shows the consent screen. When the merchant then
	// creates a new authorization, Mollie REVOKES the merchant's earlier
	// active authorizations of this app: tokens
	// stored from an earlier connection stop working.
	ApprovalForce = "force"
)

// ErrLinkURL: ClientLinkURL's inputs cannot make a safe redirect URL.
var ErrLinkURL = errors.New("mollie: cannot build client link URL")

// linkParams are the parameters ClientLinkURL adds; redirect_uri is refused
// too, since Mollie uses the app's registered redirect URL for client links
// and the href must not choose another one.
var linkParams = []string{"client_id", "state", "scope", "approval_prompt", "redirect_uri"}

// ClientLinkURL returns the URL to send the customer to: href (a
// ClientLink's Href) with client_id, state, scope and, when approvalPrompt
// is not empty, approval_prompt appended, in that order, after any query
// href already has (kept byte for byte). No redirect_uri is added: Mollie
// sends the customer back to the app's registered redirect URL. scope is
// space-joined and encoded with %20, never '+' (as Mollie's example shows;
// a '+' would reach Mollie as a literal plus in some decoders).
//
// approvalPrompt is "" (Mollie's default, auto), ApprovalAuto or
// ApprovalForce. Force revokes the merchant's earlier authorizations of this
// app once the new one is created; use it only when that is the point.
//
// clientID is the app's OAuth client id (Mollie's start with app_); state is
// the flow's state (oauthlink.Flow.State.Reveal()). An href that already
// carries one of these parameters, or redirect_uri, is refused rather than
// sending the parameter twice.
//
// ClientLinkURL checks the href's shape, not its host: pass only a
// ClientLink.Href from Client.CreateClientLink, which refuses hosts that are
// not allowed (Client.BrowserHosts), since the state must never reach
// another site.
func ClientLinkURL(href, clientID, state string, scopes []string, approvalPrompt string) (string, error) {
	build, err := linkURLBuilder(href, clientID, scopes, approvalPrompt)
	if err != nil {
		return "", err
	}
	if state == "" || len(state) > 256 {
		return "", fmt.Errorf("%w: state must be 1 to 256 bytes", ErrLinkURL)
	}
	return build(state), nil
}

// linkURLBuilder checks everything but the state and returns the function
// that adds it, so the handler can find every problem before it mints a
// flow.
func linkURLBuilder(href, clientID string, scopes []string, approvalPrompt string) (func(state string) string, error) {
	if err := checkHref(href); err != nil {
		return nil, fmt.Errorf("%w: href %w", ErrLinkURL, err)
	}
	if clientID == "" || len(clientID) > 256 {
		return nil, fmt.Errorf("%w: client id must be 1 to 256 bytes", ErrLinkURL)
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf("%w: at least one scope is required", ErrLinkURL)
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("%w: scope %q is not a scope token (RFC 6749 §3.3)", ErrLinkURL, apiclient.Sanitize(s, 64))
		}
	}
	switch approvalPrompt {
	case "", ApprovalAuto, ApprovalForce:
	default:
		return nil, fmt.Errorf("%w: approval_prompt must be %q or %q", ErrLinkURL, ApprovalAuto, ApprovalForce)
	}
	base, query, _ := strings.Cut(href, "?")
	if name, ok := hasParam(query, linkParams); ok {
		return nil, fmt.Errorf("%w: href already carries %s", ErrLinkURL, name)
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteByte('?')
	if query != "" {
		b.WriteString(query)
		if !strings.HasSuffix(query, "&") {
			b.WriteByte('&')
		}
	}
	b.WriteString("client_id=")
	b.WriteString(escape(clientID))
	prefix := b.String()
	suffix := "&scope=" + escape(strings.Join(scopes, " "))
	if approvalPrompt != "" {
		suffix += "&approval_prompt=" + approvalPrompt
	}
	return func(state string) string {
		return prefix + "&state=" + escape(state) + suffix
	}, nil
}

// escape query-escapes v with spaces as %20 (url.QueryEscape writes '+',
// and a literal '+' it writes as %2B, so the replacement is exact).
func escape(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
}

// hasParam reports whether the raw query has a parameter named one of
// names. It reads the raw query leniently (Mollie's href is opaque and may
// use separators url.ParseQuery refuses, such as ';').
func hasParam(rawQuery string, names []string) (string, bool) {
	for part := range strings.FieldsFuncSeq(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		for _, n := range names {
			if strings.EqualFold(key, n) {
				return n, true
			}
		}
	}
	return "", false
}
