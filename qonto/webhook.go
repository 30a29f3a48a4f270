package qonto

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/internal/apiclient"
	"github.com/oauthlink/oauthlink/internal/webhooksig"
	"github.com/oauthlink/oauthlink/store"
)

// Webhook event types and the scope that subscribing needs.
const (
	// EventConsentRevocations is the webhook Qonto sends when a merchant
	// revokes an app's OAuth consent.
	EventConsentRevocations = "v1/consent-revocations"
	// ScopeWebhook is the OAuth scope the webhook subscription endpoints
	// need, on top of each event type's own scope.
	ScopeWebhook = "webhook"
)

// Defaults of WebhookOptions.
const (
	// DefaultWebhookMaxBody caps a webhook's body: 64 KiB.
	DefaultWebhookMaxBody = 64 << 10
	// DefaultWebhookTimeout bounds the store work of one webhook, inside
	// the 1 second Qonto waits for an answer.
	DefaultWebhookTimeout = 800 * time.Millisecond
)

// WebhookOptions tune NewWebhookHandler. The zero value is the defaults.
type WebhookOptions struct {
	// ProviderName is ignored: the handler looks for the connections of
	// the Connector's own Provider.Name.
	//
	// Deprecated: the Connector knows its provider's name.
	ProviderName string
	// ClientID, when set, ignores (but acknowledges) revocations whose
	// data.client_id names another app sharing the endpoint. Default ""
	// (every revocation counts).
	ClientID string
	// MaxBody caps the request body; a larger one is refused with 413.
	// Default DefaultWebhookMaxBody (64 KiB).
	MaxBody int64
	// Timeout bounds the store work (finding and marking the
	// connections). Default DefaultWebhookTimeout (800 ms): Qonto waits 1
	// second for the answer.
	Timeout time.Duration
	// Now is the clock the signature's timestamp is checked against.
	// Default time.Now.
	Now func() time.Time
	// Logger receives the handler's failures and revocations, without
	// secrets. Default slog.Default().
	Logger *slog.Logger
}

// WebhookEvent is the envelope of a Qonto webhook, with Qonto's field
// names as JSON tags.
type WebhookEvent struct {
	// ID is the event's id; a retried delivery repeats it.
	ID string `json:"id"`
	// SubscriptionID is the subscription the event was sent for.
	SubscriptionID string `json:"subscription_id"`
	// OrganizationID is the organization the event is about.
	OrganizationID string `json:"organization_id"`
	// MembershipID is the membership (user of the organization) concerned.
	MembershipID string `json:"membership_id"`
	// Type is the event type, e.g. EventConsentRevocations.
	Type string `json:"type"`
	// CreatedAt is when Qonto created the event.
	CreatedAt time.Time `json:"created_at"`
	// Data is the type's payload.
	Data json.RawMessage `json:"data"`
}

// ConsentRevocation is the Data of an EventConsentRevocations event.
type ConsentRevocation struct {
	// ClientID is the OAuth client whose consent was revoked.
	ClientID string `json:"client_id"`
	// RevokedAt is when the merchant revoked it.
	RevokedAt time.Time `json:"revoked_at"`
}

// WebhookHandler receives Qonto's webhooks; see NewWebhookHandler.
type WebhookHandler struct {
	conn    *oauthlink.Connector
	secrets [][]byte
	opts    WebhookOptions
}

