package qonto_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// newConnector builds a Qonto connector for the examples.
func newConnector(authParams func(*http.Request) (url.Values, error)) *oauthlink.Connector {
	conn, err := oauthlink.New(oauthlink.Config{
		Provider:      qonto.Provider(qonto.Options{}),
		ClientID:      "0d8d6a6c-1c1b-4c57-9a1e-2f1f5f5c6b7a",
		ClientSecret:  "example-secret",
		RedirectURL:   "https://platform.example/connect/qonto/callback",
		Store:         memstore.New(),
		Owner:         func(*http.Request) (string, error) { return "user-1", nil }, // the app's session user
		CookieSecrets: [][]byte{[]byte("an example key of 32 bytes......")},
		Flow:          oauthlink.FlowOptions{AuthParams: authParams},
	})
	if err != nil {
		log.Fatal(err)
	}
	return conn
}

// Start one flow from the app's own handler with the registration id of a
// finished partner onboarding registration.
func Example_begin() {
	conn := newConnector(nil)

	// In the app, w and r are the handler's.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/connect/qonto", nil)

	params, err := qonto.WithRegistration("a584b060-8c96-488d-8bbb-74f0d3d2803c")
	if err != nil {
		log.Fatal(err)
	}
	flow, err := conn.Begin(w, r, oauthlink.BeginOptions{Params: params, ReturnTo: "/settings/banking"})
	if err != nil {
		log.Fatal(err)
	}
	http.Redirect(w, r, flow.AuthURL.Reveal(), http.StatusSeeOther)

	u, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(u.Host + u.Path)
	fmt.Println("registration_id:", u.Query().Get("registration_id"))
	fmt.Println("scope:", u.Query().Get("scope"))
	// Output:
	// oauth.qonto.com/oauth2/auth
	// registration_id: a584b060-8c96-488d-8bbb-74f0d3d2803c
	// scope: organization.read offline_access
}

// Send organization_id on every start request through Config.AuthParams;
// the connector's StartHandler calls it per request.
func Example_authParams() {
	conn := newConnector(func(r *http.Request) (url.Values, error) {
		id := r.URL.Query().Get("org") // in an app: looked up for the session user
		if id == "" {
			return nil, nil // the user picks the organization at Qonto
		}
		return qonto.WithOrganization(id)
	})
	start := conn.StartHandler()

	w := httptest.NewRecorder()
	start.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/connect/qonto?org=1ACF250C-A068-47FA-AE9D-032B85C148DC", nil))
	u, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, "organization_id:", u.Query().Get("organization_id"))

	w = httptest.NewRecorder()
	start.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/connect/qonto?org=not-a-uuid", nil))
	fmt.Println(w.Code)
	// Output:
	// 303 organization_id: 1acf250c-a068-47fa-ae9d-032b85c148dc
	// 400
}

func ExampleWithRegistration() {
	params, err := qonto.WithRegistration("a584b060-8c96-488d-8bbb-74f0d3d2803c")
	fmt.Println(params.Encode(), err)
	_, err = qonto.WithRegistration("a584b060")
	fmt.Println(err)
	// Output:
	// registration_id=a584b060-8c96-488d-8bbb-74f0d3d2803c <nil>
	// qonto: id must be a UUID: registration_id
}

// Record the organization id when connecting, and read the organization
// later as the connected owner.
func ExampleIdentify() {
	provider := qonto.Provider(qonto.Options{Sandbox: true, StagingToken: os.Getenv("QONTO_STAGING_TOKEN")})
	conn, err := oauthlink.New(oauthlink.Config{
		Provider:      provider,
		ClientID:      os.Getenv("QONTO_CLIENT_ID"),
		ClientSecret:  os.Getenv("QONTO_CLIENT_SECRET"),
		RedirectURL:   "https://platform.example/connect/qonto/callback",
		Store:         memstore.New(),
		Owner:         func(*http.Request) (string, error) { return "user-1", nil },
		CookieSecrets: [][]byte{[]byte("an example key of 32 bytes......")},
		// Connection.AccountID = the organization id; the sandbox needs its header.
		Hooks: oauthlink.Hooks{Identify: qonto.Identify(qonto.Client{BaseURL: provider.APIURL}, provider.Header)},
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		api := &qonto.Client{HTTPClient: conn.Client("user-1"), BaseURL: provider.APIURL}
		org, err := api.Organization(r.Context())
		switch {
		case errors.Is(err, oauthlink.ErrReauthRequired), errors.Is(err, store.ErrNotFound):
			http.Redirect(w, r, "/connect/qonto", http.StatusSeeOther) // (re)connect
		case err != nil:
			http.Error(w, "Qonto is unavailable right now", http.StatusBadGateway)
		default:
			fmt.Fprintln(w, org.LegalName)
		}
	}
	_ = handler
}
