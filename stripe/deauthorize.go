package stripe

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/internal/retry"
	"github.com/oauthlink/oauthlink/internal/tokenwire"
)

// ErrNoAccount reports a grant that cannot be deauthorized because its
// stripe_user_id is unknown.
var ErrNoAccount = errors.New("stripe: the grant's stripe_user_id is unknown; it cannot be deauthorized")

// Deauthorize is the preset's oauthlink.Provider.Revoke: POST
// r.URL (/oauth/deauthorize) with client_id and stripe_user_id (the
// grant's account), authenticated with the platform's secret key as the
// Basic user name, as the reference's examples do. It returns nil on 2xx
// and when Stripe answers that the application is not connected to the
// account (it is deauthorized already); an *oauthlink.ProviderError for
// any other error answer (RFC 6749 §5.2 fields, sanitised; Retry-After
// read), which oauthlink retries when temporary (429, 5xx). No redirect is
// followed and at most 1 MiB is read; the body never appears in an error.
func Deauthorize(ctx context.Context, r oauthlink.Revocation) error {
	if r.AccountID == "" {
		return ErrNoAccount
	}
	form := url.Values{"client_id": {r.ClientID}, "stripe_user_id": {r.AccountID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("stripe: building the deauthorize request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.ClientSecret.Reveal()+":")))
	client := r.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is known; keep the cause only
		}
		return fmt.Errorf("stripe: deauthorize: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, tokenwire.MaxBody))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	var answer struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.Unmarshal(body, &answer) // a body that is not JSON leaves both empty
	pe := &oauthlink.ProviderError{
		StatusCode:  resp.StatusCode,
		Code:        tokenwire.Sanitize(answer.Error, 64),
		Description: tokenwire.Sanitize(answer.Description, 200),
		RetryAfter:  retry.After(resp.Header.Get("Retry-After"), time.Now()),
	}
	if pe.Code == "invalid_client" && strings.Contains(answer.Description, "not connected") {
		return nil
	}
	return pe
}