// NewWebhookHandler returns the handler for the callback_url of Qonto
// webhook subscriptions (see Client.CreateWebhookSubscription). For each
// POST it:
//
//   - reads at most opts.MaxBody bytes (64 KiB; more answers 413);
//   - verifies X-Qonto-Signature with VerifySignature against secrets
//     (the subscriptions' secrets: several while one is rotated) and
//     opts.Now; a bad, old or future signature answers 401 and changes
//     nothing;
//   - on EventConsentRevocations for opts.ClientID (any client when
//     empty), finds the connections to the event's organization_id
//     (store.Scanner, Connection.AccountID as set by Identify) that hold a
//     grant obtained before data.revoked_at, and marks that connection
//     revoked with fleet.MarkRevoked, within opts.Timeout (800 ms), then
//     answers 204; a store failure answers 503 so that Qonto delivers
//     again;
//   - answers 204 to every other event type, and to a repeated delivery
//     (MarkRevoked is idempotent), without doing anything.
//
// A consent is a membership's (one user of the organization), and
// oauthlink does not record which membership granted a connection. When
// several connections of the app hold grants to the organization
// (several owners linked it, each through their own Qonto user), the
// handler cannot tell which one was revoked, so it marks none and logs a
// warning: the revoked connection becomes reauth_required at its next
// refresh (on use, or by the fleet.Keeper), and the others keep working.
// A connection whose tokens were obtained after revoked_at (the merchant
// connected again; Qonto delivered the old event late or again) is never
// marked, nor is a disconnected record, whose revocation the Keeper
// finishes.
//
// st is the Connector's store (Config.Store); it must have the
// store.Scanner capability (memstore, sqlstore, redisstore and the
// encrypted wrapper do). secrets must hold at least one non-empty secret;
// Qonto accepts secrets of 32 to 128 characters.
func NewWebhookHandler(conn *oauthlink.Connector, st store.TokenStore, secrets [][]byte, opts WebhookOptions) (*WebhookHandler, error) {
	if conn == nil {
		return nil, errors.New("qonto: NewWebhookHandler needs a Connector")
	}
	if _, ok := store.Capability[store.Scanner](st); !ok {
		return nil, errors.New("qonto: NewWebhookHandler needs a store with the store.Scanner capability")
	}
	h := &WebhookHandler{conn: conn, opts: opts}
	h.secrets = webhooksig.Secrets(secrets)
	if len(h.secrets) == 0 {
		return nil, errors.New("qonto: NewWebhookHandler needs at least one webhook secret")
	}
	h.opts.MaxBody = cmp.Or(opts.MaxBody, DefaultWebhookMaxBody)
	h.opts.Timeout = cmp.Or(opts.Timeout, DefaultWebhookTimeout)
	if h.opts.Now == nil {
		h.opts.Now = time.Now
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.Default()
	}
	return h, nil
}

// ServeHTTP handles one webhook delivery.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := webhooksig.Read(w, r, h.opts.MaxBody, func(body []byte) error {
		return VerifySignature(r.Header.Get(SignatureHeader), body, h.opts.Now(), h.secrets...)
	}, http.StatusUnauthorized, h.opts.Logger, "qonto")
	if !ok {
		return
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if ev.Type != EventConsentRevocations {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status, err := h.revoke(r.Context(), &ev)
	if err != nil {
		h.opts.Logger.Error("qonto: consent revocation webhook failed", "event", apiclient.Sanitize(ev.ID, 64), "error", err)
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// revoke handles a consent revocation: it marks every connection to the
// event's organization revoked. It returns the status to answer with an
// error.
func (h *WebhookHandler) revoke(ctx context.Context, ev *WebhookEvent) (int, error) {
	var data ConsentRevocation
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return http.StatusBadRequest, fmt.Errorf("malformed data: %w", err)
		}
	}
	if !apiclient.Opaque(ev.OrganizationID, 128) {
		return http.StatusBadRequest, errors.New("no usable organization_id")
	}
	if h.opts.ClientID != "" && data.ClientID != h.opts.ClientID {
		return http.StatusNoContent, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.Timeout)
	defer cancel()
	rev := fleet.Revocation{AccountID: ev.OrganizationID, RevokedAt: data.RevokedAt}
	res, err := fleet.MarkAccountRevoked(ctx, h.conn, rev)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	org := apiclient.Sanitize(ev.OrganizationID, 128)
	switch {
	case res.Holders == 0:
		h.opts.Logger.Info("qonto: consent revocation for an organization with no connection holding an older grant", "organization", org)
	case res.Holders > 1:
		h.opts.Logger.Warn("qonto: consent revoked for an organization several connections hold grants to; none marked, the revoked one turns reauth_required at its next refresh",
			"organization", org, "connections", res.Holders)
	default:
		h.opts.Logger.Info("qonto: consent revoked", "organization", org, "marked", res.Marked)
	}
	return http.StatusNoContent, nil
}
