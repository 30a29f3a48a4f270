package oauthlinktest_test

import (
	"log/slog"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/adyen"
	"github.com/oauthlink/oauthlink/gocardless"
	"github.com/oauthlink/oauthlink/mollie"
	"github.com/oauthlink/oauthlink/oauthlinktest"
	"github.com/oauthlink/oauthlink/qonto"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/stripe"
)

// fieldKind says how a Provider field of a fake's descriptor relates to
// the real preset the fake imitates.
type fieldKind int

const (
	// preset: the fake's value must equal the real preset's. A quirk
	// the library acts on (rotation, grace, client auth...) belongs here,
	// so tests against a fake run the library as it runs in production.
	preset fieldKind = iota + 1
	// configured: follows one of the fake's options; with the options'
	// defaults it equals the preset (checked with the zero options).
	configured
	// endpoint: where the fake lives (its URLs) or which environment it
	// plays (the sandbox staging header); never compared with the preset.
	endpoint
	// hook: a function; the fake must set one exactly when the preset
	// does (functions cannot be compared).
	hook
)

// providerFields classifies every field of oauthlink.Provider. A field
// added to Provider fails TestFakeDescriptorsMatchPresets until it is
// listed here: whoever adds a quirk decides whether the fakes must carry
// it.
var providerFields = map[string]fieldKind{
	"Name":                       preset,
	"AuthURL":                    endpoint,
	"TokenURL":                   endpoint,
	"RevokeURL":                  endpoint,
	"RevokeMethod":               preset,
	"AuthStyle":                  preset,
	"DefaultScopes":              preset,
	"RequiredScopes":             preset,
	"PKCE":                       configured, // QontoOptions.RequirePKCE
	"AllowedAuthParams":          preset,
	"Header":                     endpoint, // the sandbox's staging header
	"ResendRedirectURIOnRefresh": preset,
	"RequireRefreshToken":        preset,
	"DefaultTokenLifetime":       configured, // AccessTokenLifetime (Mollie, Qonto, Adyen)
	"MaxTokenLifetime":           preset,
	"RotatesRefreshTokens":       preset,
	"RefreshGrace":               configured, // QontoOptions.Grace
	"IdleLifetime":               configured, // QontoOptions.RefreshTokenLifetime
	"AccountIDField":             preset,
	"AccessTokensDoNotExpire":    preset,
	"Revoke":                     hook,
	"RevokesAccount":             preset,
	"Issuer":                     preset,
	"IssuerRequired":             preset,
	"APIURL":                     endpoint,
}

