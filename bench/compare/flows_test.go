package compare_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// tokenCall is what the fake token endpoint saw.
type tokenCall struct {
	method, url string
	user, pass  string
	basic       bool
	form        url.Values
}

// recordingEndpoint records each token request, then answers as
// tokenEndpoint does.
type recordingEndpoint struct {
	mu    sync.Mutex
	calls []tokenCall
}

func (e *recordingEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	_ = r.Body.Close()
	form, _ := url.ParseQuery(string(body))
	user, pass, basic := r.BasicAuth()
	e.mu.Lock()
	e.calls = append(e.calls, tokenCall{method: r.Method, url: r.URL.String(), user: user, pass: pass, basic: basic, form: form})
	e.mu.Unlock()
	r.Body = http.NoBody
	return tokenEndpoint{}.RoundTrip(r)
}

func (e *recordingEndpoint) take() []tokenCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.calls
	e.calls = nil
	return c
}

// TestSameWork checks, for every library, that the benchmarks' flows do
// what the benchmark names claim: the same authorization request, a state
// cookie, one token request with the same client authentication and
// parameters (and a verifier matching the challenge where PKCE is on), the
// same success response, and a bad state refused before the token endpoint.
func TestSameWork(t *testing.T) {
	for _, lc := range libs {
		t.Run(lc.name, func(t *testing.T) {
			ep := &recordingEndpoint{}
			l := lc.new(t, &http.Client{Transport: ep})

			state, cookies, loc := startFlow(t, l, "shop-1")
			q := loc.Query()
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != authURL {
				t.Errorf("authorization endpoint %s, want %s", got, authURL)
			}
			for k, want := range map[string]string{"client_id": clientID, "redirect_uri": redirectURL,
				"response_type": "code", "scope": strings.Join(scopes, " ")} {
				if got := q.Get(k); got != want {
					t.Errorf("authorization %s=%q, want %q", k, got, want)
				}
			}
			challenge := q.Get("code_challenge")
			if l.pkce != (challenge != "") || (l.pkce && q.Get("code_challenge_method") != "S256") {
				t.Errorf("PKCE: challenge %q method %q, want PKCE=%v with S256", challenge, q.Get("code_challenge_method"), l.pkce)
			}
			if len(cookies) == 0 {
				t.Fatal("start set no cookie")
			}
			for _, c := range cookies {
				if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 {
					t.Errorf("cookie %s: HttpOnly=%v Secure=%v SameSite=%v MaxAge=%d", c.Name, c.HttpOnly, c.Secure, c.SameSite, c.MaxAge)
				}
				t.Logf("cookie %s: %d bytes, value contains state in clear: %v", c.Name, len(c.String()), strings.Contains(c.Value, state))
			}
			if len(ep.take()) != 0 {
				t.Fatal("start called the token endpoint")
			}

			rec := httptest.NewRecorder()
			l.callback.ServeHTTP(rec, callbackRequest(l, "shop-1", state, cookies))
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Fatalf("callback: %d to %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
			calls := ep.take()
			if len(calls) != 1 {
				t.Fatalf("callback made %d token requests, want 1", len(calls))
			}
			c := calls[0]
			if c.method != http.MethodPost || c.url != tokenURL {
				t.Errorf("token request %s %s", c.method, c.url)
			}
			if !c.basic || c.user != clientID || c.pass != clientSecret || c.form.Has("client_secret") {
				t.Errorf("client authentication: basic=%v user=%q secret in body=%v", c.basic, c.user, c.form.Has("client_secret"))
			}
			for k, want := range map[string]string{"grant_type": "authorization_code", "code": "auth_bench", "redirect_uri": redirectURL} {
				if got := c.form.Get(k); got != want {
					t.Errorf("token request %s=%q, want %q", k, got, want)
				}
			}
			if l.pkce {
				sum := sha256.Sum256([]byte(c.form.Get("code_verifier")))
				if base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
					t.Errorf("code_verifier %q does not match the challenge", c.form.Get("code_verifier"))
				}
			}

			_, cookies, _ = startFlow(t, l, "shop-1")
			rec = httptest.NewRecorder()
			l.callback.ServeHTTP(rec, callbackRequest(l, "shop-1", badState, cookies))
			if rec.Code < 400 {
				t.Errorf("bad state: status %d, want a refusal", rec.Code)
			}
			if n := len(ep.take()); n != 0 {
				t.Errorf("bad state: %d token requests, want 0", n)
			}
		})
	}
}
