package tokenwire

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// BenchmarkParseTokenResponse parses the two shapes of answer the shipped
// providers send: the RFC 6749 §5.1 members only (Mollie) and with an
// extra member, an OpenID Connect id_token (Qonto), which fills Extra.
func BenchmarkParseTokenResponse(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"standard", `{"access_token":"access_bench","refresh_token":"refresh_bench","expires_in":3600,"token_type":"bearer","scope":"organizations.read"}`},
		{"extra", `{"access_token":"ory_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEF","refresh_token":"ory_rt_0123456789abcdefghijklmnopqrstuvwxyz","expires_in":3599,"token_type":"bearer","scope":"offline_access organization.read","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln"}`},
	} {
		body := []byte(bc.body)
		header := http.Header{"Content-Type": {"application/json"}}
		now := time.Unix(1_700_000_000, 0)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseTokenResponse(200, header, body, maxLifetime, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadTokenFields is what the hand-written scanner (scan.go)
// buys: splitting a token answer into its members, against the
// encoding/json way of doing the same (a map of raw members, then each
// string member decoded). The scanner is kept because the difference is a
// large share of the callback's own cost (see BENCHMARKS.md).
func BenchmarkReadTokenFields(b *testing.B) {
	body := []byte(`{"access_token":"ory_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEF","refresh_token":"ory_rt_0123456789abcdefghijklmnopqrstuvwxyz","expires_in":3599,"token_type":"bearer","scope":"offline_access organization.read","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2ln"}`)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, ok := readTokenFields(body)
			var access, refresh string
			if !ok || !jsonString(f.access, &access) || !jsonString(f.refresh, &refresh) {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]json.RawMessage
			var access, refresh string
			if json.Unmarshal(body, &m) != nil || json.Unmarshal(m["access_token"], &access) != nil ||
				json.Unmarshal(m["refresh_token"], &refresh) != nil {
				b.Fatal("not parsed")
			}
		}
	})
}
