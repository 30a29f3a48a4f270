package oauthlink

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// BeginOptions are the per-request choices of one flow.
type BeginOptions struct {
	// ReturnTo is where the callback sends the browser after connecting;
	// a relative path (see validReturnTo). Default "/".
	ReturnTo string
	// Params are extra authorization parameters; each name must be listed in
	// Provider.AuthParams.
	Params url.Values
}

// Flow is a started flow: where to send the browser.
type Flow struct {
	// AuthURL is the provider's authorization URL with every parameter.
	// It carries the state: do not log it.
	AuthURL store.Secret
	// State is the flow's state parameter, for redirect targets built
	// elsewhere (Mollie client links).
	State store.Secret
}

// Begin starts a flow for the current request's owner: it mints the state
// (and the PKCE verifier where the provider takes one), sets the flow cookie
// on w and returns the authorization URL. StartHandler is Begin plus a
// redirect; use Begin to send the browser somewhere else (a Mollie client
// link) with the same state. Errors: ErrNoOwner, ErrInvalidOwner,
// ErrBadRequest (a return-to that is not a relative path, a parameter not
// in Provider.AuthParams), errCookieTooLarge, or ErrStore (Config.Sessions
// could not save the flow).
func (c *Connector) Begin(w http.ResponseWriter, r *http.Request, opts BeginOptions) (*Flow, error) {
	authURL, state, err := c.begin(w, r, opts)
	if err != nil {
		return nil, err
	}
	return &Flow{AuthURL: store.Secret(authURL), State: store.Secret(state)}, nil
}

func (c *Connector) begin(w http.ResponseWriter, r *http.Request, opts BeginOptions) (authURL, state string, err error) {
	owner, err := c.owner(r)
	if err != nil {
		return "", "", err
	}
	returnTo := opts.ReturnTo
	if returnTo == "" {
		returnTo = "/"
	}
	if !validReturnTo(returnTo) {
		return "", "", &ParamError{Param: c.cfg.Flow.ReturnToParam, Err: errNotRelative}
	}
	for name, vs := range opts.Params {
		if !slices.Contains(c.provider.AuthParams, name) {
			return "", "", &ParamError{Param: paramName(name), Err: fmt.Errorf("not an authorization parameter %s allows", c.provider.Name)}
		}
		if len(vs) != 1 {
			// RFC 6749 §3.1: a parameter is sent at most once.
			return "", "", &ParamError{Param: paramName(name), Err: errors.New("must have exactly one value")}
		}
	}
	state, err = newState()
	if err != nil {
		return "", "", err
	}
	f := &flow{
		Provider: c.provider.Name, Route: c.cfg.RedirectURL, Owner: owner,
		State: state, ReturnTo: returnTo, Issued: c.e.now().Unix(),
	}
	var b strings.Builder
	b.Grow(len(c.authPrefix) + 160)
	b.WriteString(c.authPrefix)
	b.WriteString("&state=")
	b.WriteString(state)
	if c.provider.PKCE {
		verifier, challenge, err := newVerifier()
		if err != nil {
			return "", "", err
		}
		f.Verifier = verifier
		b.WriteString("&code_challenge=")
		b.WriteString(challenge)
		b.WriteString("&code_challenge_method=S256")
	}
	if len(opts.Params) > 0 {
		b.WriteByte('&')
		b.WriteString(opts.Params.Encode())
	}
	c.pruneFlows(w, r)
	if err := c.saveFlow(w, r, c.flowName(state), f); err != nil {
		return "", "", err
	}
	c.e.emit(r.Context(), Event{Kind: EventFlowStarted, Provider: c.provider.Name, Owner: owner})
	return b.String(), state, nil
}

// StartHandler returns the handler that starts a flow: GET (or POST) with
// an optional return-to parameter (Config.ReturnToParam) answers 303 See
// Other to the provider's authorization page. Failures go to Config.OnError:
// those of Begin, and ErrBadRequest for a malformed request (method,
// query, repeated return-to, an error from Config.AuthParams).
func (c *Connector) StartHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = hdrNoStore
		opts, err := c.startOptions(r)
		if err == nil {
			var authURL string
			if authURL, _, err = c.begin(w, r, opts); err == nil {
				w.Header()["Location"] = []string{authURL}
				w.WriteHeader(http.StatusSeeOther)
				return
			}
		}
		c.fail(w, r, err)
	})
}

