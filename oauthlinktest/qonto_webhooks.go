package oauthlinktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/internal/webhooksig"
)

// QontoWebhookSubscription is a webhook subscription the Qonto fake holds
// (created with POST /v2/webhook_subscriptions).
type QontoWebhookSubscription struct {
	ID             string
	OrganizationID string
	MembershipID   string
	CallbackURL    string
	Types          []string
	// Secret signs the deliveries: the one sent, or one the fake made up.
	Secret string
}

// WebhookDelivery is the outcome of one webhook the fake sent.
type WebhookDelivery struct {
	SubscriptionID string
	CallbackURL    string
	// Status is the callback's HTTP status; 0 when it did not answer.
	Status int
	// Err is why the callback did not answer (within 1 second, as Qonto
	// waits; the fakes wait as long for every provider), else nil.
	Err error
}

// qontoWebhooks is the fake's subscription list.
type qontoWebhooks struct {
	mu   sync.Mutex
	subs []QontoWebhookSubscription
}

const consentRevocations = "v1/consent-revocations"

// createWebhookSubscription serves POST /v2/webhook_subscriptions (scope
// webhook): callback_url (an absolute http(s) URL of at most 512
// characters), types (at least one), secret (optional, 32 to 128
// characters) and description; it answers 201 with the subscription.
func (q *Qonto) createWebhookSubscription(w http.ResponseWriter, r *http.Request) {
	g, acct, ok := q.bearer(r)
	if !ok {
		writeInvalidToken(w)
		writeQontoError(w, http.StatusUnauthorized, "unauthorized", "The access token is invalid, expired or revoked.")
		return
	}
	if !g.hasScope("webhook") {
		writeQontoError(w, http.StatusForbidden, "forbidden", "The access token is missing the scope webhook.")
		return
	}
	var in struct {
		CallbackURL string   `json:"callback_url"`
		Types       []string `json:"types"`
		Secret      string   `json:"secret"`
		Description string   `json:"description"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&in); err != nil {
		writeQontoError(w, http.StatusBadRequest, "invalid_request", "The body is not valid JSON.")
		return
	}
	u, err := url.Parse(in.CallbackURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(in.CallbackURL) > 512:
		writeQontoError(w, http.StatusUnprocessableEntity, "invalid_callback_url", "callback_url must be an absolute URL.")
		return
	case len(in.Types) == 0:
		writeQontoError(w, http.StatusUnprocessableEntity, "invalid_types", "types must not be empty.")
		return
	case in.Secret != "" && (len(in.Secret) < 32 || len(in.Secret) > 128):
		writeQontoError(w, http.StatusUnprocessableEntity, "invalid_secret", "secret must be 32 to 128 characters.")
		return
	}
	if in.Secret == "" {
		in.Secret = "whsec_" + randomAlnum(40)
	}
	sub := QontoWebhookSubscription{ID: newUUID(), OrganizationID: acct.id, MembershipID: newUUID(),
		CallbackURL: in.CallbackURL, Types: slices.Clone(in.Types), Secret: in.Secret}
	q.webhooks.mu.Lock()
	q.webhooks.subs = append(q.webhooks.subs, sub)
	q.webhooks.mu.Unlock()
	now := q.now().UTC().Format(time.RFC3339)
	writeJSON(w, http.StatusCreated, "application/json; charset=utf-8", map[string]any{
		"id": sub.ID, "organization_id": sub.OrganizationID, "membership_id": sub.MembershipID,
		"callback_url": sub.CallbackURL, "types": sub.Types, "description": in.Description,
		"created_at": now, "updated_at": now, "secret": sub.Secret,
	})
}

func writeQontoError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, "application/json; charset=utf-8",
		map[string]any{"errors": []map[string]string{{"code": code, "detail": detail}}})
}

// WebhookSubscriptions returns the subscriptions created at the fake, in
// order.
func (q *Qonto) WebhookSubscriptions() []QontoWebhookSubscription {
	q.webhooks.mu.Lock()
	defer q.webhooks.mu.Unlock()
	out := make([]QontoWebhookSubscription, len(q.webhooks.subs))
	for i, s := range q.webhooks.subs {
		s.Types = slices.Clone(s.Types)
		out[i] = s
	}
	return out
}

// RevokeConsent plays a merchant who revokes the app's consent in Qonto:
// every grant of the organization to the fake's client is revoked (its
// tokens stop working, its refresh tokens are refused), then
// DeliverConsentRevocation notifies the subscriptions.
func (q *Qonto) RevokeConsent(ctx context.Context, organizationID string) ([]WebhookDelivery, error) {
	q.mu.Lock()
	for _, g := range q.grants {
		if g.account != nil && g.account.id == organizationID && g.clientID == q.cfg.clientID {
			g.revokeAll()
		}
	}
	q.mu.Unlock()
	return q.DeliverConsentRevocation(ctx, organizationID)
}

// DeliverConsentRevocation POSTs a v1/consent-revocations event for
// organizationID to the callback URL of every subscription of that
// organization to that type, signed as Qonto signs (X-Qonto-Signature:
// t={unix seconds on the fake's clock},v1={hex HMAC-SHA256 of "{t}.{body}"
// under the subscription's secret}), one at a time, each waiting at most 1
// second for the answer as Qonto does. It revokes nothing: call it again
// to test a repeated delivery. Requests go through QontoOptions.WebhookClient.
// The error is non-nil only when an event cannot be built.
func (q *Qonto) DeliverConsentRevocation(ctx context.Context, organizationID string) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	for _, sub := range q.WebhookSubscriptions() {
		if sub.OrganizationID != organizationID || !slices.Contains(sub.Types, consentRevocations) {
			continue
		}
		now := q.now().UTC()
		body, err := json.Marshal(map[string]any{
			"id": newUUID(), "subscription_id": sub.ID, "organization_id": sub.OrganizationID,
			"membership_id": sub.MembershipID, "type": consentRevocations, "created_at": now.Format(time.RFC3339),
			"data": map[string]string{"client_id": q.cfg.clientID, "revoked_at": now.Format(time.RFC3339)},
		})
		if err != nil {
			return out, err
		}
		out = append(out, q.deliver(ctx, sub, body, now))
	}
	return out, nil
}

// deliver POSTs one signed event.
func (q *Qonto) deliver(ctx context.Context, sub QontoWebhookSubscription, body []byte, now time.Time) WebhookDelivery {
	d := postWebhook(ctx, q.opts.WebhookClient, sub.CallbackURL, "X-Qonto-Signature", SignQontoWebhook(sub.Secret, now, body), body)
	d.SubscriptionID = sub.ID
	return d
}

// postWebhook POSTs body to callbackURL with the signature header, waiting
// at most 1 second for the answer, through client (nil:
// http.DefaultClient).
func postWebhook(ctx context.Context, client *http.Client, callbackURL, header, signature string, body []byte) WebhookDelivery {
	d := WebhookDelivery{CallbackURL: callbackURL}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err != nil {
		d.Err = err
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, signature)
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		d.Err = fmt.Errorf("oauthlinktest: delivering to %s: %w", redactQuery(callbackURL), err)
		return d
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	d.Status = resp.StatusCode
	return d
}

// SignQontoWebhook returns the X-Qonto-Signature of body sent at t under
// secret: "t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{body}"}", for
// tests that post their own events.
func SignQontoWebhook(secret string, t time.Time, body []byte) string {
	return webhooksig.Sign([]byte(secret), t, body)
}
