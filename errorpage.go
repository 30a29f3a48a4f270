package oauthlink

import (
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

// DefaultErrorHandler is the default Config.OnError. It answers
// HTTPStatus(err) with a small HTML page. The only provider text it shows
// is a ProviderError's sanitised description, HTML-escaped; the error_uri
// is never rendered, and no other error text reaches the browser.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := HTTPStatus(err)
	v := errorView{Title: "Connection failed", Message: "Something went wrong while connecting your account. Please try again."}
	var pe *ProviderError
	switch {
	case errors.As(err, &pe) && pe.Cancelled():
		v = errorView{Title: "Connection cancelled", Message: "You cancelled the connection. Nothing was changed."}
	case errors.As(err, &pe):
		v.Message = "The provider refused the connection."
		v.Detail = pe.Description
	case errors.Is(err, ErrOwnerMismatch):
		v.Message = "This connection was started from another account. Please start again while signed in to the right account."
	case errors.Is(err, ErrNoOwner):
		v.Message = "Please sign in, then start the connection again."
	case errors.Is(err, ErrStateExpired):
		v.Message = "This connection attempt expired. Please start again."
	case status == http.StatusBadRequest:
		v.Message = "This link is invalid or was already used. Please start the connection again."
	case errors.Is(err, ErrStoreUnavailable):
		v.Message = "We could not save connections right now. Nothing was changed; please try again in a moment."
	case errors.Is(err, ErrStore):
		v.Message = "We could not save the connection, so it was undone at the provider. Please try again."
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, v)
}
