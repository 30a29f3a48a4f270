package oauthlinktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// A complete Mollie connect flow with plain net/http: the browser step at
// the fake's authorization endpoint, then the code exchange your callback
// handler makes.
func Example() {
	const callback = "https://app.example.test/connect/mollie/callback"
	f := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{RedirectURIs: []string{callback}})
	defer f.Close()

	// The browser: open the authorization URL your app redirects to and
	// stop at the redirect back to the app.
	auth := url.Values{
		"client_id":     {f.ClientID()},
		"response_type": {"code"},
		"redirect_uri":  {callback},
		"scope":         {"organizations.read onboarding.read"},
		"state":         {"a-random-state-value"},
	}
	browser := *f.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(f.AuthURL() + "?" + auth.Encode())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	back, _ := resp.Location()
	fmt.Println("state echoed:", back.Query().Get("state") == "a-random-state-value")

	// The callback handler: exchange the code at once (Mollie codes live
	// 30 seconds), with Basic client authentication.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {callback}}
	req, _ := http.NewRequest(http.MethodPost, f.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.ClientID(), f.ClientSecret())
	resp, err = f.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	// Mollie labels the JSON text/html: decode it regardless.
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		panic(err)
	}
	fmt.Println("content type:", resp.Header.Get("Content-Type"))
	fmt.Println("access token:", strings.HasPrefix(tok.AccessToken, "access_"), "expires in", tok.ExpiresIn)
	fmt.Println("valid:", f.AccessTokenValid(tok.AccessToken), "exchanges:", f.Exchanges())
	// Output:
	// state echoed: true
	// content type: text/html
	// access token: true expires in 3600
	// valid: true exchanges: 1
}

// Qonto (Ory Hydra) rotates refresh tokens; presenting a rotated one after
// the grace window revokes the whole grant.
func ExampleNewQonto() {
	const callback = "https://app.example.test/connect/qonto/callback"
	f := oauthlinktest.NewQonto(oauthlinktest.QontoOptions{
		RedirectURIs: []string{callback},
		Grace:        oauthlinktest.NoGrace,
	})
	defer f.Close()

	auth := url.Values{
		"client_id":     {f.ClientID()},
		"response_type": {"code"},
		"redirect_uri":  {callback},
		"scope":         {"offline_access organization.read"},
		"state":         {"a-random-state-value"},
	}
	back, err := f.Authorize(context.Background(), f.AuthURL()+"?"+auth.Encode())
	if err != nil {
		panic(err)
	}
	token := func(form url.Values) (status int, refresh, oauthErr string) {
		form.Set("client_id", f.ClientID()) // Qonto: credentials in the body
		form.Set("client_secret", f.ClientSecret())
		resp, err := f.Client().PostForm(f.TokenURL(), form)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var body struct {
			RefreshToken string `json:"refresh_token"`
			Error        string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			panic(err)
		}
		return resp.StatusCode, body.RefreshToken, body.Error
	}
	_, first, _ := token(url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {callback}})
	_, second, _ := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}})
	fmt.Println("rotated:", second != first)

	status, _, oauthErr := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}})
	fmt.Println("reuse:", status, oauthErr)
	fmt.Println("newest token still valid:", f.RefreshTokenValid(second), "reuse detections:", f.ReuseDetections())
	// Output:
	// rotated: true
	// reuse: 400 invalid_grant
	// newest token still valid: false reuse detections: 1
}

// Scripted faults test how a client copes with a failing provider: here
// two 503 answers with Retry-After before the revocation succeeds.
func ExampleMollie_Fault() {
	f := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{})
	defer f.Close()
	f.Fault(oauthlinktest.EndpointRevoke,
		oauthlinktest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "1"},
		oauthlinktest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "1"},
	)
	for range 3 {
		req, _ := http.NewRequest(http.MethodDelete, f.RevokeURL(),
			strings.NewReader(url.Values{"token": {"refresh_unknown"}, "token_type_hint": {"refresh_token"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(f.ClientID(), f.ClientSecret())
		resp, err := f.Client().Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Output:
	// 503 1
	// 503 1
	// 204
}
