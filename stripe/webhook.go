package stripe

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
	"github.com/oauthlink/oauthlink/internal/lifecycle"
	"github.com/oauthlink/oauthlink/internal/webhooksig"
)

// SignatureHeader is the header carrying a webhook's signature:
// t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{raw body}"} keyed with the
// endpoint's signing secret (whsec_…), with one v1 per secret while a
// secret is rolled; v0 (test-mode legacy) is ignored.
const SignatureHeader = "Stripe-Signature"

// Bounds on a webhook signature's timestamp. Stripe's libraries refuse
// signatures older than 5 minutes by default.
const (
	// SignatureMaxAge is how old a signature may be.
	SignatureMaxAge = 5 * time.Minute
	// SignatureMaxSkew is how far in the future a signature's timestamp
	// may be, for clocks that disagree a little.
	SignatureMaxSkew = 30 * time.Second
)

// EventAccountApplicationDeauthorized is the event Stripe sends to a
// platform's Connect webhook endpoint when a connected account
// disconnects the platform's application (and when the platform
// deauthorizes it itself). Its account field names the account.
const EventAccountApplicationDeauthorized = "account.application.deauthorized"

// Defaults of WebhookOptions.
const (
	// DefaultWebhookMaxBody caps a webhook's body: 64 KiB.
	DefaultWebhookMaxBody = 64 << 10
	// DefaultWebhookTimeout bounds the store work of one webhook.
	DefaultWebhookTimeout = 5 * time.Second
)

// ErrSignature: a webhook's Stripe-Signature is missing, malformed, too
// old, too far in the future, or made with none of the secrets. The
// message says which, never a secret or a signature.
var ErrSignature = errors.New("stripe: invalid webhook signature")

// VerifySignature checks header, a webhook's Stripe-Signature, against the
// raw request body: the timestamp t must be at most SignatureMaxAge before
// now and at most SignatureMaxSkew after it, and one of the header's v1
// values must be the hex HMAC-SHA256 of "{t}.{body}" under one of secrets
// (the endpoint's signing secrets: several while one is rolled), compared
// in constant time. An error wraps ErrSignature.
func VerifySignature(header string, body []byte, now time.Time, secrets ...[]byte) error {
	if err := webhooksig.Verify(SignatureHeader, header, body, now, SignatureMaxAge, SignatureMaxSkew, secrets); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}

// WebhookOptions tune NewWebhookHandler. The zero value is the defaults.
type WebhookOptions struct {
	// ClientID, when set, ignores (but acknowledges) deauthorizations of
	// another application (data.object.id, a ca_… client id) sharing the
	// endpoint. Default "": every deauthorization counts.
	ClientID string
	// MaxBody caps the request body; a larger one is refused with 413.
	// Default DefaultWebhookMaxBody (64 KiB).
	MaxBody int64
	// Timeout bounds the store work (finding and marking the connection).
	// Default DefaultWebhookTimeout (5 s).
	Timeout time.Duration
	// Now is the clock the signature's timestamp is checked against.
	// Default time.Now.
	Now func() time.Time
	// Logger receives the handler's failures and revocations, without
	// secrets. Default slog.Default().
	Logger *slog.Logger
}

// WebhookEvent is the part of a Stripe event the handler reads, with
// Stripe's field names as JSON tags.
type WebhookEvent struct {
	// ID is the event's id (evt_…); a retried delivery repeats it.
	ID string `json:"id"`
	// Type is the event type, e.g. EventAccountApplicationDeauthorized.
	Type string `json:"type"`
	// Account is the connected account the event is about (acct_…),
	// present on Connect events.
	Account string `json:"account"`
	// Created is when Stripe created the event, in Unix seconds.
	Created int64 `json:"created"`
	// Livemode tells live from test mode.
	Livemode bool `json:"livemode"`
	// Data holds the event's object; for a deauthorization, the
	// application ({"object": {"id": "ca_…", "object": "application"}}).
	Data json.RawMessage `json:"data"`
}

