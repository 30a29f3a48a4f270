package qonto

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/oauthlink/oauthlink/internal/apiclient"
	"github.com/oauthlink/oauthlink/store"
)

// NewWebhookSubscription is what Client.CreateWebhookSubscription asks
// Qonto for.
type NewWebhookSubscription struct {
	// CallbackURL is the HTTPS URL Qonto POSTs the events to (at most 512
	// characters): the app's WebhookHandler. Required.
	CallbackURL string
	// Types are the event types, e.g. EventConsentRevocations. At least
	// one.
	Types []string
	// Secret signs the deliveries (32 to 128 characters); the
	// WebhookHandler must know it. Empty: Qonto generates one, returned in
	// WebhookSubscription.Secret.
	Secret store.Secret
	// Description is an optional label.
	Description string
}

// WebhookSubscription is a subscription as Qonto returns it.
type WebhookSubscription struct {
	// ID is Qonto's id of the subscription.
	ID string
	// OrganizationID and MembershipID are the organization and the
	// membership (the merchant's user) the subscription belongs to.
	OrganizationID, MembershipID string
	// CallbackURL is where Qonto posts the events.
	CallbackURL string
	// Types are the event types delivered (e.g. EventConsentRevocations).
	Types []string
	// Description is the free text given at creation.
	Description string
	// Secret is the signing secret (Qonto's answer repeats it), redacted
	// when printed.
	Secret store.Secret
	// CreatedAt and UpdatedAt are Qonto's timestamps of the subscription.
	CreatedAt, UpdatedAt time.Time
}

// CreateWebhookSubscription subscribes the Client's organization to
// sub.Types (POST /v2/webhook_subscriptions, 201). The token needs the
// webhook scope (ScopeWebhook) and each type's own scope. With a
// Connector, the Client's HTTPClient is conn.Client(owner), so the
// subscription is the merchant's:
//
//	api := &qonto.Client{HTTPClient: conn.Client(owner), BaseURL: provider.APIURL}
//	sub, err := api.CreateWebhookSubscription(ctx, qonto.NewWebhookSubscription{
//		CallbackURL: "https://platform.example/webhooks/qonto",
//		Types:       []string{qonto.EventConsentRevocations},
//		Secret:      secret,
//	})
func (c *Client) CreateWebhookSubscription(ctx context.Context, sub NewWebhookSubscription) (*WebhookSubscription, error) {
	if sub.CallbackURL == "" || len(sub.Types) == 0 {
		return nil, fmt.Errorf("%w: a webhook subscription needs a callback URL and at least one type", ErrClientConfig)
	}
	base, err := c.base()
	if err != nil {
		return nil, err
	}
	in := subscriptionWire{CallbackURL: sub.CallbackURL, Types: sub.Types, Secret: sub.Secret.Reveal(), Description: sub.Description}
	var out subscriptionWire
	caller := &apiclient.Caller{HTTPClient: c.HTTPClient, Base: base, Timeout: c.Timeout,
		Accept: "application/json", Errors: callErrors, APIError: parseAPIError}
	call := apiclient.Call{Method: http.MethodPost, Path: "/v2/webhook_subscriptions", In: in, Want: http.StatusCreated, Out: &out}
	if err := caller.Do(ctx, call); err != nil {
		return nil, err
	}
	if !apiclient.Opaque(out.ID, 128) {
		return nil, fmt.Errorf("%w: the answer carries no usable subscription id", ErrResponse)
	}
	return &WebhookSubscription{ID: out.ID, OrganizationID: out.OrganizationID, MembershipID: out.MembershipID,
		CallbackURL: out.CallbackURL, Types: out.Types, Description: out.Description, Secret: store.Secret(out.Secret),
		CreatedAt: out.CreatedAt, UpdatedAt: out.UpdatedAt}, nil
}

// subscriptionWire is the JSON of a subscription, both ways: the secret
// as a plain string (store.Secret marshals redacted).
type subscriptionWire struct {
	ID             string    `json:"id,omitempty"`
	OrganizationID string    `json:"organization_id,omitempty"`
	MembershipID   string    `json:"membership_id,omitempty"`
	CallbackURL    string    `json:"callback_url"`
	Types          []string  `json:"types"`
	Secret         string    `json:"secret,omitempty"`
	Description    string    `json:"description,omitempty"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
}
