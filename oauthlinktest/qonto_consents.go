package oauthlinktest

import (
	"html/template"
	"net/http"
	"slices"
)

// QontoConsent is an organization that has authorized the fake's client
// and not revoked it: at least one of its grants is live.
type QontoConsent struct {
	OrganizationID, Name string
	// Scopes are the scopes of its grants, in the order first granted.
	Scopes []string
}

// Consents returns the organizations whose consent to the fake's client
// stands (a grant not revoked), ordered by name.
func (q *Qonto) Consents() []QontoConsent {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []QontoConsent
	for _, g := range q.grants {
		if g.revoked || g.account == nil || g.clientID != q.cfg.clientID {
			continue
		}
		i := slices.IndexFunc(out, func(c QontoConsent) bool { return c.OrganizationID == g.account.id })
		if i < 0 {
			out = append(out, QontoConsent{OrganizationID: g.account.id, Name: g.account.name})
			i = len(out) - 1
		}
		for _, s := range g.scopes {
			if !slices.Contains(out[i].Scopes, s) {
				out[i].Scopes = append(out[i].Scopes, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b QontoConsent) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		if a.OrganizationID < b.OrganizationID {
			return -1
		}
		return 1
	})
	return out
}

var consentsTmpl = template.Must(template.New("consents").Parse(pageHead + `<h1>Connected applications</h1>
{{with .Done}}<div id="revoked" role="status"><p><strong>Access revoked for {{.Name}}</strong> (<code>{{.ID}}</code>): its tokens no longer work.</p>
{{if .Deliveries}}<ul>{{range .Deliveries}}<li>Consent-revocation webhook sent to <code>{{.CallbackURL}}</code>: {{if .Status}}answered {{.Status}}{{else}}no answer ({{.Err}}){{end}}</li>{{end}}</ul>
{{else}}<p>No webhook subscription for this organization, so no webhook was sent.</p>{{end}}</div>{{end}}
{{with .Problem}}<p role="alert">{{.}}</p>{{end}}
<p>As a merchant would in Qonto's settings, revoke an application's access to an organization here. Qonto then sends the signed <code>v1/consent-revocations</code> webhook to the application.</p>
{{if .Consents}}<table><thead><tr><th>Organization</th><th>Scopes</th><th></th></tr></thead><tbody>
{{range .Consents}}<tr><td>{{.Name}}<br><code>{{.OrganizationID}}</code></td><td>{{range .Scopes}}<code>{{.}}</code> {{end}}</td>
<td><form method="post"><input type="hidden" name="organization_id" value="{{.OrganizationID}}"><button type="submit" class="revoke">Revoke access</button></form></td></tr>
{{end}}</tbody></table>{{else}}<p id="no-consents">No organization has authorized the application (<code>{{.ClientID}}</code>).</p>{{end}}
{{with .Back}}<p><a href="{{.}}">Back to the application</a></p>{{end}}
</body></html>
`))

// ServeConsents mounts ConsentsHandler(back) on the fake at path (GET
// and POST; path starts with "/") and adds its Revoke access buttons to
// the fake's consent page: below Approve and Deny, each organization whose
// consent stands can be revoked from there too, as a person clicking
// through a demo expects to find it.
func (q *Qonto) ServeConsents(path, back string) {
	h := q.ConsentsHandler(back)
	q.Handle("GET "+path, h)
	q.Handle("POST "+path, h)
	q.manage.Store(&manageLink{path: path, consents: q.Consents})
}

// ConsentsHandler returns the fake's "connected applications" page, for a
// person clicking through a demo: GET lists the organizations whose
// consent stands (Consents), each with a "Revoke access" button; the
// button POSTs organization_id back, which runs RevokeConsent (the grants
// are revoked, then the signed consent-revocation webhook is delivered to
// the subscriptions) and shows what each delivery answered. Mount it with
// Handle at a path of your choice, for GET and POST. back, if not empty,
// is linked as "Back to the application". A POST another site made the
// browser send (Sec-Fetch-Site cross-site or same-site) is refused with
// 403 and revokes nothing.
func (q *Qonto) ConsentsHandler(back string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data := map[string]any{"Title": q.cfg.title, "ClientID": q.cfg.clientID, "Back": back}
		status := http.StatusOK
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
				status, data["Problem"] = http.StatusForbidden, "Refused: this form must be sent from this page."
				break
			}
			org := r.PostFormValue("organization_id")
			i := slices.IndexFunc(q.Consents(), func(c QontoConsent) bool { return c.OrganizationID == org })
			if i < 0 {
				status, data["Problem"] = http.StatusNotFound, "No standing consent for that organization: nothing was revoked."
				break
			}
			name := q.Consents()[i].Name
			deliveries, err := q.RevokeConsent(r.Context(), org)
			if err != nil {
				status, data["Problem"] = http.StatusInternalServerError, "The webhook could not be built: "+err.Error()
				break
			}
			for i := range deliveries {
				deliveries[i].CallbackURL = redactQuery(deliveries[i].CallbackURL)
			}
			data["Done"] = map[string]any{"Name": name, "ID": org, "Deliveries": deliveries}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		data["Consents"] = q.Consents()
		pageHeaders(w)
		w.WriteHeader(status)
		consentsTmpl.Execute(w, data)
	})
}
