package qonto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
)

// ErrIdentify reports that the organization could not be read after
// connecting.
var ErrIdentify = errors.New("qonto: cannot identify the organization")

// Identify returns a function for oauthlink.Config.Identify that records
// the Qonto organization id as Connection.AccountID, from
// GET {apiURL}/v2/organization with the new access token (Qonto's token
// response carries no organization id). It calls only when the granted
// scopes include organization.read; otherwise it leaves AccountID empty. In
// the sandbox it sends the preset's X-Qonto-Staging-Token (pass the
// provider's Header). hc defaults to a client with a 30-second timeout; no
// redirect is followed, so the token never reaches another host.
//
// An error fails the callback, and the connector then revokes the new
// grant.
func Identify(apiURL string, hc *http.Client, header http.Header) func(ctx context.Context, conn *oauthlink.Connection) error {
	client := &http.Client{Timeout: 30 * time.Second}
	if hc != nil {
		cp := *hc
		client = &cp
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := strings.TrimRight(apiURL, "/")
	return func(ctx context.Context, conn *oauthlink.Connection) error {
		if !slices.Contains(conn.Scopes, "organization.read") {
			return nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/organization", nil)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrIdentify, err)
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		req.Header.Set("Authorization", "Bearer "+conn.AccessToken.Reveal())
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrIdentify, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w: status %d", ErrIdentify, resp.StatusCode)
		}
		var body struct {
			Organization struct {
				ID string `json:"id"`
			} `json:"organization"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Organization.ID == "" {
			return fmt.Errorf("%w: the answer carries no organization id", ErrIdentify)
		}
		conn.AccountID = body.Organization.ID
		return nil
	}
}
