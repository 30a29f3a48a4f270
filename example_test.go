package oauthlink_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// Mount the handlers for Mollie in a ServeMux.
func ExampleNew() {
	link, err := oauthlink.New(oauthlink.Config{
		Provider:      mollie.Provider(),
		ClientID:      "app_yourClientId",
		ClientSecret:  "your-client-secret",
		RedirectURL:   "https://shop.example.com/connect/mollie/callback",
		Store:         memstore.New(),
		CookieSecrets: [][]byte{[]byte("replace with 32+ random bytes!!!!")},
		Owner: func(r *http.Request) (string, error) {
			return r.Header.Get("X-User"), nil // your session's user id
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /connect/mollie", link.StartHandler())
	mux.Handle("GET /connect/mollie/callback", link.CallbackHandler())
	mux.Handle("POST /connect/mollie/disconnect", link.DisconnectHandler())

	// A signed-in user who starts a flow is sent to Mollie's consent page.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "https://shop.example.com/connect/mollie", nil)
	r.Header.Set("X-User", "shop-1")
	mux.ServeHTTP(w, r)
	to, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, to.Host, to.Query().Get("scope"))
	// Output: 303 my.mollie.com organizations.read onboarding.read
}
