package oauthlink

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/oauthlink/oauthlink/store"
)

// BeginOptions are the per-request choices of one flow.
type BeginOptions struct {
	// ReturnTo is where the callback sends the browser after connecting;
	// a relative path (see validReturnTo). Default "/".
	ReturnTo string
	// Params are extra authorization parameters; each name must be listed in
	// Provider.AllowedAuthParams.
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
// or ErrBadRequest: a return-to that is not a relative path, a parameter
// not in Provider.AllowedAuthParams (a *ParamError names either), or a
// flow cookie that would exceed the browser's 4096-byte limit.
func (c *Connector) Begin(w http.ResponseWriter, r *http.Request, opts BeginOptions) (*Flow, error) {
	authURL, state, err := c.begin(w, r, opts)
	if err != nil {
		return nil, err
	}
	return &Flow{AuthURL: store.Secret(authURL), State: store.Secret(state)}, nil
}

func (c *Connector) begin(w http.ResponseWriter, r *http.Request, opts BeginOptions) (authURL, state string, err error) {
	start := c.e.now()
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
		if !slices.Contains(c.provider.AllowedAuthParams, name) {
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
	c.e.emit(r.Context(), Event{Kind: EventFlowStarted, Provider: c.provider.Name, Owner: owner, Duration: c.e.now().Sub(start)})
	return b.String(), state, nil
}

// StartHandler returns the handler that starts a flow: GET (or POST) with
// an optional return-to parameter (Config.Flow.ReturnToParam) answers 303 See
// Other to the provider's authorization page. Failures go to Config.Hooks.OnError:
// those of Begin, and ErrBadRequest for a malformed request (method,
// query, repeated return-to, an error from Config.Flow.AuthParams).
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
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return opts, fmt.Errorf("%w: malformed query", ErrBadRequest)
		}
		vs = q[c.cfg.Flow.ReturnToParam]
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
