package oauthlinktest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Authorize plays the user's browser on the fake's authorization page: it
// requests authURL (your app's redirect to this fake, with its query) and
// returns the callback URL the fake redirects to, with code and state, or
// error, error_description and state, without following it. On a fake with
// ConsentPage it clicks Approve. It fails if authURL is not this fake's
// authorization endpoint or the fake answers anything but a redirect (a
// 400 page for an unknown client or redirect_uri).
func (s *server) Authorize(ctx context.Context, authURL string) (*url.URL, error) {
	u, err := url.Parse(authURL)
	if err != nil || u.Scheme+"://"+u.Host != s.URL() || u.Path != s.cfg.authPath {
		return nil, fmt.Errorf("oauthlinktest: %q is not this fake's authorization endpoint %s", redactQuery(authURL), s.AuthURL())
	}
	client := *s.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && s.cfg.consentPage &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		form := u.Query()
		form.Set("decision", "approve")
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.AuthURL(), strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err = client.Do(req); err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, fmt.Errorf("oauthlinktest: authorization endpoint answered %d, not a redirect", resp.StatusCode)
	}
	return resp.Location()
}

func redactQuery(raw string) string {
	before, _, _ := strings.Cut(raw, "?")
	return before
}
