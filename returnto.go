package oauthlink

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds the return-to path; the flow cookie must stay under
// the browser's 4096-byte limit.
const maxReturnTo = 2048

// validReturnTo reports whether s is a safe post-connect destination: a
// relative path on the app's own host (security.md E16). It requires
// exactly one leading '/', and rejects "//" and "/\" (protocol-relative to
// browsers), backslashes anywhere, control characters and non-ASCII bytes
// (browsers strip tabs and newlines and fold look-alikes such as U+FF0F),
// a scheme, a host or userinfo, and the same tricks hidden behind one level
// of percent-encoding. The empty string is not valid; callers default it to
// "/".
func validReturnTo(s string) bool {
	if len(s) == 0 || len(s) > maxReturnTo || s[0] != '/' {
		return false
	}
	if !safePathBytes(s) {
		return false
	}
	// One leading '/' not followed by '/' or '\\' leaves no room for a
	// scheme, a host or userinfo (RFC 3986 §4.2: an absolute-path
	// reference); FuzzReturnTo checks that browsers agree.
	path, _, _ := strings.Cut(s, "?")
	dec, err := url.PathUnescape(path)
	return err == nil && safePathBytes(dec)
}

func safePathBytes(s string) bool {
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