func (c *Connector) startOptions(r *http.Request) (BeginOptions, error) {
	var opts BeginOptions
	var vs []string
	switch r.Method {
	case http.MethodGet:
		if c.cfg.Flow.AuthParams != nil {
			// The hook may read r.Form; parse it for the hook's sake.
			if err := r.ParseForm(); err != nil {
				return opts, fmt.Errorf("%w: malformed query", ErrBadRequest)
			}
		}
		// Read only the one parameter, without building a url.Values.
		v, n, err := queryParam(r.URL.RawQuery, c.cfg.Flow.ReturnToParam)
		if err != nil {
			return opts, fmt.Errorf("%w: malformed query", ErrBadRequest)
		}
		if n > 0 {
			vs = make([]string, n)
			vs[0] = v
		}
	case http.MethodPost:
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return opts, fmt.Errorf("%w: unreadable form", ErrBadRequest)
		}
		vs = r.Form[c.cfg.Flow.ReturnToParam]
	default:
		return opts, fmt.Errorf("%w: method %s", ErrBadRequest, r.Method)
	}
	if len(vs) > 1 {
		return opts, &ParamError{Param: c.cfg.Flow.ReturnToParam, Err: errRepeated}
	} else if len(vs) == 1 {
		opts.ReturnTo = vs[0]
	}
	if c.cfg.Flow.AuthParams != nil {
		params, err := c.cfg.Flow.AuthParams(r)
		if err != nil {
			if errors.Is(err, errInvalidParam) { // a *ParamError: it names the parameter
				return opts, err
			}
			return opts, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		opts.Params = params
	}
	return opts, nil
}

var (
	errNotRelative = errors.New("must be a relative path")
	errRepeated    = errors.New("repeated")
)

// queryParam returns the first value of key in a raw query and how many
// times key occurs.
func queryParam(raw, key string) (value string, n int, err error) {
	for part := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		if k, err = url.QueryUnescape(k); err != nil {
			return "", 0, err
		}
		if k != key {
			continue
		}
		if n == 0 {
			if value, err = url.QueryUnescape(v); err != nil {
				return "", 0, err
			}
		}
		n++
	}
	return value, n, nil
}

// callbackParams are the single-valued parameters the callback reads; any
// of them repeated is rejected (RFC 6749 §3.1: parameters MUST NOT be
// included more than once). Other parameters (Hydra adds scope) are ignored.
var callbackParams = [...]string{"state", "code", "error", "error_description", "error_uri", "iss"}

const (
	pState = iota
	pCode
	pError
	pErrorDescription
	pErrorURI
	pIss
)

// callbackQuery holds the callback parameters the handler reads.
type callbackQuery struct {
	val [len(callbackParams)]string
	has [len(callbackParams)]bool
	// stateOK: state was present exactly once, even if the query is
	// otherwise refused, so the flow cookie can still be cleared.
	stateOK bool
}

func (q *callbackQuery) get(i int) string { return q.val[i] }

// maxCallbackQuery caps the callback's query string (security.md F20).
const maxCallbackQuery = 8 << 10

// parseCallbackQuery reads and bounds the callback query. It reads only the
// parameters above, without building a url.Values for the whole query.
func parseCallbackQuery(raw string) (*callbackQuery, error) {
	q := &callbackQuery{}
	if len(raw) > maxCallbackQuery {
		return q, fmt.Errorf("%w: query too long", ErrBadRequest)
	}
	if strings.IndexByte(raw, ';') >= 0 {
		// As net/url since Go 1.17: a ';' separator is ambiguous between
		// servers and proxies, so the query is refused.
		return q, fmt.Errorf("%w: semicolon in query", ErrBadRequest)
	}
	var perr error
	stateCount := 0
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return q, fmt.Errorf("%w: malformed query", ErrBadRequest)
		}
		i := slices.Index(callbackParams[:], k)
		if i < 0 {
			if _, err := url.QueryUnescape(v); err != nil {
				return q, fmt.Errorf("%w: malformed query", ErrBadRequest)
			}
			continue
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return q, fmt.Errorf("%w: malformed query", ErrBadRequest)
		}
		if i == pState {
			stateCount++
		}
		if q.has[i] && perr == nil {
			perr = fmt.Errorf("%w: repeated %s parameter", ErrBadRequest, k)
		}
		q.has[i], q.val[i] = true, v
	}
	q.stateOK = stateCount == 1
	switch {
	case perr != nil:
		return q, perr
	case q.val[pCode] != "" && q.has[pError]:
		return q, fmt.Errorf("%w: both code and error", ErrBadRequest)
	case len(q.val[pCode]) > 2048 || len(q.val[pState]) > 256:
		return q, fmt.Errorf("%w: oversized parameter", ErrBadRequest)
	}
	return q, nil
}

