package mollie_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/oauthlink/oauthlink/store"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
)

func ExampleClientLinkURL() {
	// href is ClientLink.Href from CreateClientLink; state is the flow's
	// state from Connector.Begin.
	u, err := mollie.ClientLinkURL(
		"https://my.mollie.com/dashboard/client-link/cl_vZCnNQsV2UtfXxYifWKWH?lang=nl",
		"app_abc123qwerty", "opaque-state", []string{"onboarding.read", "onboarding.write"}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output:
	// https://my.mollie.com/dashboard/client-link/cl_vZCnNQsV2UtfXxYifWKWH?lang=nl&client_id=app_abc123qwerty&state=opaque-state&scope=onboarding.read%20onboarding.write
}

func ExampleNewClientLinkHandler() {
	var conn *oauthlink.Connector // from oauthlink.New with mollie.Provider(),
	// Scopes onboarding.read onboarding.write organizations.read and
	// Identify: mollie.Identify(mollie.APIURL, nil).

	partner := &mollie.Client{Token: store.Secret(os.Getenv("MOLLIE_ORG_TOKEN"))}
	build := func(r *http.Request) (mollie.ClientLinkRequest, error) {
		f := r.PostForm // parsed by the handler
		if f.Get("terms") != "on" {
			return mollie.ClientLinkRequest{}, &mollie.ValidationError{Field: "terms", Reason: "must be accepted"}
		}
		return mollie.ClientLinkRequest{
			Owner:   mollie.Owner{Email: f.Get("email"), GivenName: f.Get("given_name"), FamilyName: f.Get("family_name")},
			Name:    f.Get("company"),
			Address: mollie.Address{Country: strings.ToUpper(f.Get("country"))},
		}, nil
	}
	h, err := mollie.NewClientLinkHandler(conn, partner, build, mollie.ClientLinkOptions{
		ClientID: os.Getenv("MOLLIE_CLIENT_ID"), // the same as oauthlink.Config.ClientID
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			var ve *mollie.ValidationError
			if errors.As(err, &ve) {
				// Re-render the signup form with the message next to ve.Field.
				log.Printf("signup form: %s %s", ve.Field, ve.Reason)
			}
			mollie.DefaultClientLinkErrorHandler(w, r, err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /connect/mollie/signup", h) // behind the app's login and CSRF middleware
	mux.Handle("GET /connect/mollie/callback", conn.CallbackHandler())
}
