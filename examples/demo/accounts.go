package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/qonto"
)

// Account names and API trouble.
//
// The store keeps a connection's account id (Mollie "org_…", a Qonto
// UUID); people know their organization by name. The demo asks the
// provider's API for it, as the merchant, through Connector.Client (so a
// refused token takes the library's 401 path: one forced refresh, and
// reauth_required when the provider refuses that too), and remembers it
// for the life of the process.

// accountNames caches organization names by provider and account id.
type accountNames struct {
	mu sync.Mutex
	m  map[[2]string]string
}

func newAccountNames() *accountNames { return &accountNames{m: map[[2]string]string{}} }

// get returns the account's name, "" when unknown or nameless.
func (n *accountNames) get(provider, id string) string {
	name, _ := n.lookup(provider, id)
	return name
}

// lookup returns the account's name and whether the provider was asked
// (a nameless organization is known too).
func (n *accountNames) lookup(provider, id string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	name, ok := n.m[[2]string{provider, id}]
	return name, ok
}

func (n *accountNames) set(provider, id, name string) {
	if id == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m[[2]string{provider, id}] = name
}

// nameTimeout bounds the API call that reads an organization's name.
const nameTimeout = 5 * time.Second

// fetchAccount reads the owner's organization id and name from the
// provider's API, and remembers the name. A failure is recorded in
// apiTrouble and returned.
func (a *app) fetchAccount(ctx context.Context, p *provider, owner string) (id, name string, err error) {
	ctx, cancel := context.WithTimeout(ctx, nameTimeout)
	defer cancel()
	raw, err := p.organization(ctx, p.conn.Client(owner))
	if err != nil {
		a.apiTrouble.fail(p.name, owner, a.now(), err)
		return "", "", err
	}
	a.apiTrouble.ok(p.name, owner)
	id, name, err = parseOrganization(p.name, raw)
	if err != nil {
		return "", "", err
	}
	a.accounts.set(p.name, id, name)
	return id, name, nil
}

// parseOrganization reads the id and name from the organization JSON:
// Mollie's {"id","name"}, Qonto's {"organization":{"id","legal_name"}}.
func parseOrganization(provider string, raw json.RawMessage) (id, name string, err error) {
	switch provider {
	case "mollie":
		var o struct{ ID, Name string }
		err = json.Unmarshal(raw, &o)
		id, name = o.ID, o.Name
	case "qonto":
		var o struct {
			Organization struct {
				ID        string `json:"id"`
				LegalName string `json:"legal_name"`
			} `json:"organization"`
		}
		err = json.Unmarshal(raw, &o)
		id, name = o.Organization.ID, o.Organization.LegalName
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the %s organization: %w", provider, err)
	}
	return id, name, nil
}

// apiTrouble remembers, per connection, the last API call that failed
// (cleared by the next that succeeds), so the dashboard can say why a
// connection that looks active does not work.
type apiTrouble struct {
	mu sync.Mutex
	m  map[[2]string]troubleNote
}

type troubleNote struct {
	At   time.Time
	What string
}

func (t *apiTrouble) fail(provider, owner string, at time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[[2]string]troubleNote{}
	}
	t.m[[2]string{provider, owner}] = troubleNote{At: at, What: troubleText(err)}
}

func (t *apiTrouble) ok(provider, owner string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, [2]string{provider, owner})
}

func (t *apiTrouble) get(provider, owner string) (troubleNote, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.m[[2]string{provider, owner}]
	return n, ok
}

// troubleText says what went wrong in words, without provider text.
func troubleText(err error) string {
	var me *mollie.APIError
	var qe *qonto.APIError
	status := 0
	switch {
	case errors.Is(err, oauthlink.ErrReauthRequired):
		return "the provider refused the token and its refresh: reconnect"
	case errors.Is(err, oauthlink.ErrDisconnected):
		return "the connection is no longer active"
	case errors.As(err, &me):
		status = me.StatusCode
	case errors.As(err, &qe):
		status = qe.StatusCode
	case errors.Is(err, oauthlink.ErrRefresh):
		return "the token could not be refreshed"
	case errors.Is(err, context.DeadlineExceeded):
		return "the provider did not answer in time"
	default:
		return "the provider could not be reached"
	}
	if status == http.StatusUnauthorized {
		return "the provider answered 401 (token refused) even after a refresh"
	}
	return fmt.Sprintf("the provider answered %d", status)
}