// CallbackHandler returns the redirect-URI handler. Its checks run in this
// order, each one failing the callback when it fails, with the error named
// (the default error page gives each its own sentence):
//
//  1. GET only; the query is parsed within bounds (8 KiB, no ';', no
//     repeated parameter, not both code and error).
//  2. The state parameter is present once and at most 256 bytes; without
//     one no flow can be named, so no cookie is touched.
//  3. The flow cookie named after the state is read. Whatever happens
//     next the response deletes it, except that a callback that connects
//     leaves a completion marker in its place (13) and a reload that finds
//     the marker keeps it (5). Only now is a malformed query reported. No
//     cookie: ErrNoFlowCookie.
//  4. The cookie authenticates, its state equals the query's (constant
//     time), it was issued for this provider and route, and the current
//     owner is the one who started the flow (ErrOwnerMismatch).
//  5. A completion marker means this browser already completed the flow:
//     ErrAlreadyConnected while the owner's connection is active, else
//     ErrStateReplayed.
//  6. The flow is within FlowTTL (ErrStateExpired). The cookie outlives
//     the flow by 50 minutes, so a late callback is told that rather than
//     ErrNoFlowCookie.
//  7. The issuer (iss, RFC 9207) is present and equal, where the provider
//     has one (errIssuerMissing, errIssuerMismatch).
//  8. A provider error (error=access_denied, ...) is reported, only now
//     that the state is verified (RFC 9700 §4.7). Nothing was spent, so
//     nothing is recorded in the replay guard.
//  9. A callback without a code is refused, likewise recording nothing.
//  10. The owner may have at most maxFlowsPerOwner states recorded in the
//     replay guard at a time; beyond that errTooManyFlows (429).
//  11. The state is recorded in the replay guard, once: a replayed callback
//     fails here, with ErrAlreadyConnected while the owner's connection is
//     active (a reload sent before the first answer arrived), else
//     ErrStateReplayed.
//  12. The store is checked, then the code is exchanged, once and never
//     retried. From here on the browser cannot cancel: the exchange runs
//     under the request's values but not its cancellation, bounded by
//     Config.ExchangeTimeout, and the new grant ends saved, or revoked when
//     it cannot be saved.
//  13. The connection is committed. A grant it replaces (the owner's
//     previous connection, and any grant still awaiting revocation) moves
//     to Connection.Retired in the same save, the committing Connector's
//     cache forgets the old token, and the replaced grants are revoked;
//     those the provider does not confirm stay in Retired for a later
//     retry (Disconnect, the next refresh). The flow cookie becomes the
//     completion marker: the flow's record without its PKCE verifier,
//     sealed like the flow, for as long as a flow cookie lives.
//  14. Config.OnConnected runs.
//
// Every response carries Cache-Control: no-store and Referrer-Policy:
// no-referrer. Failures go to Config.OnError: ErrBadRequest,
// ErrInvalidState, ErrStateExpired, ErrOwnerMismatch, ErrNoOwner,
// ErrInvalidOwner, a *ProviderError, errTooManyFlows, ErrStateReplayed,
// ErrStoreUnavailable (nothing was spent), ErrExchange (with the
// provider's *ProviderError or errTokenResponse), or ErrStore (the new grant
// could not be saved and was revoked).
func (c *Connector) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = hdrNoStore
		h["Referrer-Policy"] = hdrNoReferrer
		conn, returnTo, err := c.callback(w, r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.cfg.Hooks.OnConnected(w, r, conn, returnTo)
	})
}

