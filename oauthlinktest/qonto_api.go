package oauthlinktest

import "net/http"

// organization serves GET /v2/organization (scope organization.read).
func (q *Qonto) organization(w http.ResponseWriter, r *http.Request) {
	g, acct, ok := q.bearer(r)
	if !ok {
		writeInvalidToken(w)
		writeJSON(w, http.StatusUnauthorized, "application/json; charset=utf-8",
			map[string]any{"errors": []map[string]string{{"code": "unauthorized", "detail": "The access token is invalid, expired or revoked."}}})
		return
	}
	if !g.hasScope("organization.read") {
		writeJSON(w, http.StatusForbidden, "application/json; charset=utf-8",
			map[string]any{"errors": []map[string]string{{"code": "forbidden", "detail": "The access token is missing the scope organization.read."}}})
		return
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"organization": map[string]any{
			"id":            acct.id,
			"slug":          acct.slug,
			"legal_name":    acct.name,
			"locale":        acct.locale,
			"bank_accounts": []any{},
		},
	})
}
