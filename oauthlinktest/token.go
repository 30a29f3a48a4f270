package oauthlinktest

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// ClientAuth is how a request to the token or revocation endpoint
// authenticated the client (RFC 6749 §2.3.1).
type ClientAuth string

// The client-authentication styles a fake records; see ClientAuths.
const (
	// ClientAuthNone: no credentials at all.
	ClientAuthNone ClientAuth = "none"
	// ClientAuthBasic: an HTTP Basic Authorization header only.
	ClientAuthBasic ClientAuth = "basic"
	// ClientAuthBody: client_id and client_secret body fields only.
	ClientAuthBody ClientAuth = "body"
	// ClientAuthBoth: a Basic header and body credentials.
	ClientAuthBoth ClientAuth = "both"
)

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status      int
	code, desc  string
	basicHeader bool // answer with WWW-Authenticate: Basic (RFC 6749 §5.2)
}

func badRequest(code, desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, desc: desc}
}

func invalidGrant(desc string) *oauthError { return badRequest("invalid_grant", desc) }

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.basicHeader {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	writeJSON(w, e.status, "application/json; charset=utf-8",
		map[string]string{"error": e.code, "error_description": e.desc})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readParams decodes a form body, or a JSON object of strings when
// allowJSON; the Content-Type must match the body. Repeated form fields are
// an error (RFC 6749 §3.2).
func readParams(r *http.Request, allowJSON bool) (map[string]string, *oauthError) {
	body, _ := io.ReadAll(r.Body) // buffered by wrap
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	params := map[string]string{}
	switch {
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("invalid_request", "The request body is not a valid form.")
		}
		for k, v := range vals {
			if len(v) != 1 {
				return nil, badRequest("invalid_request", "The '"+k+"' parameter is included more than once.")
			}
			params[k] = v[0]
		}
	case mt == "application/json" && allowJSON:
		if err := json.Unmarshal(body, &params); err != nil {
			return nil, badRequest("invalid_request", "The request body is not a JSON object of strings.")
		}
	case allowJSON:
		return nil, badRequest("invalid_request", "The Content-Type must be application/x-www-form-urlencoded or application/json, matching the body.")
	default:
		return nil, badRequest("invalid_request", "The Content-Type must be application/x-www-form-urlencoded.")
	}
	return params, nil
}

// authenticateClient checks the client's credentials and records the style
// used. Basic credentials are form-decoded first (RFC 6749 §2.3.1).
func (s *server) authenticateClient(e Endpoint, r *http.Request, params map[string]string, allowBasic bool) *oauthError {
	user, pass, basic := r.BasicAuth()
	if basic {
		if u, err := url.QueryUnescape(user); err == nil {
			user = u
		}
		if p, err := url.QueryUnescape(pass); err == nil {
			pass = p
		}
	}
	_, bodyID := params["client_id"]
	_, bodySecret := params["client_secret"]
	body := bodyID || bodySecret
	style := ClientAuthNone
	switch {
	case basic && body:
		style = ClientAuthBoth
	case basic:
		style = ClientAuthBasic
	case body:
		style = ClientAuthBody
	}
	s.mu.Lock()
	s.auths[e] = append(s.auths[e], style)
	s.mu.Unlock()

	fail := &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
		desc: "Client authentication failed.", basicHeader: basic}
	switch {
	case basic && !allowBasic:
		fail.desc = "The OAuth 2.0 Client supports client authentication method 'client_secret_post', but method 'client_secret_basic' was requested."
		return fail
	case style == ClientAuthNone:
		fail.desc = "Client authentication failed: no client credentials."
		return fail
	}
	if basic && !s.validClient(user, pass) {
		return fail
	}
	if body && !s.validClient(params["client_id"], params["client_secret"]) {
		return fail
	}
	return nil
}

func (s *server) validClient(id, secret string) bool {
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.clientID))
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.clientSecret))
	return okID&okSecret == 1
}

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	IDToken      string `json:"id_token,omitempty"`
}

func (s *server) tokenResponse(g *grant, access, refresh string) tokenResponse {
	return tokenResponse{AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn: int64(s.cfg.accessLifetime.Seconds()), Scope: strings.Join(g.scopes, " ")}
}

// countPresented records a code or refresh token sent to the token
// endpoint. s.mu must not be held.
func (s *server) countPresented(params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{"code", "refresh_token"} {
		if v := params[k]; v != "" {
			s.presented[v]++
		}
	}
	if v := params["refresh_token"]; v != "" {
		s.presentedRefresh[v]++
	}
}

// exchangeLocked validates and spends an authorization code
// (RFC 6749 §4.1.3, RFC 7636 §4.6). Reusing a code revokes every token it
// produced (RFC 6749 §4.1.2). s.mu must be held.
func (s *server) exchangeLocked(params map[string]string) (*grant, *oauthError) {
	s.exchanges++
	value := params["code"]
	if value == "" {
		return nil, badRequest("invalid_request", "The 'code' parameter is required.")
	}
	c := s.codes[value]
	switch {
	case c == nil:
		return nil, invalidGrant("The authorization code is invalid.")
	case c.used:
		c.grant.revokeAll()
		s.reuses++
		return nil, invalidGrant("The authorization code has already been used.")
	case !s.now().Before(c.expires):
		return nil, invalidGrant("The authorization code has expired.")
	case c.grant.revoked:
		return nil, invalidGrant("The authorization was revoked.")
	}
	g := c.grant
	redirect, sent := params["redirect_uri"]
	switch {
	case (s.cfg.requireRedirect || g.authRedirect != "") && !sent:
		return nil, invalidGrant("The 'redirect_uri' parameter is required because the authorization request included it.")
	case sent && redirect != g.redirect:
		return nil, invalidGrant("The 'redirect_uri' does not match the one used in the authorization request.")
	}
	verifier, hasVerifier := params["code_verifier"]
	switch {
	case g.challenge == "" && hasVerifier:
		return nil, invalidGrant("The PKCE code verifier was provided but the code challenge was absent from the authorization request.")
	case g.challenge != "" && !hasVerifier:
		return nil, invalidGrant("The PKCE code verifier must be provided.")
	case g.challenge != "" && (!pkceValue.MatchString(verifier) ||
		subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(g.challenge)) != 1):
		return nil, invalidGrant("The PKCE code verifier does not match the code challenge.")
	}
	c.used = true
	g.exchangeRedirect = redirect
	return g, nil
}

// beforeResponse runs the BeforeTokenResponse hook, if any.
func (s *server) beforeResponse(r *http.Request, grantType string) {
	if s.cfg.beforeTokenResponse != nil {
		s.cfg.beforeTokenResponse(r, grantType)
	}
}
