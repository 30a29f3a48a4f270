package discovery

import (
	"net/http"
	"testing"
)

// FuzzFreshness: any Cache-Control and Age headers give a freshness that
// is never negative (the cache then keeps the document at least a minute).
func FuzzFreshness(f *testing.F) {
	for _, s := range [][2]string{{"max-age=300", ""}, {"public, max-age=60", "30"}, {"no-store", ""},
		{"max-age=99999999999999999999", "5"}, {`max-age="10"`, "-1"}, {"max-age", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cc, age string) {
		h := http.Header{}
		h.Set("Cache-Control", cc)
		h.Set("Age", age)
		d := freshness(h)
		if d < 0 {
			t.Fatalf("negative freshness %v for %q, Age %q", d, cc, age)
		}
	})
}
