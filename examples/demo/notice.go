package main

import (
	"net/http"
	"strings"
	"time"
)

// One-time notices and the destination a login returns to.
//
// After every action (connect, reconnect, refresh, disconnect, a client-link
// signup) the next dashboard says what happened, once: the action sets a
// short-lived cookie signed with the login key, and the dashboard that
// shows it clears it. No script, and no text in the address bar that a
// reload would show again or a link could forge.

// The cookies' names (with the __Host- prefix over https).
const (
	noticeCookie = "demo-notice"
	nextCookie   = "demo-next"
	signupCookie = "demo-signup"
)

// flashTTL bounds how long a notice or a destination waits to be shown.
const flashTTL = 10 * time.Minute

// maxNotice bounds a notice's length; longer ones are cut.
const maxNotice = 300

func (s *sessions) flashName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// setFlash sets the signed one-time cookie name to value.
func (s *sessions) setFlash(w http.ResponseWriter, name, value string) {
	if len(value) > maxNotice {
		value = value[:maxNotice]
	}
	v, err := s.codec.Encode(s.flashName(name), value)
	if err != nil {
		return // too long for a cookie: the notice is lost, nothing else
	}
	c := s.cookie(v, int(flashTTL/time.Second))
	c.Name = s.flashName(name)
	http.SetCookie(w, c)
}

// takeFlash returns the one-time cookie name's value ("" when none, or
// forged, or expired) and clears it.
func (s *sessions) takeFlash(w http.ResponseWriter, r *http.Request, name string) string {
	c, err := r.Cookie(s.flashName(name))
	if err != nil {
		return ""
	}
	clear := s.cookie("", -1)
	clear.Name = s.flashName(name)
	http.SetCookie(w, clear)
	var v string
	if s.codec.Decode(c.Name, c.Value, &v) != nil {
		return ""
	}
	return v
}

// peekFlash is takeFlash without clearing.
func (s *sessions) peekFlash(r *http.Request, name string) string {
	c, err := r.Cookie(s.flashName(name))
	if err != nil {
		return ""
	}
	var v string
	if s.codec.Decode(c.Name, c.Value, &v) != nil {
		return ""
	}
	return v
}

// notice sets the one-time notice the next dashboard shows.
func (a *app) notice(w http.ResponseWriter, msg string) { a.sessions.setFlash(w, noticeCookie, msg) }

// loginDestination reports whether a logged-out GET of path may be
// resumed after the login: the start of a connect flow (its query, such as
// return_to or organization_id, kept). Not the callback, whose query
// carries the code and state.
func loginDestination(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/connect/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// safeNext reports whether next, from the signed cookie, is a place the
// login may send the browser: a connect start on this host.
func safeNext(next string) bool {
	return strings.HasPrefix(next, "/connect/") && !strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "//")
}

// redirectWriter runs before just ahead of a 303 answer, so a handler
// the demo does not own (the library's) can get a notice with its
// redirect.
type redirectWriter struct {
	http.ResponseWriter
	before func(h http.Header)
	done   bool
}

func (rw *redirectWriter) WriteHeader(code int) {
	if code == http.StatusSeeOther && !rw.done && rw.before != nil {
		rw.done = true
		rw.before(rw.Header())
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *redirectWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// onRedirect wraps next so before runs with w just ahead of a 303.
func onRedirect(next http.Handler, before func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &redirectWriter{ResponseWriter: w}
		rw.before = func(http.Header) { before(w, r) }
		next.ServeHTTP(rw, r)
	})
}