// TestFakeDescriptorsMatchPresets checks, field by field, that each fake's
// Provider() carries exactly the quirks of the real preset it imitates
// (qonto.Provider, mollie.Provider), except where it lives and what its
// own options configure. A fake that leaves out a quirk (Qonto's
// RotatesRefreshTokens once did) makes every test built on it run the
// library as if the provider behaved otherwise.
func TestFakeDescriptorsMatchPresets(t *testing.T) {
	typ := reflect.TypeFor[oauthlink.Provider]()
	for _, f := range reflect.VisibleFields(typ) {
		if _, ok := providerFields[f.Name]; !ok {
			t.Errorf("Provider.%s is not classified in providerFields: decide whether the fakes' descriptors must match the presets on it", f.Name)
		}
	}
	for name := range providerFields {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("providerFields lists %s, which Provider no longer has", name)
		}
	}

	cases := []struct {
		name string
		fake func(t *testing.T) oauthlink.Provider
		// want is the preset with the configured fields set as the fake's
		// options say.
		want oauthlink.Provider
	}{
		{"qonto defaults", func(t *testing.T) oauthlink.Provider {
			return newQonto(t, oauthlinktest.QontoOptions{}).Provider()
		}, qonto.Provider(qonto.Options{})},
		{"qonto no grace", func(t *testing.T) oauthlink.Provider {
			return newQonto(t, oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace}).Provider()
		}, with(qonto.Provider(qonto.Options{}), func(p *oauthlink.Provider) { p.RefreshGrace = 0 })},
		{"qonto sandbox, PKCE, 5 min grace, short tokens", func(t *testing.T) oauthlink.Provider {
			return newQonto(t, oauthlinktest.QontoOptions{Grace: 5 * time.Minute, RequirePKCE: true,
				StagingToken: "stg", AccessTokenLifetime: 10 * time.Minute}).Provider()
		}, with(qonto.Provider(qonto.Options{Sandbox: true, StagingToken: "stg"}), func(p *oauthlink.Provider) {
			p.RefreshGrace, p.PKCE, p.DefaultTokenLifetime = 5*time.Minute, true, 10*time.Minute
		})},
		{"mollie defaults", func(t *testing.T) oauthlink.Provider {
			return newMollie(t, oauthlinktest.MollieOptions{}).Provider()
		}, mollie.Provider()},
		{"mollie short tokens", func(t *testing.T) oauthlink.Provider {
			return newMollie(t, oauthlinktest.MollieOptions{AccessTokenLifetime: 2 * time.Minute}).Provider()
		}, with(mollie.Provider(), func(p *oauthlink.Provider) { p.DefaultTokenLifetime = 2 * time.Minute })},
		{"stripe defaults", func(t *testing.T) oauthlink.Provider {
			st := oauthlinktest.NewStripe(oauthlinktest.StripeOptions{})
			t.Cleanup(st.Close)
			return st.Provider()
		}, stripe.Provider()},
		{"gocardless defaults", func(t *testing.T) oauthlink.Provider {
			gc := oauthlinktest.NewGoCardless(oauthlinktest.GoCardlessOptions{})
			t.Cleanup(gc.Close)
			return gc.Provider()
		}, gocardless.Provider(gocardless.Options{})},
		{"adyen defaults", func(t *testing.T) oauthlink.Provider {
			a := oauthlinktest.NewAdyen(oauthlinktest.AdyenOptions{})
			t.Cleanup(a.Close)
			return a.Provider()
		}, adyen.Provider(adyen.Options{})},
		{"adyen short tokens", func(t *testing.T) oauthlink.Provider {
			a := oauthlinktest.NewAdyen(oauthlinktest.AdyenOptions{AccessTokenLifetime: 5 * time.Minute})
			t.Cleanup(a.Close)
			return a.Provider()
		}, with(adyen.Provider(adyen.Options{}), func(p *oauthlink.Provider) { p.DefaultTokenLifetime = 5 * time.Minute })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.fake(t)
			if _, err := oauthlink.New(oauthlink.Config{
				Provider: got, ClientID: "app_test", ClientSecret: "secret", RedirectURL: "https://app.example/callback",
				Store: memstore.New(), Owner: func(*http.Request) (string, error) { return "shop-1", nil },
				CookieSecrets: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, AllowInsecureHTTP: true,
				Logger: slog.New(slog.DiscardHandler),
			}); err != nil {
				t.Fatalf("the fake's descriptor is invalid: %v", err)
			}
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(tc.want)
			for _, f := range reflect.VisibleFields(typ) {
				kind := providerFields[f.Name]
				if kind == endpoint || kind == 0 {
					continue
				}
				if kind == hook {
					if g, w := gv.FieldByIndex(f.Index).IsNil(), wv.FieldByIndex(f.Index).IsNil(); g != w {
						t.Errorf("Provider.%s is nil: %t; the real preset's: %t", f.Name, g, w)
					}
					continue
				}
				g, w := gv.FieldByIndex(f.Index).Interface(), wv.FieldByIndex(f.Index).Interface()
				if !reflect.DeepEqual(g, w) {
					what := "the real preset's"
					if kind == configured {
						what = "the preset's, as the fake's options configure it,"
					}
					t.Errorf("Provider.%s = %#v; want %s %#v", f.Name, g, what, w)
				}
			}
		})
	}
}

func with(p oauthlink.Provider, f func(*oauthlink.Provider)) oauthlink.Provider {
	f(&p)
	return p
}

func newQonto(t *testing.T, opts oauthlinktest.QontoOptions) *oauthlinktest.Qonto {
	q := oauthlinktest.NewQonto(opts)
	t.Cleanup(q.Close)
	return q
}

func newMollie(t *testing.T, opts oauthlinktest.MollieOptions) *oauthlinktest.Mollie {
	m := oauthlinktest.NewMollie(opts)
	t.Cleanup(m.Close)
	return m
}
