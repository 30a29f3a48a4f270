package oauthlink_test

import (
	"fmt"
	"log"
	"net/http"

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
	fmt.Println(link.Scopes())
	// Output: [organizations.read onboarding.read]
}

func ExampleValidReturnTo() {
	for _, s := range []string{"/settings?tab=1", "//evil.example", "/\\evil", "https://evil.example"} {
		fmt.Println(s, oauthlink.ValidReturnTo(s))
	}
	// Output:
	// /settings?tab=1 true
	// //evil.example false
	// /\evil false
	// https://evil.example false
}
