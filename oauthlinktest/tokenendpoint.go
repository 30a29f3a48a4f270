package oauthlinktest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// tokenEndpoint is how the fakes' token and revocation endpoints differ.
// The Mollie, Qonto and Generic fakes are served by the one implementation
// below, server.token and server.revoke.
type tokenEndpoint struct {
	// basicAuth accepts HTTP Basic client credentials besides body ones
	// (Mollie). Without it Basic is refused, as Hydra refuses it for a
	// client registered with client_secret_post (Qonto).
	basicAuth bool
	// noBodyAuth refuses client_secret in the body: HTTP Basic only
	// (a Generic fake registered for client_secret_basic alone).
	noBodyAuth bool
	// jsonBody accepts a JSON object of strings besides a form body
	// (Mollie).
	jsonBody bool
	// contentType is the Content-Type of successful token answers.
	contentType string
	// refreshScope, when set, is the scope without which a code exchange
	// issues no refresh token (Qonto: offline_access). "": always one.
	refreshScope string
	// idTokenScope, when set, is the scope with which a code exchange also
	// answers an ID-token-shaped JWT (Qonto: openid).
	idTokenScope string
	// rotate applies Hydra's refresh rules (refreshRotatingLocked);
	// otherwise refresh tokens are reusable (refreshReusableLocked).
	rotate bool
	// refreshRedirect applies Mollie's rule to reusable refresh tokens:
	// redirect_uri is required on refresh when the code exchange sent
	// one. Otherwise a refresh's redirect_uri is ignored (RFC 6749 §6
	// has none).
	refreshRedirect bool
	// revokeMethod is the revocation endpoint's method (Mollie DELETE,
	// RFC 7009 POST) and revokeStatus its success status (204, 200).
	revokeMethod string
	revokeStatus int
	// revokeGrant makes revoking an access token revoke its whole grant,
	// as fosite does; otherwise only that token (Mollie). Revoking a
	// refresh token always revokes the whole grant.
	revokeGrant bool
}

// token serves the token endpoint (RFC 6749 §3.2): the authorization_code
// and refresh_token grants.
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	te := s.cfg.token
	params, oerr := readParams(r, te.jsonBody)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	s.countPresented(params)
	if oerr := s.authenticate(EndpointToken, r, params); oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	grantType := params["grant_type"]
	s.mu.Lock()
	resp, oerr := s.grantLocked(grantType, params)
	s.mu.Unlock()
	s.beforeResponse(r, grantType)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, te.contentType, resp)
}

// authenticate checks the client's credentials by the token endpoint's
// rules: Basic when basicAuth, body credentials unless noBodyAuth.
func (s *server) authenticate(e Endpoint, r *http.Request, params map[string]string) *oauthError {
	te := s.cfg.token
	if oerr := s.authenticateClient(e, r, params, te.basicAuth); oerr != nil {
		return oerr
	}
	if _, body := params["client_secret"]; body && te.noBodyAuth {
		_, _, basic := r.BasicAuth()
		return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", basicHeader: basic,
			desc: "The client authenticates with client_secret_basic; client_secret_post is not accepted."}
	}
	return nil
}

// grantLocked processes an authenticated token request. s.mu must be held.
func (s *server) grantLocked(grantType string, params map[string]string) (tokenResponse, *oauthError) {
	switch grantType {
	case "":
		return tokenResponse{}, badRequest("invalid_request", "The 'grant_type' parameter is required.")
	case "authorization_code":
		return s.codeGrantLocked(params)
	case "refresh_token":
		return s.refreshLocked(params)
	}
	return tokenResponse{}, badRequest("unsupported_grant_type", "The grant_type must be authorization_code or refresh_token.")
}

// codeGrantLocked spends a code and issues its tokens. s.mu must be held.
func (s *server) codeGrantLocked(params map[string]string) (tokenResponse, *oauthError) {
	g, oerr := s.exchangeLocked(params)
	if oerr != nil {
		return tokenResponse{}, oerr
	}
	te := s.cfg.token
	resp := s.tokenResponse(g, "", "")
	withRefresh := te.refreshScope == "" || g.hasScope(te.refreshScope)
	resp.AccessToken, resp.RefreshToken = s.issueLocked(g, withRefresh)
	if te.idTokenScope != "" && g.hasScope(te.idTokenScope) {
		resp.IDToken = s.idToken(g)
	}
	return resp, nil
}

