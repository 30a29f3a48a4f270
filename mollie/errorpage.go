package mollie

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/oauthlink/oauthlink"
)

// HTTPStatus maps a client-link handler error to the status
// DefaultClientLinkErrorHandler answers:
//
//   - *ValidationError: 422 (the form data needs fixing);
//   - *APIError 422: 422 (Mollie refused the data, e.g. the VAT number);
//   - *APIError 429: 503 (Mollie is throttling us; Retry-After is passed on);
//   - any other *APIError, ErrRequest, ErrResponse: 502 (Mollie failed, or
//     refused our credentials: nothing the user can fix);
//   - ErrCrossOrigin: 403;
//   - anything else: oauthlink.HTTPStatus (400 for oauthlink.ErrBadRequest,
//     401 for oauthlink.ErrNoOwner, 500 otherwise).
func HTTPStatus(err error) int {
	var ve *ValidationError
	var ae *APIError
	switch {
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity
	case errors.As(err, &ae):
		switch {
		case ae.StatusCode == http.StatusUnprocessableEntity:
			return http.StatusUnprocessableEntity
		case ae.StatusCode == http.StatusTooManyRequests:
			return http.StatusServiceUnavailable
		}
		return http.StatusBadGateway
	case errors.Is(err, ErrRequest), errors.Is(err, ErrResponse):
		return http.StatusBadGateway
	case errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden
	}
	return oauthlink.HTTPStatus(err)
}

var clientLinkErrorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Detail}}<p>Mollie said: <q>{{.Detail}}</q></p>{{end}}
<p><a href="/">Back</a></p></body></html>
`))

type errorView struct {
	Title, Message, Detail string
}

// DefaultClientLinkErrorHandler is the default ClientLinkOptions.OnError. It
// answers HTTPStatus(err) with a small HTML page; on a 429 from Mollie it
// answers 503 with Mollie's Retry-After. The only provider text it shows is
// a 422's sanitised detail, HTML-escaped; a validation error shows our own
// field name and reason. Errors that are not the client link's own
// (nobody signed in, a bad return-to) get oauthlink.DefaultErrorHandler.
func DefaultClientLinkErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status := HTTPStatus(err)
	v := errorView{Title: "Could not start the Mollie signup"}
	var ve *ValidationError
	var ae *APIError
	switch {
	case errors.As(err, &ve):
		v.Message = "Please check the form: " + ve.Field + " " + ve.Reason + "."
	case errors.As(err, &ae) && status == http.StatusUnprocessableEntity:
		v.Message = "Mollie could not accept these details. Please check the form and try again."
		v.Detail = ae.Detail
	case errors.As(err, &ae) && status == http.StatusServiceUnavailable:
		v.Message = "Mollie is busy right now. Nothing was created; please try again in a moment."
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
		}
	case status == http.StatusBadGateway:
		v.Message = "We could not reach Mollie to create your signup link. Nothing was created; please try again."
	case errors.Is(err, ErrCrossOrigin):
		v.Message = "This form must be sent from our own site. Please open the signup page again."
	default:
		oauthlink.DefaultErrorHandler(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = clientLinkErrorPage.Execute(w, v)
}
