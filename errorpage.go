package oauthlink

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
)

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1>{{if .Param}}<p>The <code>{{.Param}}</code> parameter is invalid. Nothing was changed; please go back and try again.</p>{{else}}<p>{{.Message}}</p>{{end}}{{if .Detail}}<p>The provider said: <q>{{.Detail}}</q></p>{{end}}
<p><a href="/">Back</a></p></body></html>
`))

type errorView struct {
	Title, Message, Detail string
	// Param names an invalid start parameter; it replaces Message.
	Param string
}

// The pages without provider text are rendered once.
type pageKind int

const (
	pageGeneric pageKind = iota
	pageCancelled
	pageRefused
	pageOwnerMismatch
	pageNoOwner
	pageExpired
	pageBadRequest
	pageStoreUnavailable
	pageStoreFailed
	pageNoFlowCookie
	pageAlreadyConnected
	pageReplayed
	pageIssuerMissing
	pageIssuerMismatch
	pageInvalidState
	pageInvalidParam // rendered with the parameter's name
	pageCrossOrigin
	pageTooManyFlows
	pageUnprocessable
	pageBusy
	pageCount
)

var pageViews = [pageCount]errorView{
	pageGeneric:          {Title: "Connection failed", Message: "Something went wrong while connecting your account. Please try again."},
	pageCancelled:        {Title: "Connection cancelled", Message: "You cancelled the connection. Nothing was changed."},
	pageRefused:          {Title: "Connection failed", Message: "The provider refused the connection."},
	pageOwnerMismatch:    {Title: "Connection failed", Message: "This connection was started from another account. Please start again while signed in to the right account."},
	pageNoOwner:          {Title: "Connection failed", Message: "Please sign in, then start the connection again."},
	pageExpired:          {Title: "Connection failed", Message: "This connection attempt expired before it was completed. Nothing was changed; please start again."},
	pageBadRequest:       {Title: "Connection failed", Message: "This request is malformed. Nothing was changed; please start the connection again."},
	pageStoreUnavailable: {Title: "Connection failed", Message: "We could not save connections right now. Nothing was changed; please try again in a moment."},
	pageStoreFailed:      {Title: "Connection failed", Message: "We could not save the connection, so it was undone at the provider. Please try again."},
	pageNoFlowCookie: {Title: "Connection failed", Message: "This browser has no record of this connection attempt: it was started in another browser, " +
		"the browser did not keep its cookie, or it was started too long ago. Nothing was changed; please start the connection again in this browser."},
	pageAlreadyConnected: {Title: "Already connected", Message: "Your account is connected, so there is nothing more to do: this link had already been used to connect it."},
	pageReplayed:         {Title: "Connection failed", Message: "This link was already used. Nothing was changed; please start the connection again."},
	pageIssuerMissing: {Title: "Connection failed", Message: "The answer to this connection attempt did not say which server sent it, so it was refused. " +
		"Nothing was changed; please start the connection again."},
	pageIssuerMismatch: {Title: "Connection failed", Message: "The answer to this connection attempt did not come from the provider this connection was started with, " +
		"so it was refused. Nothing was changed; please start the connection again."},
	pageInvalidState: {Title: "Connection failed", Message: "This link does not belong to the connection attempt in this browser. " +
		"Nothing was changed; please start the connection again."},
	pageInvalidParam: {Title: "Connection failed"},
	pageCrossOrigin: {Title: "Request refused", Message: "This request was sent from another site, so it was refused. " +
		"Nothing was changed; please use the button on our own page."},
	pageTooManyFlows:  {Title: "Connection failed", Message: "There have been too many connection attempts for this account. Nothing was changed; please try again in a few minutes."},
	pageUnprocessable: {Title: "Connection failed", Message: "The provider did not accept the details that were sent. Nothing was changed; please check them and try again."},
	pageBusy:          {Title: "Connection failed", Message: "The provider is busy right now. Nothing was changed; please try again in a moment."},
}

var renderedPages = func() (out [pageCount][]byte) {
	for k, v := range pageViews {
		var b bytes.Buffer
		if err := errorPage.Execute(&b, v); err != nil {
			panic(err) // a constant template over constant data
		}
		out[k] = b.Bytes()
	}
	return out
}()

// Header values shared by every response (net/http never modifies them).
var (
	hdrNoStore     = []string{"no-store"}
	hdrNoReferrer  = []string{"no-referrer"}
	hdrHTML        = []string{"text/html; charset=utf-8"}
	hdrNoSniff     = []string{"nosniff"}
	hdrPostAllowed = []string{http.MethodPost}
)

// DefaultErrorHandler is the default Config.Hooks.OnError. It answers
// HTTPStatus(err) with a small HTML page that says what happened, one
// sentence per cause: a cancelled or refused connection, another account's
// flow, nobody signed in, no flow cookie in this browser, an expired flow,
// a reload after the account was connected, a used link, a missing or
// wrong issuer, a link that does not belong to this browser's flow, an
// invalid start parameter (named, never its value), a malformed request, a
// cross-site request, too many attempts, the store failing, and, for errors
// that choose their status (see HTTPStatus), details the provider did not
// accept (422) and a provider that is busy (503). An error that chooses 422
// and wraps a *ParamError gets the page that names the parameter.
//
// The only request or provider text it shows is a ParamError's parameter
// name and a ProviderError's sanitised description, both HTML-escaped; the
// error_uri is never rendered, and no other error text reaches the
// browser.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := HTTPStatus(err)
	kind, pe, param := pageFor(err, status)
	h := w.Header()
	h["Content-Type"] = hdrHTML
	h["X-Content-Type-Options"] = hdrNoSniff
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(status)
	switch {
	case kind == pageRefused && pe.Description != "":
		v := pageViews[kind]
		v.Detail = pe.Description
		_ = errorPage.Execute(w, v)
	case kind == pageInvalidParam:
		v := pageViews[kind]
		v.Param = param
		_ = errorPage.Execute(w, v)
	default:
		_, _ = w.Write(renderedPages[kind])
	}
}

// causePages maps the sentinels to their pages, most precise cause first:
// the refined sentinels wrap the broader ones.
var causePages = []struct {
	err  error
	kind pageKind
}{
	{ErrOwnerMismatch, pageOwnerMismatch},
	{ErrNoOwner, pageNoOwner},
	{ErrCrossOrigin, pageCrossOrigin},
	{errTooManyFlows, pageTooManyFlows},
	{ErrStateExpired, pageExpired},
	{ErrNoFlowCookie, pageNoFlowCookie},
	{ErrAlreadyConnected, pageAlreadyConnected},
	{ErrStateReplayed, pageReplayed},
	{errIssuerMissing, pageIssuerMissing},
	{errIssuerMismatch, pageIssuerMismatch},
	{ErrInvalidState, pageInvalidState},
}

// statusPages are the pages of the errors no cause above claimed, by the
// sentinel or the status (one an error chose through HTTPStatus).
var statusPages = []struct {
	err    error
	status int
	kind   pageKind
}{
	{nil, http.StatusBadRequest, pageBadRequest},
	{ErrStoreUnavailable, 0, pageStoreUnavailable},
	{ErrStore, 0, pageStoreFailed},
	{nil, http.StatusUnprocessableEntity, pageUnprocessable},
	{nil, http.StatusServiceUnavailable, pageBusy},
}

// pageFor picks the page for err: the provider's own error first, then the
// most precise cause, then the status.
func pageFor(err error, status int) (kind pageKind, pe *ProviderError, param string) {
	if pe = findProviderError(err); pe != nil {
		if pe.Cancelled() {
			return pageCancelled, pe, ""
		}
		return pageRefused, pe, ""
	}
	for _, c := range causePages {
		if errors.Is(err, c.err) {
			return c.kind, nil, ""
		}
	}
	if errors.Is(err, errInvalidParam) {
		if param := paramOf(err); param != "" {
			return pageInvalidParam, nil, param
		}
		return pageBadRequest, nil, ""
	}
	for _, s := range statusPages {
		if (s.err != nil && errors.Is(err, s.err)) || (s.err == nil && status == s.status) {
			return s.kind, nil, ""
		}
	}
	return pageGeneric, nil, ""
}

// paramOf is the name of the parameter a *ParamError in err names, bounded
// for the page; "" without one. Called only for errInvalidParam, so other
// errors do not pay for errors.As's target.
func paramOf(err error) string {
	var pe *ParamError
	if errors.As(err, &pe) {
		return paramName(pe.Param)
	}
	return ""
}

// findProviderError finds the callback's *ProviderError (StatusCode 0) in
// err: errors.As without the allocation errors.As makes for its target.
func findProviderError(err error) *ProviderError {
	_, pe := chainFacts(err)
	return pe
}
