package oauthlink_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/store"
)

// orgID asks the fake Mollie API for the organization of whoever client
// calls as.
func orgID(ctx context.Context, client *http.Client, apiURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/v2/organizations/me", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var org struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&org); err != nil {
		return "", err
	}
	return org.ID, nil
}

// One client built at start-up calls the API as the owner of each request
// that reaches it through RequireConnection.
func TestContextClientCallsAsTheRequestsOwner(t *testing.T) {
	e := newEnv(t)
	link := e.links["mollie"]
	shared := link.ContextClient(nil) // built once, like an SDK client at start-up
	e.mux.Handle("/orgs", link.RequireConnection("/connect/mollie")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := orgID(r.Context(), shared, e.mollie.APIURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.WriteString(w, id)
	})))

	want := map[string]string{}
	for _, user := range []string{"alice", "bob"} {
		require.Equal(t, http.StatusSeeOther, e.browser(user).connect("mollie", "").Status)
		id, err := orgID(t.Context(), link.Client(user), e.mollie.APIURL())
		require.NoError(t, err)
		want[user] = id
	}
	require.NotEqual(t, want["alice"], want["bob"])
	for _, user := range []string{"alice", "bob", "alice"} {
		h := e.browser(user).get(e.app.URL + "/orgs")
		require.Equal(t, http.StatusOK, h.Status, h.Body)
		assert.Equal(t, want[user], h.Body, user)
	}
}

type jobOwnerKey struct{}

// Outside a request (a background job) the owner function reads the
// app's own context key.
func TestContextClientWithAnOwnerFunction(t *testing.T) {
	e := newEnv(t)
	link := e.links["mollie"]
	require.Equal(t, http.StatusSeeOther, e.browser("carol").connect("mollie", "").Status)
	want, err := orgID(t.Context(), link.Client("carol"), e.mollie.APIURL())
	require.NoError(t, err)

	client := link.ContextClient(func(ctx context.Context) (string, error) {
		owner, _ := ctx.Value(jobOwnerKey{}).(string)
		return owner, nil
	})
	got, err := orgID(context.WithValue(t.Context(), jobOwnerKey{}, "carol"), client, e.mollie.APIURL())
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = orgID(context.WithValue(t.Context(), jobOwnerKey{}, "dave"), client, e.mollie.APIURL())
	assert.ErrorIs(t, err, store.ErrNotFound, "dave never connected")
}

// A request whose context names no usable owner fails before anything is
// sent, with the reason.
func TestContextClientRefusesWithoutAnOwner(t *testing.T) {
	e := newEnv(t)
	link := e.links["mollie"]
	require.Equal(t, http.StatusSeeOther, e.browser("erin").connect("mollie", "").Status)
	boom := errors.New("no session")
	ownerless := func(ctx context.Context) (string, error) { return "", nil }
	failing := func(ctx context.Context) (string, error) { return "", boom }
	invalid := func(ctx context.Context) (string, error) { return "a\x00b", nil }

	// LoadConnection never rejects: its error travels to the client.
	var fromLoad error
	loadMux := link.LoadConnection(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, fromLoad = orgID(r.Context(), link.ContextClient(nil), e.mollie.APIURL())
	}))
	anon, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
	require.NoError(t, err)
	loadMux.ServeHTTP(httptest.NewRecorder(), anon)

	before := e.mollie.Calls(oauthlinktest.EndpointAPI)
	for _, tc := range []struct {
		name string
		run  func() error
		want []error
	}{
		{"no middleware", func() error {
			_, err := orgID(t.Context(), link.ContextClient(nil), e.mollie.APIURL())
			return err
		}, []error{oauthlink.ErrNoOwner}},
		{"nobody signed in at LoadConnection", func() error { return fromLoad }, []error{oauthlink.ErrNoOwner}},
		{"empty owner", func() error {
			_, err := orgID(t.Context(), link.ContextClient(ownerless), e.mollie.APIURL())
			return err
		}, []error{oauthlink.ErrNoOwner}},
		{"owner function fails", func() error {
			_, err := orgID(t.Context(), link.ContextClient(failing), e.mollie.APIURL())
			return err
		}, []error{oauthlink.ErrNoOwner, boom}},
		{"invalid owner", func() error {
			_, err := orgID(t.Context(), link.ContextClient(invalid), e.mollie.APIURL())
			return err
		}, []error{oauthlink.ErrInvalidOwner}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorIs(t, err, w)
			}
		})
	}
	assert.Equal(t, before, e.mollie.Calls(oauthlinktest.EndpointAPI), "nothing reached the API")
}

// The origin pinning is Client's: another host, or plain http to the https
// API, gets no token.
func TestContextClientPinsTheAPIOrigin(t *testing.T) {
	e := newEnv(t)
	link := e.links["mollie"]
	require.Equal(t, http.StatusSeeOther, e.browser("frank").connect("mollie", "").Status)
	other := newAPIRecorder(t, true)
	client := link.ContextClient(func(context.Context) (string, error) { return "frank", nil })
	for _, target := range []string{other.srv.URL + "/v2/organizations/me", "http://" + e.mollie.APIURL()[len("https://"):] + "/v2/organizations/me"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
		require.NoError(t, err)
		_, err = client.Do(req)
		assert.ErrorIs(t, err, oauthlink.ErrBadRequest, target)
	}
	assert.Empty(t, other.received())
}

// A 401 from the API makes the context client refresh once and retry, as
// Client does.
func TestContextClientRepairsA401(t *testing.T) {
	e := newEnv(t)
	link := e.links["mollie"]
	require.Equal(t, http.StatusSeeOther, e.browser("gina").connect("mollie", "").Status)
	e.mollie.Fault(oauthlinktest.EndpointAPI, oauthlinktest.Fault{Status: http.StatusUnauthorized})
	client := link.ContextClient(func(context.Context) (string, error) { return "gina", nil })
	before := e.mollie.Refreshes()
	id, err := orgID(t.Context(), client, e.mollie.APIURL())
	require.NoError(t, err)
	assert.NotEmpty(t, id)
	assert.Equal(t, before+1, e.mollie.Refreshes())
}
