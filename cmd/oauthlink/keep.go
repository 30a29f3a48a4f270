package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// keepProvider is a provider the CLI can build a Connector for, from the
// demo's variables for a real provider (the CLI has no sandbox).
type keepProvider struct {
	name       string
	p          oauthlink.Provider
	id, secret string
}

// keepProviders returns the providers whose client id is set: Qonto from
// QONTO_CLIENT_ID, QONTO_CLIENT_SECRET, QONTO_STAGING_TOKEN and the
// QONTO_*_URL overrides; Mollie from MOLLIE_CLIENT_ID, MOLLIE_CLIENT_SECRET
// and MOLLIE_AUTHORIZE_URL, MOLLIE_TOKEN_URL.
func keepProviders(getenv func(string) string) []keepProvider {
	var out []keepProvider
	if id := getenv("QONTO_CLIENT_ID"); id != "" {
		staging := getenv("QONTO_STAGING_TOKEN")
		p := qonto.Provider(qonto.Options{Sandbox: staging != "", StagingToken: staging})
		p.AuthURL = cmp.Or(getenv("QONTO_AUTHORIZE_URL"), p.AuthURL)
		p.TokenURL = cmp.Or(getenv("QONTO_TOKEN_URL"), p.TokenURL)
		p.RevokeURL = cmp.Or(getenv("QONTO_REVOKE_URL"), p.RevokeURL)
		p.APIURL = cmp.Or(strings.TrimRight(getenv("QONTO_API_URL"), "/"), p.APIURL)
		out = append(out, keepProvider{"qonto", p, id, getenv("QONTO_CLIENT_SECRET")})
	}
	if id := getenv("MOLLIE_CLIENT_ID"); id != "" {
		p := mollie.Provider()
		p.AuthURL = cmp.Or(getenv("MOLLIE_AUTHORIZE_URL"), p.AuthURL)
		p.TokenURL = cmp.Or(getenv("MOLLIE_TOKEN_URL"), p.TokenURL)
		p.APIURL = cmp.Or(strings.TrimRight(getenv("MOLLIE_API_URL"), "/"), p.APIURL)
		out = append(out, keepProvider{"mollie", p, id, getenv("MOLLIE_CLIENT_SECRET")})
	}
	return out
}

// connector builds a Connector that serves no request: the Keeper drives
// its refreshes and revocations. Its flow cookie key is random (no flow
// ever starts) and its redirect URL is the demo's (a refresh resends the
// one stored with the connection).
func (kp keepProvider) connector(st *encrypted.Store, publicURL string) (*oauthlink.Connector, error) {
	if kp.secret == "" {
		return nil, fmt.Errorf("%s_CLIENT_ID is set but %s_CLIENT_SECRET is empty", strings.ToUpper(kp.name), strings.ToUpper(kp.name))
	}
	insecure := strings.HasPrefix(publicURL, "http:")
	for _, u := range []string{kp.p.AuthURL, kp.p.TokenURL, kp.p.RevokeURL, kp.p.APIURL} {
		insecure = insecure || strings.HasPrefix(u, "http:")
	}
	return oauthlink.New(oauthlink.Config{
		Provider: kp.p, ClientID: kp.id, ClientSecret: kp.secret,
		RedirectURL:       publicURL + "/connect/" + kp.name + "/callback",
		Store:             st,
		CookieSecrets:     [][]byte{[]byte(rand.Text() + rand.Text())},
		AllowInsecureHTTP: insecure,
		Owner:             func(*http.Request) (string, error) { return "", errors.New("the oauthlink CLI serves no request") },
	})
}

// keepOut is one provider's pass, as keep prints it.
type keepOut struct {
	Provider             string         `json:"provider"`
	Checked              int            `json:"checked"`
	Refreshed            int            `json:"refreshed"`
	AlreadyFresh         int            `json:"already_fresh"`
	ReauthRequired       int            `json:"reauth_required"`
	RevocationsCompleted int            `json:"revocations_completed"`
	Failed               map[string]int `json:"failed"`
	Seconds              float64        `json:"seconds"`
}

func (c *cli) keep(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	once := fs.Bool("once", false, "run one Keeper pass per configured provider and exit (required)")
	only := fs.String("provider", "", "only this provider (qonto or mollie)")
	fractionFlag := fs.String("fraction", "2/3", "refresh connections older than this fraction of the provider's IdleLifetime")
	asJSON := fs.Bool("json", false, "one JSON object per provider instead of lines of text")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if !*once {
		return usagef("keep needs --once: an app runs its Keeper continuously (fleet.Keeper.Run); the CLI runs one pass")
	}
	fraction, err := parseFraction(*fractionFlag)
	if err != nil {
		return err
	}
	var provs []keepProvider
	for _, kp := range keepProviders(c.getenv) {
		if *only == "" || kp.name == *only {
			provs = append(provs, kp)
		}
	}
	if len(provs) == 0 {
		return errors.New("no provider configured: set QONTO_CLIENT_ID and QONTO_CLIENT_SECRET (or MOLLIE_…), as for the demo")
	}
	publicURL := strings.TrimRight(cmp.Or(c.getenv("OAUTHLINK_PUBLIC_URL"), "http://127.0.0.1:8080"), "/")
	return c.withStore(ctx, func(st *encrypted.Store) error {
		if _, err := scanner(st); err != nil {
			return err
		}
		var failed int
		for _, kp := range provs {
			out, err := keepOnce(ctx, kp, st, publicURL, fraction)
			if err != nil {
				return fmt.Errorf("%s: %w", kp.name, err)
			}
			for _, n := range out.Failed {
				failed += n
			}
			if err := c.printKeep(out, *asJSON); err != nil {
				return err
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d connection(s) failed; the next pass retries them", failed)
		}
		return nil
	})
}

func keepOnce(ctx context.Context, kp keepProvider, st *encrypted.Store, publicURL string, fraction float64) (keepOut, error) {
	conn, err := kp.connector(st, publicURL)
	if err != nil {
		return keepOut{}, err
	}
	k, err := fleet.NewKeeper(conn, fleet.KeeperOptions{Fraction: fraction})
	if err != nil {
		return keepOut{}, err
	}
	rep, err := k.Pass(ctx)
	if rep.Failed == nil {
		rep.Failed = map[string]int{}
	}
	return keepOut{Provider: kp.name, Checked: rep.Checked, Refreshed: rep.Refreshed, AlreadyFresh: rep.AlreadyFresh,
		ReauthRequired: rep.ReauthRequired, RevocationsCompleted: rep.RevocationsCompleted,
		Failed: rep.Failed, Seconds: rep.Duration.Round(time.Millisecond).Seconds()}, err
}

func (c *cli) printKeep(o keepOut, asJSON bool) error {
	if asJSON {
		return writeJSON(c.stdout, o)
	}
	_, err := fmt.Fprintf(c.stdout, "%s: checked %d, refreshed %d, already fresh %d, reauth required %d, revocations completed %d, failed %v (%.3gs)\n",
		o.Provider, o.Checked, o.Refreshed, o.AlreadyFresh, o.ReauthRequired, o.RevocationsCompleted, o.Failed, o.Seconds)
	return err
}