// refreshLocked serves the refresh_token grant (RFC 6749 §6). s.mu must
// be held.
func (s *server) refreshLocked(params map[string]string) (tokenResponse, *oauthError) {
	s.refreshes++
	value := params["refresh_token"]
	if value == "" {
		return tokenResponse{}, badRequest("invalid_request", "The 'refresh_token' parameter is required.")
	}
	if s.cfg.token.rotate {
		return s.refreshRotatingLocked(s.refresh[value])
	}
	return s.refreshReusableLocked(s.refresh[value], value, params)
}

// refreshReusableLocked applies Mollie's rules: refresh tokens do not
// rotate and do not expire; with refreshRedirect, redirect_uri is required
// when the code exchange sent one, and must then match it. s.mu must be
// held.
func (s *server) refreshReusableLocked(rt *token, value string, params map[string]string) (tokenResponse, *oauthError) {
	if rt == nil || rt.revoked {
		return tokenResponse{}, invalidGrant("The refresh token is invalid or has been revoked.")
	}
	g := rt.grant
	redirect, sent := params["redirect_uri"]
	switch {
	case !s.cfg.token.refreshRedirect:
	case g.exchangeRedirect != "" && !sent:
		return tokenResponse{}, badRequest("invalid_request", "The 'redirect_uri' parameter is required because the code exchange included it.")
	case sent && redirect != g.redirect:
		return tokenResponse{}, invalidGrant("The 'redirect_uri' does not match the one used for the code exchange.")
	}
	access, _ := s.issueLocked(g, false)
	return s.tokenResponse(g, access, value), nil
}

// refreshRotatingLocked applies Hydra's rules (fosite flow_refresh.go):
// every refresh rotates both tokens and revokes the access token issued
// with the used refresh token; the used refresh token stays valid for the
// grace window; presenting it later, or presenting a revoked one, revokes
// the whole grant. s.mu must be held.
func (s *server) refreshRotatingLocked(rt *token) (tokenResponse, *oauthError) {
	now := s.now()
	switch {
	case rt == nil:
		return tokenResponse{}, invalidGrant("The refresh token is malformed or not valid.")
	case rt.revoked || (!rt.usedAt.IsZero() && !now.Before(rt.usedAt.Add(s.cfg.grace))):
		rt.grant.revokeAll()
		s.reuses++
		return tokenResponse{}, invalidGrant("The refresh token was already used.")
	case rt.expired(now):
		return tokenResponse{}, invalidGrant("The refresh token expired.")
	}
	if rt.usedAt.IsZero() {
		rt.usedAt = now
		rt.access.revoked = true
	}
	g := rt.grant
	access, refresh := s.issueLocked(g, true)
	return s.tokenResponse(g, access, refresh), nil
}

// idToken returns an ID-token-shaped JWT. Its signature is random: it
// cannot be verified and is only there to be carried along.
func (s *server) idToken(g *grant) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := s.now()
	claims := map[string]any{"iss": s.issuer(), "sub": g.account.id, "aud": []string{g.clientID},
		"iat": now.Unix(), "exp": now.Add(s.cfg.accessLifetime).Unix()}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "oauthlinktest"}) + "." +
		enc(claims) + "." + randomAlnum(43)
}

// revoke serves the revocation endpoint (RFC 7009 §2.1; Mollie's DELETE
// takes the same parameters): token and token_type_hint, answered with
// revokeStatus even for an unknown token (RFC 7009 §2.2).
func (s *server) revoke(w http.ResponseWriter, r *http.Request) {
	te := s.cfg.token
	params, oerr := readParams(r, te.jsonBody)
	if oerr == nil {
		oerr = s.authenticate(EndpointRevoke, r, params)
	}
	if oerr == nil && params["token"] == "" {
		oerr = badRequest("invalid_request", "The 'token' parameter is required.")
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	value := params["token"]
	s.mu.Lock()
	s.revocations++
	if t := s.refresh[value]; t != nil {
		t.grant.revokeAll()
	} else if t := s.access[value]; t != nil {
		if te.revokeGrant {
			t.grant.revokeAll()
		} else {
			t.revoked = true
		}
	}
	s.mu.Unlock()
	w.WriteHeader(te.revokeStatus)
}