// callback runs the checks CallbackHandler lists, in that order.
func (c *Connector) callback(w http.ResponseWriter, r *http.Request) (*Connection, string, error) {
	// 1. Method and a bounded query.
	if r.Method != http.MethodGet {
		return nil, "", fmt.Errorf("%w: method %s", ErrBadRequest, r.Method)
	}
	q, perr := parseCallbackQuery(r.URL.RawQuery)
	// 2. A state that names a flow.
	state := ""
	if perr == nil || q.stateOK {
		state = q.get(pState)
	}
	if state == "" || len(state) > 256 {
		if perr != nil {
			return nil, "", perr
		}
		return nil, "", fmt.Errorf("%w: no state parameter", ErrInvalidState)
	}
	// 3. The flow cookie; what the response does with it is decided by
	// the outcome (end), and done whatever happens.
	name := c.flowName(state)
	f, ferr := c.loadFlow(r, name)
	end := endDelete
	defer func() { c.endFlow(w, r, name, f, end) }()
	if perr != nil {
		return nil, "", perr
	}
	if ferr != nil {
		return nil, "", ferr
	}
	// 4. The cookie's flow is this one, here, for this owner.
	if subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return nil, "", fmt.Errorf("%w: state does not match its cookie", ErrInvalidState)
	}
	if f.Provider != c.provider.Name || f.Route != c.cfg.RedirectURL {
		return nil, "", fmt.Errorf("%w: flow was started for another provider or route", ErrInvalidState)
	}
	owner, err := c.owner(r)
	if err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare([]byte(owner), []byte(f.Owner)) != 1 {
		return nil, "", ErrOwnerMismatch
	}
	// 5. A flow this browser already completed.
	if f.Done {
		err := c.replayed(r.Context(), owner)
		if errors.Is(err, ErrAlreadyConnected) {
			end = endKeep
		}
		return nil, "", err
	}
	// 6. Within its lifetime.
	issued := time.Unix(f.Issued, 0)
	now := c.e.now()
	if now.Sub(issued) > c.cfg.Flow.TTL {
		return nil, "", ErrStateExpired
	}
	if issued.Sub(now) > time.Minute {
		return nil, "", fmt.Errorf("%w: flow issued in the future", ErrInvalidState)
	}
	// 7. The issuer.
	if err := c.checkIssuer(q); err != nil {
		return nil, "", err
	}
	// 8. A provider error ends the flow without spending anything.
	if q.has[pError] {
		return nil, f.ReturnTo, &ProviderError{
			Code:        sanitize(q.get(pError), 64),
			Description: sanitize(q.get(pErrorDescription), 200),
			URI:         sanitize(q.get(pErrorURI), 200),
		}
	}
	// 9. So does a missing code.
	code := q.get(pCode)
	if code == "" {
		return nil, "", fmt.Errorf("%w: no code parameter", ErrBadRequest)
	}
	// 10. The owner's share of the replay guard.
	expires := issued.Add(c.cfg.Flow.TTL + time.Minute)
	if !c.flows.budget.take(owner, now, expires, maxFlowsPerOwner) {
		return nil, "", errTooManyFlows
	}
	// 11. The state, once. The guard is usually the store: bound it like
	// the store check, and report a failure as unavailable, since nothing
	// was spent yet.
	sctx, cancel := within(r.Context(), storeCheckTimeout)
	defer cancel()
	first, err := c.guard.Consume(sctx, c.stateKey(state), expires)
	if err != nil {
		// Still counted: the guard may have kept the state before failing.
		return nil, "", fmt.Errorf("%w: replay guard: %w", ErrStoreUnavailable, err)
	}
	if !first {
		c.flows.budget.give(owner) // the guard kept nothing for a replay
		err := c.replayed(sctx, owner)
		if errors.Is(err, ErrAlreadyConnected) {
			end = endMark // a further reload is told the same
		}
		return nil, "", err
	}
	// 12 and 13. The exchange and the commit.
	conn, err := c.e.connect(r.Context(), sctx, owner, code, f.Verifier)
	if err != nil {
		return nil, "", err
	}
	end = endMark
	return conn, f.ReturnTo, nil
}

