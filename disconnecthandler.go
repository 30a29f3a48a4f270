package oauthlink

import (
	"errors"
	"fmt"
	"net/http"
)

// maxDisconnectForm caps the disconnect form, as the start handler caps
// its own: the only field read is the return-to parameter.
const maxDisconnectForm = 64 << 10

// DisconnectHandler returns a handler for POST requests that disconnects
// the current owner (see Disconnect), then answers 303 See Other to the
// return-to parameter (Config.Flow.ReturnToParam; "/" when it is missing or
// not a relative path). In this order, and before anything is revoked, it
// refuses:
//
//  1. a method other than POST (ErrBadRequest, 400, with Allow: POST);
//  2. a request from another site (ErrCrossOrigin, 403; see
//     Config.Flow.CrossOrigin): a disconnect revokes the owner's grant, so
//     a cross-site form must not be able to trigger one;
//  3. a form over 64 KiB, urlencoded or multipart (ErrBadRequest, 400):
//     nothing beyond the cap is read, and nothing is written to disk;
//  4. a request without an owner (ErrNoOwner, 401).
//
// Failures go to Hooks.OnError, with those of Disconnect.
func (c *Connector) DisconnectHandler() http.Handler {
	cop := c.crossOrigin
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = hdrNoStore
		returnTo, err := c.disconnectRequest(w, r, cop)
		if err == nil {
			var owner string
			if owner, err = c.owner(r); err == nil {
				err = c.e.disconnect(r.Context(), owner)
			}
		}
		if err != nil {
			c.cfg.Hooks.OnError(w, r, err)
			return
		}
		w.Header()["Location"] = []string{returnTo}
		w.WriteHeader(http.StatusSeeOther)
	})
}

// disconnectRequest checks a disconnect request before anything is done
// (method, origin, a bounded form) and returns where to send the browser.
func (c *Connector) disconnectRequest(w http.ResponseWriter, r *http.Request, cop *http.CrossOriginProtection) (string, error) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = hdrPostAllowed
		return "", fmt.Errorf("%w: disconnect needs POST", ErrBadRequest)
	}
	if cop != nil {
		if err := cop.Check(r); err != nil {
			return "", fmt.Errorf("%w: %w", ErrCrossOrigin, err)
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxDisconnectForm)
	// ParseForm reads an urlencoded body; ParseMultipartForm a multipart
	// one (it would drop ParseForm's error for other types, so both run).
	// With the body capped, a multipart form fits the memory allowance, so
	// no part is spooled to a temporary file.
	err := r.ParseForm()
	if err == nil {
		if err = r.ParseMultipartForm(maxDisconnectForm); errors.Is(err, http.ErrNotMultipart) {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: unreadable form", ErrBadRequest)
	}
	returnTo := r.Form.Get(c.cfg.Flow.ReturnToParam)
	if !validReturnTo(returnTo) {
		returnTo = "/"
	}
	return returnTo, nil
}
