package oauthlink

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidReturnTo(t *testing.T) {
	good := []string{"/", "/dashboard", "/a/b?c=d&e=%2F", "/settings#x", "/%7Euser", "/a@b"}
	bad := []string{
		"", "dashboard", "//evil", "//evil.example/x", "/\\evil", "/%09/evil", "/\t/evil", "/\n/evil",
		"https:evil", "https://evil", "javascript:alert(1)", "https://app.example.com.evil",
		"https://app@evil", "\uff0fevil", "/\uff0fevil", "/%2F/evil", "/%5Cevil", "/%5C%5Cevil",
		"/a\\b", " /x", "/x y", "/\x7f", "/" + strings.Repeat("a", 3000), "/%zz",
	}
	for _, s := range good {
		assert.True(t, validReturnTo(s), "%q should be accepted", s)
	}
	for _, s := range bad {
		assert.False(t, validReturnTo(s), "%q should be rejected", s)
	}
}

// FuzzReturnTo checks that whatever validReturnTo accepts resolves, as a
// browser would resolve a Location header, to the app's own origin.
func FuzzReturnTo(f *testing.F) {
	for _, s := range []string{"/", "//evil", "/\\evil", "/%09/evil", "https:evil", "/a?b=//c", "/\uff0f"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example.com/connect/mollie/callback")
	f.Fuzz(func(t *testing.T, s string) {
		if !validReturnTo(s) {
			return
		}
		// Browsers drop tabs and newlines and treat '\' as '/'.
		norm := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(s)
		u, err := base.Parse(norm)
		if err != nil {
			t.Fatalf("accepted %q that does not parse", s)
		}
		if u.Host != base.Host || u.Scheme != base.Scheme || u.User != nil {
			t.Fatalf("accepted %q resolving to %s", s, u)
		}
	})
}
