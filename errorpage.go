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
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Detail}}<p>The provider said: <q>{{.Detail}}</q></p>{{end}}
<p><a href="/">Back</a></p></body></html>
`))

type errorView struct {
	Title, Message, Detail string
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
	pageCrossOrigin
	pageCount
)

var pageViews = [pageCount]errorView{
	pageGeneric:          {"Connection failed", "Something went wrong while connecting your account. Please try again.", ""},
	pageCancelled:        {"Connection cancelled", "You cancelled the connection. Nothing was changed.", ""},
	pageRefused:          {"Connection failed", "The provider refused the connection.", ""},
	pageOwnerMismatch:    {"Connection failed", "This connection was started from another account. Please start again while signed in to the right account.", ""},
	pageNoOwner:          {"Connection failed", "Please sign in, then start the connection again.", ""},
	pageExpired:          {"Connection failed", "This connection attempt expired. Please start again.", ""},
	pageBadRequest:       {"Connection failed", "This link is invalid or was already used. Please start the connection again.", ""},
	pageStoreUnavailable: {"Connection failed", "We could not save connections right now. Nothing was changed; please try again in a moment.", ""},
	pageStoreFailed:      {"Connection failed", "We could not save the connection, so it was undone at the provider. Please try again.", ""},
	pageCrossOrigin:      {"Request refused", "This request was sent from another site, so it was refused. Nothing was changed; please use the button on our own page.", ""},
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

// DefaultErrorHandler is the default Config.OnError. It answers
// HTTPStatus(err) with a small HTML page. The only provider text it shows
// is a ProviderError's sanitised description, HTML-escaped; the error_uri
// is never rendered, and no other error text reaches the browser.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := HTTPStatus(err)
	kind := pageGeneric
	pe := findProviderError(err)
	switch {
	case pe != nil && pe.Cancelled():
		kind = pageCancelled
	case pe != nil:
		kind = pageRefused
	case errors.Is(err, ErrOwnerMismatch):
		kind = pageOwnerMismatch
	case errors.Is(err, ErrNoOwner):
		kind = pageNoOwner
	case errors.Is(err, ErrCrossOrigin):
		kind = pageCrossOrigin
	case errors.Is(err, ErrStateExpired):
		kind = pageExpired
	case status == http.StatusBadRequest:
		kind = pageBadRequest
	case errors.Is(err, ErrStoreUnavailable):
		kind = pageStoreUnavailable
	case errors.Is(err, ErrStore):
		kind = pageStoreFailed
	}
	h := w.Header()
	h["Content-Type"] = hdrHTML
	h["X-Content-Type-Options"] = hdrNoSniff
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(status)
	if kind == pageRefused && pe.Description != "" {
		v := pageViews[kind]
		v.Detail = pe.Description
		_ = errorPage.Execute(w, v)
		return
	}
	_, _ = w.Write(renderedPages[kind])
}

// findProviderError is errors.As for *ProviderError without the
// allocation errors.As makes for its target.
func findProviderError(err error) *ProviderError {
	switch e := err.(type) {
	case nil:
		return nil
	case *ProviderError:
		return e
	case interface{ Unwrap() error }:
		return findProviderError(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if pe := findProviderError(x); pe != nil {
				return pe
			}
		}
	}
	return nil
}
