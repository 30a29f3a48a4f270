package oauthlink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// slotCookie carries the slot a start chose to its callback. It is scoped
// to the callback's path and lives as long as a flow may.
const slotCookie = "mollie-slot"

var validSlot = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// accountsOwner is the Config.Owner of an app that links several Mollie
// organizations to one user: the owner key is user + "/" + slot. The
// slot comes from the route ({slot} in /connect/mollie/{slot},
// /shops/{slot}/...) and, on the callback, whose URL is fixed, from the
// cookie rememberSlot set at the start. User ids never contain "/".
func accountsOwner(r *http.Request) (string, error) {
	user := r.Header.Get("X-User") // your session's user id
	if user == "" || strings.Contains(user, "/") {
		return "", errors.New("not signed in")
	}
	slot := r.PathValue("slot")
	if slot == "" {
		if c, err := r.Cookie(slotCookie); err == nil {
			slot = c.Value
		}
	}
	if !validSlot.MatchString(slot) {
		return "", errors.New("no account slot")
	}
	return user + "/" + slot, nil
}

// rememberSlot wraps the start handler: it keeps the route's slot for
// the callback.
func rememberSlot(start http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: slotCookie, Value: r.PathValue("slot"), Path: "/connect/mollie/callback",
			MaxAge: 600, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		start.ServeHTTP(w, r)
	})
}

// Link several Mollie organizations to one platform user. The owner key is
// the app's own string, so composing it as user + "/" + slot gives each
// account its own connection, with every handler, the middleware, Client
// and Disconnect unchanged.
func Example_severalAccountsPerUser() {
	fake := oauthlinktest.NewMollie(oauthlinktest.MollieOptions{TLS: true})
	defer fake.Close()
	mux := http.NewServeMux()
	app := httptest.NewTLSServer(mux)
	defer app.Close()

	link, err := oauthlink.New(oauthlink.Config{
		Provider: fake.Provider(), ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: app.URL + "/connect/mollie/callback",
		Store:       memstore.New(), CookieSecrets: [][]byte{[]byte("replace with 32+ random bytes!!!!")},
		Owner:      accountsOwner,
		HTTPClient: fake.Client(),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("GET /connect/mollie/{slot}", rememberSlot(link.StartHandler()))
	mux.Handle("GET /connect/mollie/callback", link.CallbackHandler())
	mux.Handle("POST /connect/mollie/{slot}/disconnect", link.DisconnectHandler())
	shared := link.ContextClient(nil) // an SDK's client, built once
	mux.Handle("GET /shops/{slot}/organization", link.RequireConnection("/connect/mollie/eu")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, fake.APIURL()+"/v2/organizations/me", nil)
			resp, err := shared.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			var org struct{ ID string }
			json.NewDecoder(resp.Body).Decode(&org)
			fmt.Fprint(w, org.ID)
		})))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})

	// Alice links two organizations, one per slot.
	browser := newSignedInBrowser(app, "alice")
	for _, slot := range []string{"eu", "nl"} {
		fmt.Println("connect", slot+":", browser.follow(http.MethodGet, app.URL+"/connect/mollie/"+slot))
	}
	eu := browser.body(app.URL + "/shops/eu/organization")
	nl := browser.body(app.URL + "/shops/nl/organization")
	fmt.Println("two organizations:", eu != "" && nl != "" && eu != nl)

	// Disconnecting one slot leaves the other.
	fmt.Println("disconnect eu:", browser.follow(http.MethodPost, app.URL+"/connect/mollie/eu/disconnect"))
	_, errEU := link.Connection(context.Background(), "alice/eu")
	_, errNL := link.Connection(context.Background(), "alice/nl")
	fmt.Println("alice/eu connected:", errEU == nil, "alice/nl connected:", errNL == nil)
	// Output:
	// connect eu: 200
	// connect nl: 200
	// two organizations: true
	// disconnect eu: 200
	// alice/eu connected: false alice/nl connected: true
}

// signedInBrowser is a browser with a cookie jar whose requests carry the
// signed-in user (standing in for the app's session).
type signedInBrowser struct {
	client *http.Client
	user   string
}

func newSignedInBrowser(app *httptest.Server, user string) *signedInBrowser {
	jar, _ := cookiejar.New(nil)
	return &signedInBrowser{user: user, client: &http.Client{Jar: jar, Transport: app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// follow sends the request and follows redirects (through the fake's
// authorization page), returning the last status.
func (b *signedInBrowser) follow(method, target string) int {
	for range 10 {
		req, _ := http.NewRequest(method, target, nil)
		req.Header.Set("X-User", b.user)
		resp, err := b.client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return resp.StatusCode
		}
		method, target = http.MethodGet, loc.String()
	}
	return 0
}

func (b *signedInBrowser) body(target string) string {
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("X-User", b.user)
	resp, err := b.client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b2, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return string(b2)
}
