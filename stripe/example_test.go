package stripe_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/stripe"
)

// Connect a Standard account, sending a known user to Stripe's login page
// with their email prefilled.
func Example() {
	conn, err := oauthlink.New(oauthlink.Config{
		Provider:      stripe.Provider(),
		ClientID:      "ca_examplePlatform",       // the platform's client_id
		ClientSecret:  "sk_test_exampleSecretKey", // the platform's secret key
		RedirectURL:   "https://platform.example/connect/stripe/callback",
		Store:         memstore.New(),
		Owner:         func(*http.Request) (string, error) { return "user-1", nil }, // the app's session user
		CookieSecrets: [][]byte{[]byte("an example key of 32 bytes......")},
	})
	if err != nil {
		log.Fatal(err)
	}

	// In the app, w and r are the handler's.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/connect/stripe", nil)
	flow, err := conn.Begin(w, r, oauthlink.BeginOptions{Params: url.Values{
		stripe.ParamStripeLanding:     {"login"},
		stripe.ParamPrefix + "email]": {"owner@shop.example"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(flow.AuthURL.Reveal())
	fmt.Println(u.Host + u.Path)
	fmt.Println("scope:", u.Query().Get("scope"))
	fmt.Println("stripe_landing:", u.Query().Get("stripe_landing"))
	fmt.Println("stripe_user[email]:", u.Query().Get("stripe_user[email]"))
	// After the callback, Connection.AccountID is the stripe_user_id, and
	// conn.Disconnect deauthorizes that account.
	// Output:
	// connect.stripe.com/oauth/authorize
	// scope: read_write
	// stripe_landing: login
	// stripe_user[email]: owner@shop.example
}