// replayed is the error for a state that was already used:
// ErrAlreadyConnected when the owner has an active connection to this
// provider, else ErrStateReplayed. Either way nothing changes, so a store
// that cannot answer in time gets the plain ErrStateReplayed.
func (c *Connector) replayed(ctx context.Context, owner string) error {
	ctx, cancel := within(ctx, storeCheckTimeout)
	defer cancel()
	conn, err := c.e.store.Load(ctx, c.provider.Name, owner)
	if err == nil && conn.Status == store.StatusActive {
		return ErrAlreadyConnected
	}
	return ErrStateReplayed
}

// checkIssuer applies RFC 9207: with Provider.Issuer set, an iss parameter
// must equal it exactly, and must be present when IssuerRequired.
func (c *Connector) checkIssuer(q *callbackQuery) error {
	if c.provider.Issuer == "" {
		return nil
	}
	switch has := q.has[pIss]; {
	case !has && c.provider.IssuerRequired:
		return errIssuerMissing
	case has && q.get(pIss) != c.provider.Issuer:
		return errIssuerMismatch
	}
	return nil
}

// storeCheckTimeout bounds the store calls made before the code is spent.
const storeCheckTimeout = 5 * time.Second

// exchangeAndSave spends the code exactly once and commits the connection.
// The store is checked before the code is spent. From the moment the code
// is sent, the provider may issue a grant that only this call knows of, so
// the rest runs under a context the browser cannot cancel: the exchange
// bounded by Config.ExchangeTimeout (tokenRequest), identifying and saving
// by twice that. A save that still fails revokes the new tokens, so no live
// grant is orphaned (security.md I34). After the commit the grants it
// replaced are revoked (retireReplaced).
// storeCtx bounds the pre-exchange store check (shared with the replay
// guard's call).
func (e *engine) connect(ctx, storeCtx context.Context, owner, code, verifier string) (*Connection, error) {
	if p, ok := capability[store.Pinger](e.store); ok {
		if err := p.Ping(storeCtx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
	}
	ctx = context.WithoutCancel(ctx)
	form := e.newExchangeForm().add("code", code)
	if verifier != "" {
		form = form.add("code_verifier", verifier)
	}
	tok, err := e.tokenRequest(ctx, form)
	if err != nil {
		e.log.Warn("oauthlink: code exchange failed", "provider", e.provider.Name, "owner", owner, "error", err)
		return nil, fmt.Errorf("%w: %w", ErrExchange, err)
	}
	if e.provider.RequireRefreshToken && tok.RefreshToken == "" {
		e.revokeQuietly(ctx, tok)
		return nil, fmt.Errorf("%w: %w: no refresh_token issued (is the offline scope granted?)", ErrExchange, errTokenResponse)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*e.opts.ExchangeTimeout)
	defer cancel()
	now := e.now()
	conn := &Connection{
		Provider: e.provider.Name, Owner: owner,
		AccessToken: store.Secret(tok.AccessToken), RefreshToken: store.Secret(tok.RefreshToken),
		TokenType: tok.TokenType, Expiry: e.tokenExpiry(now, tok, tok.RefreshToken),
		Scopes: e.grantedScopes(tok), Extra: store.Secret(tok.Extra),
		RedirectURI: e.redirectURL, Status: store.StatusActive,
	}
	if e.identify != nil {
		if err := e.identify(sctx, conn); err != nil {
			e.revokeQuietly(ctx, tok)
			return nil, fmt.Errorf("%w: identifying the account: %w", ErrExchange, err)
		}
	}
	if err := e.commitNew(sctx, conn); err != nil {
		e.log.Error("oauthlink: saving new connection failed; revoking the new grant", "provider", e.provider.Name, "owner", owner, "error", err)
		e.revokeQuietly(ctx, tok)
		if !errors.Is(err, ErrStore) {
			err = fmt.Errorf("%w: %w", ErrStore, err)
		}
		return nil, err
	}
	// The old token may be cached here for CacheTTL: drop it before anyone
	// reads it again.
	e.forget(owner)
	if e.log.Enabled(ctx, slog.LevelInfo) { // the args cost allocations even when discarded
		e.log.Info("oauthlink: connected", "provider", e.provider.Name, "owner", owner, "account", conn.AccountID)
	}
	e.emit(ctx, Event{Kind: EventConnected, Provider: e.provider.Name, Owner: owner})
	if len(conn.Retired) > 0 {
		conn = e.retireReplaced(ctx, conn)
	}
	return conn, nil
}

// commitNew saves conn over whatever the owner had (a reconnect replaces an
// old or reauth_required grant), retrying version conflicts and store
// errors a bounded number of times.
func (e *engine) commitNew(ctx context.Context, conn *Connection) error {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			if werr := sleepCtx(ctx, time.Duration(attempt)*200*time.Millisecond); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if err = e.commitOnce(ctx, conn); err == nil {
			return nil
		}
	}
	return err
}

