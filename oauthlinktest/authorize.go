package oauthlinktest

import (
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// AuthorizeRequest is what the fake's authorization endpoint received and
// decided, for assertions. See LastAuthorize.
type AuthorizeRequest struct {
	// ClientID is the client_id sent.
	ClientID string
	// RedirectURI is the redirect_uri sent; "" when the request had none
	// (Mollie then uses the registered one).
	RedirectURI string
	// Scopes are the requested scopes, split on spaces.
	Scopes []string
	// State is the state sent.
	State string
	// CodeChallenge and CodeChallengeMethod are the PKCE parameters
	// (RFC 7636 §4.3); empty when not sent.
	CodeChallenge       string
	CodeChallengeMethod string
	// Extra holds every other parameter, e.g. Mollie's approval_prompt and
	// locale or Qonto's organization_id and registration_id.
	Extra url.Values
	// AccountID is the account that approved (Mollie "org_<n>", Qonto an
	// organization UUID); "" when the request was refused.
	AccountID string
	// Error is the error code the browser was redirected with (e.g.
	// "access_denied", "invalid_scope"); "" when approved.
	Error string
}

func (a AuthorizeRequest) clone() AuthorizeRequest {
	a.Scopes = slices.Clone(a.Scopes)
	a.Extra = maps.Clone(a.Extra)
	return a
}

// LastAuthorize returns the last authorization request that was decided
// (approved or redirected with an error); the zero value before any.
// Requests answered with a 400 page (unknown client, bad redirect_uri) and
// consent pages merely shown are not recorded.
func (s *server) LastAuthorize() AuthorizeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.clone()
}

// Authorizations returns every authorization request that was decided, in
// order (see LastAuthorize), e.g. to check two interleaved flows.
func (s *server) Authorizations() []AuthorizeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AuthorizeRequest, len(s.decided))
	for i, a := range s.decided {
		out[i] = a.clone()
	}
	return out
}

// DenyNext makes the next authorization request that reaches a decision
// redirect back with error=code (e.g. "access_denied"), error_description=
// description and the request's state, as if the user declined. Scripted
// decisions are consumed in order and take precedence over the consent
// page.
func (s *server) DenyNext(code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decisions = append(s.decisions, decision{deny: true, code: code, desc: description})
}

// ApproveNextAs makes the next authorization request that reaches a
// decision approve on behalf of accountID, so a test can connect the same
// merchant twice (by default every approval is a new account). It is
// queued with DenyNext's decisions.
func (s *server) ApproveNextAs(accountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decisions = append(s.decisions, decision{accountID: accountID})
}

// forcedDecision is a request-context key: a decision made before the
// authorization endpoint runs (a client link decides for its organization).
type forcedDecision struct{}

var (
	standardAuthParams = []string{"client_id", "response_type", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"}
	pkceValue          = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// authorize serves the authorization endpoint (RFC 6749 §4.1.1). Problems
// with the client or redirect_uri get a 400 page, never a redirect
// (RFC 6749 §4.1.2.1); every other problem redirects with an error.
func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	consentPost := false
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, "malformed form")
			return
		}
		params = r.PostForm
		consentPost = s.cfg.consentPage
	}
	choice := params.Get("decision")
	if consentPost {
		params = maps.Clone(params)
		params.Del("decision")
	}

	req := AuthorizeRequest{
		ClientID:            params.Get("client_id"),
		RedirectURI:         params.Get("redirect_uri"),
		Scopes:              strings.Fields(params.Get("scope")),
		State:               params.Get("state"),
		CodeChallenge:       params.Get("code_challenge"),
		CodeChallengeMethod: params.Get("code_challenge_method"),
		Extra:               url.Values{},
	}
	for k, v := range params {
		if !slices.Contains(standardAuthParams, k) {
			req.Extra[k] = slices.Clone(v)
		}
	}
	if len(params["client_id"]) != 1 || req.ClientID != s.cfg.clientID {
		s.errorPage(w, "unknown client_id")
		return
	}
	target, problem := s.redirectTarget(params)
	if problem != "" {
		s.errorPage(w, problem)
		return
	}
	if code, desc := s.checkAuthorize(params, req); code != "" {
		s.decide(w, r, target, req, decision{deny: true, code: code, desc: desc})
		return
	}

	d, scripted := r.Context().Value(forcedDecision{}).(decision)
	if !scripted {
		s.mu.Lock()
		if scripted = len(s.decisions) > 0; scripted {
			d = s.decisions[0]
			s.decisions = s.decisions[1:]
		}
		s.mu.Unlock()
	}
	if !scripted && s.cfg.consentPage {
		if !consentPost {
			s.consentPage(w, req, target, params)
			return
		}
		if choice != "approve" {
			d = decision{deny: true, code: "access_denied", desc: "The resource owner denied the request."}
		}
	}
	s.decide(w, r, target, req, d)
}

