package mollie

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Canary credentials: no error, page or log may ever contain them.
const (
	orgToken      = "access_CANARYorgTokenXYZ"
	merchantToken = "access_CANARYmerchantTokenXYZ"
)

// answer is one scripted response of the fake.
type answer struct {
	status int
	header map[string]string
	body   string
}

// fakeMollie plays Mollie's REST API for this package's tests: client links
// (organization token), organizations/me and onboarding/me (merchant
// token). The shared fake in oauthlinktest covers the whole flow.
type fakeMollie struct {
	srv *httptest.Server

	mu      sync.Mutex
	calls   map[string]int        // "METHOD path" -> count
	bodies  []map[string]any      // client-link bodies received
	queries []string              // raw queries received on GETs
	script  map[string][]answer   // "METHOD path" -> queued answers
	auths   []string              // Authorization headers seen
	ids     int                   // client links created
	hook    func(r *http.Request) // runs first on every request
}

func newFake(t *testing.T) *fakeMollie {
	t.Helper()
	f := &fakeMollie{calls: map[string]int{}, script: map[string][]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMollie) URL() string { return f.srv.URL }

// queue scripts the next answers for "METHOD path".
func (f *fakeMollie) queue(route string, a ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[route] = append(f.script[route], a...)
}

func (f *fakeMollie) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[route]
}

func (f *fakeMollie) authsSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

func (f *fakeMollie) lastBody() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

func (f *fakeMollie) serve(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.calls[route]++
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	hook := f.hook
	var next *answer
	if q := f.script[route]; len(q) > 0 {
		next, f.script[route] = &q[0], q[1:]
	}
	f.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	if next != nil {
		for k, v := range next.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(next.status)
		io.WriteString(w, next.body)
		return
	}
	switch route {
	case "POST /v2/client-links":
		f.clientLinks(w, r)
	case "GET /v2/organizations/me":
		if f.bearer(w, r, merchantToken) {
			f.recordQuery(r)
			halJSON(w, http.StatusOK, `{"resource":"organization","id":"org_12345678","name":"Shop B.V.","email":"owner@shop.example",
				"address":{"streetAndNumber":"Keizersgracht 126","postalCode":"1015 CW","city":"Amsterdam","country":"NL"},
				"_links":{"dashboard":{"href":"https://my.mollie.com/dashboard/org_12345678","type":"text/html"}}}`)
		}
	case "GET /v2/onboarding/me":
		if f.bearer(w, r, merchantToken) {
			f.recordQuery(r)
			halJSON(w, http.StatusOK, `{"resource":"onboarding","name":"Shop B.V.","signedUpAt":"2018-12-20T10:49:08+00:00",
				"status":"needs-data","canReceivePayments":true,"canReceiveSettlements":false,
				"_links":{"dashboard":{"href":"https://my.mollie.com/dashboard/onboarding","type":"text/html"}}}`)
		}
	case "GET /v2/profiles":
		if f.bearer(w, r, merchantToken) {
			f.recordQuery(r)
			halJSON(w, http.StatusOK, `{"count":0,"_embedded":{"profiles":[]}}`)
		}
	default:
		halJSON(w, http.StatusNotFound, `{"status":404,"title":"Not Found","detail":"No such endpoint"}`)
	}
}

func (f *fakeMollie) recordQuery(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.URL.RawQuery)
}

func (f *fakeMollie) lastQuery() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) == 0 {
		return "<none>"
	}
	return f.queries[len(f.queries)-1]
}

// bearer answers 401 in Mollie's shape unless the request carries want.
func (f *fakeMollie) bearer(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Header.Get("Authorization") != "Bearer "+want {
		halJSON(w, http.StatusUnauthorized, `{"status":401,"title":"Unauthorized Request","detail":"Missing authentication, or failed to authenticate",
			"_links":{"documentation":{"href":"https://docs.mollie.com/overview/authentication","type":"text/html"}}}`)
		return false
	}
	return true
}

// clientLinks answers 201 with an href that already carries a query, as
// Mollie's hrefs may.
func (f *fakeMollie) clientLinks(w http.ResponseWriter, r *http.Request) {
	if !f.bearer(w, r, orgToken) {
		return
	}
	var body map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
		halJSON(w, http.StatusUnprocessableEntity, `{"status":422,"title":"Unprocessable Entity","detail":"The request body is invalid"}`)
		return
	}
	if _, ok := body["owner"]; !ok {
		halJSON(w, http.StatusUnprocessableEntity, `{"status":422,"title":"Unprocessable Entity","detail":"The 'owner' field is missing","field":"owner"}`)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.ids++
	id := fmt.Sprintf("cl_fake%d", f.ids)
	f.mu.Unlock()
	halJSON(w, http.StatusCreated, `{"resource":"client-link","id":"`+id+`",
		"_links":{"clientLink":{"href":"https://my.mollie.com/dashboard/client-link/`+id+`?lang=nl&x=a%20b","type":"text/html"},
		"self":{"href":"https://api.mollie.com/v2/client-links/`+id+`","type":"application/hal+json"},
		"documentation":{"href":"https://docs.mollie.com/reference/create-client-link","type":"text/html"}}}`)
}

func halJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/hal+json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// validRequest is a request every check accepts.
func validRequest() ClientLinkRequest {
	return ClientLinkRequest{
		OrganizationOwner:  OrganizationOwner{Email: "owner@shop.example", GivenName: "Anna", FamilyName: "de Vries", Locale: "nl_NL"},
		Name:               "Shop B.V.",
		Address:            Address{StreetAndNumber: "Keizersgracht 126", PostalCode: "1015 CW", City: "Amsterdam", Country: "NL"},
		RegistrationNumber: "30204462", VATNumber: "NL815839091B01",
		LegalEntity: "nl-bv", IncorporationDate: "2018-12-20",
	}
}
