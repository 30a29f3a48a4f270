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
	// Scopes onboarding.read onboarding.write organizations.read,
	// Hooks.Identify: mollie.Identify(mollie.Client{}), and Hooks.OnError,
	// which also gets every failure of the client-link handler.

	partner, err := mollie.NewTokenClient(store.Secret(os.Getenv("MOLLIE_ORG_TOKEN")), mollie.Client{})
	if err != nil {
		log.Fatal(err)
	}
	build := func(r *http.Request) (mollie.ClientLinkRequest, error) {
		f := r.PostForm // parsed by the handler
		if f.Get("terms") != "on" {
			// 422; the default error page names the field.
			return mollie.ClientLinkRequest{}, &mollie.ValidationError{Field: "terms", Reason: "must be accepted"}
		}
		return mollie.ClientLinkRequest{
			OrganizationOwner: mollie.OrganizationOwner{Email: f.Get("email"), GivenName: f.Get("given_name"), FamilyName: f.Get("family_name")},
			Name:              f.Get("company"),
			Address:           mollie.Address{Country: strings.ToUpper(f.Get("country"))},
		}, nil
	}
	h, err := mollie.NewClientLinkHandler(conn, partner, build, mollie.ClientLinkOptions{
		ClientID: os.Getenv("MOLLIE_CLIENT_ID"), // the same as oauthlink.Config.ClientID
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /connect/mollie/signup", h) // behind the app's login and CSRF middleware
	mux.Handle("GET /connect/mollie/callback", conn.CallbackHandler())
}

// A connected merchant's onboarding, read with the Connector's client: the
// merchant's token is refreshed when it expires, and once more (with one
// retry) when Mollie answers 401.
func ExampleClient_Onboarding() {
	var conn *oauthlink.Connector // from oauthlink.New with mollie.Provider()
	var r *http.Request           // the app's request; owner is its platform account
	owner := "shop-1"

	api := &mollie.Client{HTTPClient: conn.Client(owner)}
	st, err := api.Onboarding(r.Context())
	switch {
	case errors.Is(err, oauthlink.ErrReauthRequired):
		// Send the owner to connect again.
	case err != nil:
		log.Print(err)
	case st.Status != mollie.OnboardingCompleted && st.DashboardURL != "":
		// Send the merchant to st.DashboardURL to finish onboarding.
	}
}
