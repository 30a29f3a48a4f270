package mollie

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
)

// maxForm caps the signup form the handler reads, as the connector's start
// handler does.
const maxForm = 64 << 10

// BuildFunc builds a ClientLinkRequest from the incoming request, typically
// from r.PostForm (already parsed, at most 64 KiB). Return a
// *ValidationError to answer 422 naming the field, an error wrapping
// oauthlink.ErrBadRequest for 400; any other error answers 500 (see
// oauthlink.HTTPStatus).
type BuildFunc func(r *http.Request) (ClientLinkRequest, error)

// ClientLinkOptions configure NewClientLinkHandler.
type ClientLinkOptions struct {
	// ClientID is the app's OAuth client id ("app_…"), sent as client_id.
	// Default: the Connector's (oauthlink.Config.ClientID).
	ClientID string
	// ApprovalPrompt is "" (Mollie's default, auto), ApprovalAuto or
	// ApprovalForce. Force revokes the merchant's earlier authorizations of
	// this app once the new one is created. Default "".
	ApprovalPrompt string
	// ReturnToParam is the form parameter holding the post-connect
	// destination, a relative path. Default "return_to", the connector's
	// default; keep both alike.
	ReturnToParam string
	// CrossOrigin refuses signup forms posted from other origins, with an
	// error wrapping oauthlink.ErrCrossOrigin (403). The form creates an
	// organization owned by whatever email it carries and binds it to the
	// signed-in owner, so a cross-site post must never run it.
	// Default http.NewCrossOriginProtection(), which trusts Sec-Fetch-Site
	// and else compares Origin with the Host the server sees: behind a proxy
	// that rewrites Host, add the public origin with AddTrustedOrigin. The
	// app's own CSRF protection still applies on top.
	CrossOrigin *http.CrossOriginProtection
	// OnCreated runs after the link is created and the flow started, before
	// the redirect, e.g. to record link.ID for the owner. Optional.
	OnCreated func(r *http.Request, link *ClientLink)
}

type clientLinkHandler struct {
	conn  *oauthlink.Connector
	api   *Client
	build BuildFunc
	opts  ClientLinkOptions
	hosts hostSet // where a client link may send the browser
}

// NewClientLinkHandler returns the handler that starts a Mollie flow through
// a client link. On POST, in this order:
//
//  1. refuses cross-origin posts (ClientLinkOptions.CrossOrigin);
//  2. reads the form (at most 64 KiB) and the return-to parameter, which
//     must be a relative path;
//  3. calls build and validates the request;
//  4. creates the link with api (the partner's organization token);
//  5. checks the link: an https URL on the host of conn's authorization
//     endpoint (Provider.AuthURL; my.mollie.com for Mollie) or one of
//     api.BrowserHosts, else ErrResponse wrapping ErrHostNotAllowed (502);
//  6. answers 303 See Other to the link with the client id, the state and
//     the connector's scopes appended (ClientLinkURL), setting the flow
//     cookie.
//
// The flow itself is started with conn.Begin before the link is created,
// exactly as the connector's start handler does (same flow cookie, bound to
// the same owner), so that nobody signed in is refused before Mollie is
// called; its cookie is held back until step 6.
//
// Nothing reaches the browser until the link exists and passed its checks:
// a failed creation, or a link on a host that is not allowed, sets no flow
// cookie and the minted state never leaves the server, so a spoofed or
// misconfigured answer cannot carry the state (which, without PKCE, is all
// an attacker needs to complete the merchant's flow with a code of their
// own) to another site. The connector's CallbackHandler completes
// the flow, exchanging the code at once (Mollie codes live 30 seconds).
//
// Mollie recommends the scopes onboarding.read onboarding.write for client
// links; add them to oauthlink.Config.Scopes.
//
// Every failure is reported with conn.HandleError, like the connector's own
// handlers' (logged, EventFlowFailed, oauthlink.Config.Hooks.OnError), typed:
// *ValidationError (422, naming the field), *APIError (422 when Mollie
// refused the data, 503 with Mollie's Retry-After when it throttles, 502
// otherwise), errors wrapping ErrRequest or ErrResponse (502), or
// oauthlink's sentinels: oauthlink.ErrCrossOrigin (403),
// oauthlink.ErrBadRequest (400), oauthlink.ErrNoOwner (401). Those are the
// statuses oauthlink.HTTPStatus gives and oauthlink.DefaultErrorHandler
// answers. When Mollie throttles, the Retry-After header is set on w before
// the hook runs.
//
// api is the partner's client, from NewTokenClient. A nil conn, api or
// build, an api without HTTPClient, a bad ApprovalPrompt, or an unusable
// api configuration (including a malformed BrowserHosts entry) is an error
// wrapping oauthlink.ErrConfig.
func NewClientLinkHandler(conn *oauthlink.Connector, api *Client, build BuildFunc, opts ClientLinkOptions) (http.Handler, error) {
	switch {
	case conn == nil:
		return nil, fmt.Errorf("%w: mollie: client link handler needs a Connector", oauthlink.ErrConfig)
	case api == nil:
		return nil, fmt.Errorf("%w: mollie: client link handler needs a Client", oauthlink.ErrConfig)
	case build == nil:
		return nil, fmt.Errorf("%w: mollie: client link handler needs a build function", oauthlink.ErrConfig)
	}
	if api.HTTPClient == nil {
		return nil, fmt.Errorf("%w: mollie: client link handler needs a Client with an HTTPClient (NewTokenClient)", oauthlink.ErrConfig)
	}
	if _, err := api.base(); err != nil {
		return nil, fmt.Errorf("%w: %w", oauthlink.ErrConfig, err)
	}
	hosts, err := hostSet{}.withHosts(api.BrowserHosts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", oauthlink.ErrConfig, err)
	}
	// Check the client id (when set here) and prompt once, against a
	// well-formed href; the connector's own client id and scopes are
	// checked by oauthlink.New.
	if _, err := linkURLBuilder("https://my.mollie.com/dashboard/client-link/cl_check", cmp.Or(opts.ClientID, "app_check"), []string{ScopeOrganizationsRead}, opts.ApprovalPrompt); err != nil {
		return nil, fmt.Errorf("%w: %w", oauthlink.ErrConfig, err)
	}
	if opts.ReturnToParam == "" {
		opts.ReturnToParam = "return_to"
	}
	if opts.CrossOrigin == nil {
		opts.CrossOrigin = http.NewCrossOriginProtection()
	}
	return &clientLinkHandler{conn: conn, api: api, build: build, opts: opts, hosts: hosts}, nil
}