// commitOnce saves conn under the connection lock: a refresh of the owner's
// previous grant that is still in flight finishes first, so its
// compare-and-swap cannot land on the new record when versions restart
// after a delete. The lock is taken per attempt, so a transient store
// failure (a killed pooled connection) is retried like the save.
//
// The grants conn replaces go into conn.Retired in the same save (see
// retiring), so there is no moment in which a replaced grant is live at
// the provider and recorded nowhere.
func (e *engine) commitOnce(ctx context.Context, conn *Connection) error {
	lk, err := e.lockConn(ctx, conn.Owner)
	if err != nil {
		return err
	}
	defer lk.release()
	conn.Version, conn.CreatedAt, conn.Retired = 0, time.Time{}, nil
	var key string
	var ps *pendingSave
	if !e.pending.empty() { // spares building the key on every callback
		key = connKey(conn.Provider, conn.Owner)
		ps = e.pending.get(key)
	}
	old, err := e.store.Load(ctx, conn.Provider, conn.Owner)
	switch {
	case err == nil:
		conn.Version, conn.CreatedAt = old.Version, old.CreatedAt
	case errors.Is(err, store.ErrNotFound):
		old = nil
	default:
		return err
	}
	conn.Retired = e.retiring(conn, old, ps, e.now())
	if err := e.store.Save(ctx, conn); err != nil {
		return err
	}
	if ps != nil && e.pending.get(key) == ps {
		e.pending.put(key, nil) // retired with the old grant
	}
	return nil
}

func (e *engine) revokeQuietly(ctx context.Context, tok *tokenResponse) {
	ctx = context.WithoutCancel(ctx)
	kind, value := "access_token", tok.AccessToken
	if tok.RefreshToken != "" {
		kind, value = "refresh_token", tok.RefreshToken
	}
	if err := e.revoke(ctx, value, kind); err != nil {
		e.log.Error("oauthlink: revoking an unsaved grant failed", "provider", e.provider.Name, "error", err)
	}
}

func (e *engine) grantedScopes(tok *tokenResponse) []string {
	if tok.ScopeSet {
		return strings.Fields(tok.Scope)
	}
	return slices.Clone(e.scopes)
}

func (c *Connector) fail(w http.ResponseWriter, r *http.Request, err error) {
	// Client errors (bad, replayed or expired links) are routine and
	// logged at Debug; server-side failures at Warn.
	level := slog.LevelDebug
	if status := HTTPStatus(err); status >= 500 {
		level = slog.LevelWarn
	}
	if c.log.Enabled(r.Context(), level) {
		c.log.Log(r.Context(), level, "oauthlink: flow failed", "provider", c.provider.Name, "status", HTTPStatus(err), "error", err)
	}
	c.e.emit(r.Context(), Event{Kind: EventFlowFailed, Provider: c.provider.Name, Err: err})
	c.cfg.Hooks.OnError(w, r, err)
}

func defaultConnected(w http.ResponseWriter, r *http.Request, _ *Connection, returnTo string) {
	if !validReturnTo(returnTo) {
		returnTo = "/"
	}
	w.Header().Set("Location", returnTo)
	w.WriteHeader(http.StatusSeeOther)
}