// WebhookHandler receives a platform's Connect webhooks; see
// NewWebhookHandler.
type WebhookHandler struct {
	conn    *oauthlink.Connector
	secrets [][]byte
	opts    WebhookOptions
}

// NewWebhookHandler returns the handler for a platform's Connect webhook
// endpoint (configured in the Stripe Dashboard or with the API, listening
// to events on connected accounts). For each POST it:
//
//   - reads at most opts.MaxBody bytes (64 KiB; more answers 413);
//   - verifies Stripe-Signature with VerifySignature against secrets and
//     opts.Now; a bad, old or future signature answers 400 and changes
//     nothing;
//   - on EventAccountApplicationDeauthorized for opts.ClientID (any
//     application when empty), marks the connection that holds the
//     event's account revoked with fleet.MarkAccountRevoked (revoked at
//     the event's created time, so a merchant who connected again after
//     it keeps the new connection), within opts.Timeout, and answers 200;
//     a store failure answers 503 so that Stripe delivers again;
//   - answers 200 to every other event type, and to a repeated delivery,
//     without doing anything.
//
// Nothing is sent to Stripe: the grant is already gone there. When several
// owners hold connections to the same account, none is marked (see
// fleet.MarkAccountRevoked) and a warning is logged. conn's store must
// implement store.Scanner (memstore, sqlstore, redisstore and the
// encrypted wrapper do). secrets must hold at least one non-empty secret.
func NewWebhookHandler(conn *oauthlink.Connector, secrets [][]byte, opts WebhookOptions) (*WebhookHandler, error) {
	if conn == nil {
		return nil, errors.New("stripe: NewWebhookHandler needs a Connector")
	}
	eng, ok := lifecycle.Of(conn)
	if !ok {
		return nil, errors.New("stripe: NewWebhookHandler needs a Connector made by oauthlink.New")
	}
	if _, ok := eng.Scanner(); !ok {
		return nil, errors.New("stripe: NewWebhookHandler needs a store with the store.Scanner capability")
	}
	h := &WebhookHandler{conn: conn, opts: opts}
	h.secrets = webhooksig.Secrets(secrets)
	if len(h.secrets) == 0 {
		return nil, errors.New("stripe: NewWebhookHandler needs at least one webhook signing secret")
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
	}, http.StatusBadRequest, h.opts.Logger, "stripe")
	if !ok {
		return
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if ev.Type == EventAccountApplicationDeauthorized {
		if status, err := h.deauthorized(r.Context(), &ev); err != nil {
			h.opts.Logger.Error("stripe: deauthorization webhook failed", "event", apiclient.Sanitize(ev.ID, 64), "error", err)
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// deauthorized marks the connection holding the event's account revoked.
// It returns the status to answer with an error.
func (h *WebhookHandler) deauthorized(ctx context.Context, ev *WebhookEvent) (int, error) {
	if !apiclient.Opaque(ev.Account, 128) {
		return http.StatusBadRequest, errors.New("no usable account")
	}
	if h.opts.ClientID != "" {
		var data struct {
			Object struct {
				ID string `json:"id"`
			} `json:"object"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return http.StatusBadRequest, fmt.Errorf("malformed data: %w", err)
		}
		if data.Object.ID != h.opts.ClientID {
			return 0, nil
		}
	}
	rev := fleet.Revocation{AccountID: ev.Account}
	if ev.Created > 0 {
		rev.RevokedAt = time.Unix(ev.Created, 0)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.Timeout)
	defer cancel()
	res, err := fleet.MarkAccountRevoked(ctx, h.conn, rev)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	account := apiclient.Sanitize(ev.Account, 128)
	switch {
	case res.Holders == 0:
		h.opts.Logger.Info("stripe: deauthorization for an account no connection holds an older grant of", "account", account)
	case res.Holders > 1:
		h.opts.Logger.Warn("stripe: account deauthorized that several connections hold grants of; none marked, the revoked one fails at its next use",
			"account", account, "connections", res.Holders)
	default:
		h.opts.Logger.Info("stripe: account deauthorized", "account", account, "marked", res.Marked)
	}
	return 0, nil
}