func (h *clientLinkHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	target, err := h.serve(w, r)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.HTTPStatus() == http.StatusServiceUnavailable && ae.RetryAfter > 0 {
			hd.Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
		}
		h.conn.HandleError(w, r, err)
		return
	}
	hd.Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

func (h *clientLinkHandler) serve(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.Method != http.MethodPost {
		return "", fmt.Errorf("%w: method %s (client links are created by POST)", oauthlink.ErrBadRequest, r.Method)
	}
	if err := h.opts.CrossOrigin.Check(r); err != nil {
		return "", fmt.Errorf("mollie: client-link form: %w: %w", oauthlink.ErrCrossOrigin, err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return "", fmt.Errorf("%w: unreadable form", oauthlink.ErrBadRequest)
	}
	returnTo := ""
	if vs := r.Form[h.opts.ReturnToParam]; len(vs) > 1 {
		return "", fmt.Errorf("%w: repeated %s", oauthlink.ErrBadRequest, h.opts.ReturnToParam)
	} else if len(vs) == 1 {
		returnTo = vs[0]
	}
	// Begin checks the owner (nobody signed in: refused before a link is
	// created at Mollie) and the return-to, and mints the state. It writes
	// its flow cookie into a buffer: the browser gets it only once the
	// link exists and passed its checks.
	buf := headerBuffer{}
	flow, err := h.conn.Begin(buf, r, oauthlink.BeginOptions{ReturnTo: returnTo})
	if err != nil {
		return "", err
	}
	auth, err := readAuthURL(flow.AuthURL.Reveal())
	if err != nil {
		return "", fmt.Errorf("%w: %w", oauthlink.ErrConfig, err)
	}
	req, err := h.build(r)
	if err != nil {
		return "", fmt.Errorf("mollie: building the client link request: %w", err)
	}
	link, err := h.api.createClientLink(r.Context(), req)
	if err != nil {
		return "", err
	}
	// Checked before Begin, so a bad href mints no state and sets no flow
	// cookie.
	hosts := hostSet{entries: append([]hostEntry{auth.host}, h.hosts.entries...), loopback: h.hosts.loopback}
	if err := hosts.check(link.Href); err != nil {
		return "", fmt.Errorf("%w: client link href: %w", ErrResponse, err)
	}
	withState, err := linkURLBuilder(link.Href, cmp.Or(h.opts.ClientID, auth.clientID), auth.scopes, h.opts.ApprovalPrompt)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrResponse, err)
	}
	for _, c := range buf["Set-Cookie"] {
		w.Header().Add("Set-Cookie", c)
	}
	if h.opts.OnCreated != nil {
		h.opts.OnCreated(r, link)
	}
	return withState(flow.State.Reveal()), nil
}

// headerBuffer is a ResponseWriter that keeps only headers: Begin writes
// its flow cookie there until the handler knows the flow may start.
type headerBuffer http.Header

func (b headerBuffer) Header() http.Header       { return http.Header(b) }
func (headerBuffer) Write(p []byte) (int, error) { return len(p), nil }
func (headerBuffer) WriteHeader(int)             {}

// authRequest is what a client link repeats of the connector's
// authorization request.
type authRequest struct {
	host     hostEntry
	clientID string
	scopes   []string
}

// readAuthURL reads the connector's authorization URL (from Begin): its
// host, where a client link may send the browser, and its client id and
// scopes, which the link carries.
func readAuthURL(raw string) (authRequest, error) {
	host, err := hostOfURL(raw)
	if err != nil {
		return authRequest{}, fmt.Errorf("mollie: connector's AuthURL: %w", err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	return authRequest{host: host, clientID: q.Get("client_id"), scopes: strings.Fields(q.Get("scope"))}, nil
}
