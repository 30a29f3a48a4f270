// Package apiclient is the request code the provider packages (mollie,
// qonto) share for their REST APIs: API roots that never carry a token in
// clear, a client for a static bearer token that sends it to one origin
// only, and bounded JSON calls that never follow a redirect. A Connector's
// Client(owner) and a static-token client go through the same calls.
package apiclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxBody caps what is read from any answer, success or error (the 1 MiB
// golang.org/x/oauth2 allows a token response).
const MaxBody = 1 << 20

// ErrOtherOrigin: a request through a TokenClient named an origin other
// than its API's. It was not sent and carried no token.
var ErrOtherOrigin = errors.New("refusing to send the token to another origin")

// Base checks an API root and returns it without a trailing slash. It must
// be an absolute URL without userinfo, query or fragment, over https:
// every request carries a bearer token. Plain http is accepted only
// towards a loopback host and only with allowInsecureHTTP (tests, local
// fakes). The error says what is wrong, never more than the scheme.
func Base(raw string, allowInsecureHTTP bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("BaseURL must be an absolute URL without userinfo, query or fragment")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopback(u.Hostname()) && allowInsecureHTTP:
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return "", errors.New("BaseURL is plain http: set AllowInsecureHTTP to call a loopback fake")
	default:
		return "", errors.New("BaseURL must use https (plain http only to a loopback host, with AllowInsecureHTTP)")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// IsLoopback reports whether host is "localhost" or a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DefaultPort is the port a URL without one uses.
func DefaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// CheckPath refuses an API path that does not start with prefix or that
// carries a query, escapes or dot segments, so a caller's path cannot leave
// the API's namespace.
func CheckPath(path, prefix string) error {
	if !strings.HasPrefix(path, prefix) || strings.ContainsAny(path, "?#%\\") || strings.Contains(path, "..") {
		return fmt.Errorf("path must start with %s and carry no query, escapes or dot segments", prefix)
	}
	return nil
}

// Sanitize keeps only printable ASCII without '"' and '\' (the characters
// RFC 6749 Appendix A allows in error descriptions, as the root package
// does) and at most n of them, trimmed of spaces, so provider text cannot
// carry markup quotes, control bytes, terminal escapes or Unicode
// look-alikes into logs or pages. Callers still escape on output.
func Sanitize(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// Opaque reports whether s is a usable provider id: 1 to n printable ASCII
// characters without spaces, quotes or backslashes.
func Opaque(s string, n int) bool {
	return s != "" && len(s) <= n && Sanitize(s, n) == s && !strings.Contains(s, " ")
}

// BadGateway returns a sentinel error whose HTTPStatus is 502, for a
// provider package's "the provider failed" errors: the root package's
// HTTPStatus, and so the Connector's error page, answer 502 for anything
// that wraps it.
func BadGateway(msg string) error { return &badGateway{msg} }

type badGateway struct{ msg string }

func (e *badGateway) Error() string { return e.msg }

// HTTPStatus is 502: the provider failed, or refused our credentials;
// nothing the user can fix.
func (*badGateway) HTTPStatus() int { return http.StatusBadGateway }
