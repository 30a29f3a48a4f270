package oauthlinktest

import (
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// pageHead is shared by the fake's HTML pages; html/template escapes every
// value, so provider-controlled text cannot inject markup.
const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{{.Title}} sandbox</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.4}
.sandbox{background:#fde68a;border:1px solid #d97706;padding:.5rem 1rem;border-radius:.3rem}
button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.5rem}</style></head>
<body><p class="sandbox"><strong>Sandbox.</strong> This is a fake {{.Title}} server for testing. No real account, money or data is involved.</p>
`

var (
	consentTmpl = template.Must(template.New("consent").Parse(pageHead + `<h1>Authorize application</h1>
<p>The application <code>{{.ClientID}}</code> asks for access to your {{.Title}} test account with these scopes:</p>
<ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
<p>Your answer is sent to <code>{{.RedirectURI}}</code>.</p>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
{{with .Manage}}<h2>Organizations that authorized this application</h2>
{{if .Consents}}<p>As a merchant would in {{$.Title}}'s settings, revoke the application's access; {{$.Title}} then sends it the signed consent-revocation webhook.</p>
{{range .Consents}}<form method="post" action="{{$.Manage.Path}}"><input type="hidden" name="organization_id" value="{{.OrganizationID}}"><button type="submit" class="revoke">Revoke access for {{.Name}}</button></form>
{{end}}{{else}}<p id="no-consents">None yet.</p>{{end}}{{end}}</body></html>
`))
	errorTmpl = template.Must(template.New("error").Parse(pageHead + `<h1>Invalid authorization request</h1>
<p>{{.Problem}}</p>
<p>The request was not redirected back to the application.</p></body></html>
`))
)

type field struct{ Name, Value string }

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Referrer-Policy", "no-referrer")
}

// consentPage renders the sandbox consent page; its buttons POST every
// received parameter back to the authorization endpoint with decision=
// approve or deny.
func (s *server) consentPage(w http.ResponseWriter, req AuthorizeRequest, target string, params url.Values) {
	var fields []field
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[k] {
			fields = append(fields, field{k, v})
		}
	}
	data := map[string]any{
		"Title": s.cfg.title, "ClientID": req.ClientID, "Scopes": req.Scopes,
		"RedirectURI": target, "Action": s.cfg.authPath, "Fields": fields,
	}
	if m := s.manage.Load(); m != nil {
		data["Manage"] = map[string]any{"Path": m.path, "Consents": m.consents()}
	}
	pageHeaders(w)
	w.WriteHeader(http.StatusOK)
	consentTmpl.Execute(w, data)
}

// manageLink is where a fake's consents are managed (Qonto.ServeConsents).
type manageLink struct {
	path     string
	consents func() []QontoConsent
}

// errorPage answers 400 with a page naming the problem (no parameter value
// is echoed).
func (s *server) errorPage(w http.ResponseWriter, problem string) {
	pageHeaders(w)
	w.WriteHeader(http.StatusBadRequest)
	errorTmpl.Execute(w, map[string]any{"Title": s.cfg.title, "Problem": problem})
}