// redirectTarget returns where the browser goes back to, or why there is
// no safe place to send it.
func (s *server) redirectTarget(params url.Values) (target, problem string) {
	sent, ok := params["redirect_uri"]
	if !ok {
		if s.cfg.requireRedirect {
			return "", "redirect_uri is required"
		}
		if len(s.cfg.redirectURIs) == 0 {
			return "", "no redirect_uri sent and none registered"
		}
		return s.cfg.redirectURIs[0], ""
	}
	if len(sent) != 1 || !absoluteURL(sent[0]) {
		return "", "redirect_uri is not a single absolute URL"
	}
	if len(s.cfg.redirectURIs) > 0 && !slices.Contains(s.cfg.redirectURIs, sent[0]) {
		return "", "redirect_uri is not registered for this client"
	}
	return sent[0], ""
}

func absoluteURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == "" && u.User == nil
}

// checkAuthorize returns the OAuth error for a request whose client and
// redirect_uri are fine.
func (s *server) checkAuthorize(params url.Values, req AuthorizeRequest) (code, desc string) {
	for _, k := range standardAuthParams {
		if len(params[k]) > 1 {
			return "invalid_request", "The '" + k + "' parameter is included more than once."
		}
	}
	switch {
	case params.Get("response_type") != "code":
		return "unsupported_response_type", "Only response_type=code is supported."
	case req.State == "":
		return "invalid_request", "The 'state' parameter is required."
	case len(req.State) < s.cfg.minState:
		return "invalid_state", "Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy."
	case len(req.Scopes) == 0:
		return "invalid_request", "The 'scope' parameter is required."
	}
	for _, sc := range req.Scopes {
		if !s.cfg.allowedScopes[sc] {
			return "invalid_scope", "The requested scope '" + sc + "' is unknown or not allowed."
		}
	}
	switch {
	case req.CodeChallenge == "" && req.CodeChallengeMethod != "":
		return "invalid_request", "code_challenge_method without code_challenge."
	case req.CodeChallenge == "" && s.cfg.requirePKCE:
		return "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256."
	case req.CodeChallenge != "" && req.CodeChallengeMethod != "S256":
		return "invalid_request", "Only the S256 code_challenge_method is allowed."
	case req.CodeChallenge != "" && !pkceValue.MatchString(req.CodeChallenge):
		return "invalid_request", "The code_challenge is malformed."
	}
	if s.cfg.checkExtra != nil {
		return s.cfg.checkExtra(req.Extra)
	}
	return "", ""
}

// decide approves or denies, records the request, and redirects.
func (s *server) decide(w http.ResponseWriter, r *http.Request, target string, req AuthorizeRequest, d decision) {
	back := url.Values{}
	s.mu.Lock()
	if d.deny {
		req.Error = d.code
		back.Set("error", d.code)
		if d.desc != "" {
			back.Set("error_description", d.desc)
		}
	} else {
		id := d.accountID
		if id == "" && s.cfg.name == "qonto" {
			id = req.Extra.Get("organization_id")
		}
		acct := s.accountLocked(id)
		req.AccountID = acct.id
		if s.cfg.name == "mollie" && req.Extra.Get("approval_prompt") == "force" {
			// Mollie: force revokes the merchant's earlier authorizations.
			for _, g := range s.grants {
				if g.account == acct && g.clientID == req.ClientID {
					g.revokeAll()
				}
			}
		}
		g := &grant{clientID: req.ClientID, account: acct, scopes: slices.Clone(req.Scopes),
			authRedirect: req.RedirectURI, redirect: target, challenge: req.CodeChallenge}
		s.grants = append(s.grants, g)
		code := s.cfg.newCode()
		s.codes[code] = &authCode{grant: g, expires: s.now().Add(s.cfg.codeLifetime)}
		back.Set("code", code)
	}
	s.last = req.clone()
	s.decided = append(s.decided, req.clone())
	s.mu.Unlock()
	if req.State != "" {
		back.Set("state", req.State)
	}
	if s.cfg.issParam {
		// RFC 9207 §2: in every authorization response, error or not.
		back.Set("iss", s.issuer())
	}
	u, _ := url.Parse(target) // validated by redirectTarget
	q := u.Query()
	for k, v := range back {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// s256 is the PKCE S256 transform (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
