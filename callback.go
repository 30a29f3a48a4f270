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
)

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

// maxCallbackQuery caps the callback's query string: a redirect back from
// the provider is short, and nothing longer is parsed.
const maxCallbackQuery = 8 << 10

// parseCallbackQuery reads and bounds the callback query. It reads only the
// parameters above, without building a url.Values for the whole query:
// BenchmarkParseCallbackQuery measures it at about half the time and a
// quarter of the allocations of url.ParseQuery on a callback's query, and
// FuzzCallbackQueryMatchesParseQuery checks that it accepts, refuses and
// reads exactly what the url.ParseQuery version does.
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
//  6. The flow is within Flow.TTL (ErrStateExpired). The cookie outlives
//     the flow by 50 minutes, so a late callback is told that rather than
//     ErrNoFlowCookie.
//  7. The issuer (iss, RFC 9207) is present and equal, where the provider
//     has one (errIssuerMissing, errIssuerMismatch).
//  8. A provider error (error=access_denied, ...) is reported, only now
//     that the state is verified (RFC 9700 §4.7). Nothing was spent, so
//     nothing is recorded in the replay guard.
//  9. A callback without a code is refused, likewise recording nothing.
//  10. The owner may have at most 100 states recorded in the replay guard
//     at a time (each for Flow.TTL plus a minute); beyond that the
//     callback is refused with 429 Too Many Requests before its state is
//     recorded or its code spent, so one signed-in user cannot fill a
//     guard every owner shares.
//  11. The state is recorded in the replay guard, once: a replayed callback
//     fails here, with ErrAlreadyConnected while the owner's connection is
//     active (a reload sent before the first answer arrived), else
//     ErrStateReplayed.
//  12. The store is checked, then the code is exchanged, once and never
//     retried. From here on the browser cannot cancel: the exchange runs
//     under the request's values but not its cancellation, bounded by
//     Config.Tokens.ExchangeTimeout, and the new grant ends saved, or revoked when
//     it cannot be saved.
//  13. The connection is committed. A grant it replaces (the owner's
//     previous connection, and any grant still awaiting revocation) moves
//     to Connection.Retired in the same save, the committing Connector's
//     cache forgets the old token, and the replaced grants are revoked;
//     those the provider does not confirm stay in Retired for a later
//     retry (Disconnect, the next refresh). The flow cookie becomes the
//     completion marker: the flow's record without its PKCE verifier,
//     sealed like the flow, for as long as a flow cookie lives.
//  14. Config.Hooks.OnConnected runs.
//
// Every response carries Cache-Control: no-store and Referrer-Policy:
// no-referrer. Failures go to Config.Hooks.OnError: ErrBadRequest,
// ErrInvalidState, ErrStateExpired, ErrOwnerMismatch, ErrNoOwner,
// ErrInvalidOwner, a *ProviderError, too many flows (429), ErrStateReplayed,
// ErrStoreUnavailable (nothing was spent), ErrExchange (with the
// provider's *ProviderError, or a malformed token response), or ErrStore (the new grant
// could not be saved and was revoked).
func (c *Connector) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = hdrNoStore
		h["Referrer-Policy"] = hdrNoReferrer
		if ctx := c.e.opStart(r.Context()); ctx != r.Context() {
			r = r.WithContext(ctx) // the events' Duration counts from here
		}
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
	// 4 to 7. The flow is this one, here, for this owner, in time.
	owner, err := c.verifyFlow(r, q, f, state, &end)
	if err != nil {
		return nil, "", err
	}
	issued, now := time.Unix(f.Issued, 0), c.e.now()
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

// verifyFlow runs the callback's checks 4 to 7 on the flow f read from
// the cookie: it is the flow the query's state names, started here by the
// current owner, not yet completed, within its lifetime, and answered by
// the expected issuer. It returns the owner. A completion marker of a
// connected owner sets *end to keep the marker.
func (c *Connector) verifyFlow(r *http.Request, q *callbackQuery, f *flow, state string, end *flowEnd) (string, error) {
	// 4. The cookie's flow is this one, here, for this owner.
	if subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return "", fmt.Errorf("%w: state does not match its cookie", ErrInvalidState)
	}
	if f.Provider != c.provider.Name || f.Route != c.cfg.RedirectURL {
		return "", fmt.Errorf("%w: flow was started for another provider or route", ErrInvalidState)
	}
	owner, err := c.owner(r)
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(owner), []byte(f.Owner)) != 1 {
		return "", ErrOwnerMismatch
	}
	// 5. A flow this browser already completed.
	if f.Done {
		err := c.replayed(r.Context(), owner)
		if errors.Is(err, ErrAlreadyConnected) {
			*end = endKeep
		}
		return "", err
	}
	// 6. Within its lifetime.
	issued, now := time.Unix(f.Issued, 0), c.e.now()
	if now.Sub(issued) > c.cfg.Flow.TTL {
		return "", ErrStateExpired
	}
	if issued.Sub(now) > time.Minute {
		return "", fmt.Errorf("%w: flow issued in the future", ErrInvalidState)
	}
	// 7. The issuer.
	return owner, c.checkIssuer(q)
}

// replayed is the error for a state that was already used:
// ErrAlreadyConnected when the owner has an active connection to this
// provider, else ErrStateReplayed. Either way nothing changes, so a store
// that cannot answer in time gets the plain ErrStateReplayed.
func (c *Connector) replayed(ctx context.Context, owner string) error {
	if c.e.connected(ctx, owner, storeCheckTimeout) {
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

func (c *Connector) fail(w http.ResponseWriter, r *http.Request, err error) {
	// Client errors (bad, replayed or expired links) are routine and
	// logged at Debug; server-side failures at Warn.
	level, status := slog.LevelDebug, HTTPStatus(err)
	if status >= 500 {
		level = slog.LevelWarn
	}
	if c.log.Enabled(r.Context(), level) {
		c.log.Log(r.Context(), level, "oauthlink: flow failed", "provider", c.provider.Name, "status", status, "error", err)
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
