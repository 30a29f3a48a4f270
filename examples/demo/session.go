package main

import (
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/gorilla/securecookie"
)

// sessions is the demo's own login: a signed cookie holding the user name.
// A real app has its own login; oauthlink only asks it, through
// Config.Owner, whose account is being linked.
type sessions struct {
	codec  *securecookie.SecureCookie
	name   string
	secure bool
}

// loginTTL is how long a login lasts.
const loginTTL = 12 * time.Hour

// userName is what the login form accepts: short, and safe in a log line.
var userName = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)

func newSessions(key []byte, secure bool) *sessions {
	codec := securecookie.New(key, nil) // signed, not encrypted: the name is no secret
	codec.MaxAge(int(loginTTL / time.Second))
	name := "demo-login"
	if secure {
		name = "__Host-demo-login" // Secure, Path=/, no Domain: this host only
	}
	return &sessions{codec: codec, name: name, secure: secure}
}

func (s *sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: s.name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure,
		// Lax: sent on the provider's redirect back to the callback (a
		// top-level GET from another site), never on cross-site POSTs.
		SameSite: http.SameSiteLaxMode,
	}
}

// login sets the login cookie for user.
func (s *sessions) login(w http.ResponseWriter, user string) error {
	v, err := s.codec.Encode(s.name, user)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(v, int(loginTTL/time.Second)))
	return nil
}

// logout clears the login cookie.
func (s *sessions) logout(w http.ResponseWriter) { http.SetCookie(w, s.cookie("", -1)) }

// user returns the logged-in user, or "".
func (s *sessions) user(r *http.Request) string {
	c, err := r.Cookie(s.name)
	if err != nil {
		return ""
	}
	var user string
	if s.codec.Decode(s.name, c.Value, &user) != nil || !userName.MatchString(user) {
		return ""
	}
	return user
}

var errNotLoggedIn = errors.New("not logged in")

// owner is oauthlink.Config.Owner: the logged-in user owns the connections.
func (s *sessions) owner(r *http.Request) (string, error) {
	if u := s.user(r); u != "" {
		return u, nil
	}
	return "", errNotLoggedIn
}

// page lets logged-in users through and sends everyone else to the login
// page at / with 303 See Other, which then says "Log in to continue" (and
// returns to a connect link after the login).
func (s *sessions) page(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.user(r) == "" {
			// The login form says why it is shown, and a connect link
			// is resumed after the login.
			if loginDestination(r) {
				s.setFlash(w, nextCookie, r.URL.RequestURI())
			} else {
				s.setFlash(w, noticeCookie, "Log in to continue, then start again from the dashboard.")
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// api lets logged-in users through and answers everyone else 401 JSON.
func (s *sessions) api(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.user(r) == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not_authenticated", "message": "log in at / first"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
