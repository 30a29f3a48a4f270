package compare_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/gologin/v2"
	oauth2login "github.com/dghubble/gologin/v2/oauth2"
	"github.com/google/uuid"
	"github.com/gorilla/sessions"
	"github.com/markbates/goth"
	"github.com/markbates/goth/gothic"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// The one provider every library is pointed at. Nothing listens at these
// hosts: the authorization URL is only built, and the token endpoint is
// answered in memory by tokenEndpoint.
const (
	authURL      = "https://provider.example/oauth2/authorize"
	tokenURL     = "https://provider.example/oauth2/tokens"
	redirectURL  = "https://app.example/connect/bench/callback"
	startURL     = "https://app.example/connect/bench"
	clientID     = "app_bench"
	clientSecret = "secret_bench"
	providerName = "bench"
	flowTTL      = 10 * time.Minute
)

var scopes = []string{"organizations.read"}

// Cookie keys. Every library that signs or encrypts gets a 32-byte HMAC-SHA256
// key and a 32-byte AES-256 key (oauthlink derives both from one secret).
var (
	hashKey         = bytes.Repeat([]byte{0x11}, 32)
	blockKey        = bytes.Repeat([]byte{0x22}, 32)
	oauthlinkSecret = bytes.Repeat([]byte{0x33}, 32)
)

// discardLogger drops every record before it is formatted; the peers log
// nothing on these paths either.
var discardLogger = slog.New(slog.DiscardHandler)

// lib is one library wired to the fake provider: a start handler (redirect
// to the authorization URL, state cookie set) and a callback handler (state
// checked against its cookie, code exchanged, 303 to "/" on success).
type lib struct {
	name     string
	start    http.Handler
	callback http.Handler
	// startCode is the status the start handler answers with.
	startCode int
	// pkce is whether the flow sends an S256 code challenge.
	pkce bool
	// ctx is the context of every request sent to the handlers: it carries
	// the shared *http.Client under oauth2.HTTPClient, which is how
	// x/oauth2 (and so gologin) is given a client. The other libraries take
	// the client in their configuration and ignore this value.
	ctx context.Context
}

type libCase struct {
	name string
	new  func(testing.TB, *http.Client) *lib
}

// libs is the order the benchmarks list the libraries in; run.sh rotates it.
var libs = []libCase{
	{"oauthlink", newOauthlink},
	{"gologin", newGologin},
	{"zitadel", newZitadel},
	{"gothic", newGothic},
}

func clientContext(client *http.Client) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, client)
}

// connected is the peers' success handler: what oauthlink's default
// OnConnected does (303 See Other to "/"). It persists nothing; oauthlink
// additionally consumes the state in its replay guard and saves the
// connection in its store (see BenchmarkReference for what that costs).
func connected(w http.ResponseWriter, tok *oauth2.Token) {
	if tok == nil || tok.AccessToken == "" {
		http.Error(w, "no token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", "/")
	w.WriteHeader(http.StatusSeeOther)
}

func oauth2Config() *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL,
		Scopes: scopes,
		// Pinned like oauthlink's AuthStyleBasic: no auto-detection.
		Endpoint: oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// newOauthlink: a Connector with its defaults (signed and encrypted
// per-flow cookie, PKCE S256, in-memory store and replay guard), logging
// discarded.
func newOauthlink(tb testing.TB, client *http.Client) *lib {
	tb.Helper()
	c, err := oauthlink.New(oauthlink.Config{
		Provider: oauthlink.Provider{
			Name: providerName, AuthURL: authURL, TokenURL: tokenURL,
			AuthStyle: oauthlink.AuthStyleBasic, DefaultScopes: scopes, PKCE: true,
		},
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL,
		Store:         memstore.New(),
		Owner:         ownerOf,
		CookieSecrets: [][]byte{oauthlinkSecret},
		HTTPClient:    client,
		Logger:        discardLogger,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &lib{name: "oauthlink", start: c.StartHandler(), callback: c.CallbackHandler(),
		startCode: http.StatusSeeOther, pkce: true, ctx: clientContext(client)}
}

// ownerOf is oauthlink's Config.Owner: the account named in ownerHeader,
// "shop-1" when none is.
func ownerOf(r *http.Request) (string, error) {
	if u := r.Header.Get(ownerHeader); u != "" {
		return u, nil
	}
	return "shop-1", nil
}

// newGologin: StateHandler + LoginHandler / CallbackHandler as in gologin's
// README, with DefaultCookieConfig (HttpOnly, Secure, SameSite=Lax, 10 min).
// The state cookie holds the state in clear text, unsigned; gologin has no
// PKCE. x/oauth2 takes the client from the request context.
func newGologin(tb testing.TB, client *http.Client) *lib {
	tb.Helper()
	cfg := oauth2Config()
	cookie := gologin.DefaultCookieConfig
	success := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := oauth2login.TokenFromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		connected(w, tok)
	})
	return &lib{name: "gologin",
		start:     oauth2login.StateHandler(cookie, oauth2login.LoginHandler(cfg, nil)),
		callback:  oauth2login.StateHandler(cookie, oauth2login.CallbackHandler(cfg, success, nil)),
		startCode: http.StatusFound, ctx: clientContext(client)}
}

// newZitadel: an OAuth2-only relying party (NewRelyingPartyOAuth) with a
// securecookie CookieHandler (HMAC-SHA256 + AES-256, gob-encoded), PKCE
// through the same handler, the shared client, and a uuid state as in the
// library's examples.
func newZitadel(tb testing.TB, client *http.Client) *lib {
	tb.Helper()
	cookies := httphelper.NewCookieHandler(hashKey, blockKey, httphelper.WithMaxAge(int(flowTTL/time.Second)))
	party, err := rp.NewRelyingPartyOAuth(oauth2Config(),
		rp.WithCookieHandler(cookies), rp.WithPKCE(cookies), rp.WithHTTPClient(client),
		rp.WithAuthStyle(oauth2.AuthStyleInHeader), rp.WithLogger(discardLogger))
	if err != nil {
		tb.Fatal(err)
	}
	state := func() string { return uuid.New().String() }
	callback := func(w http.ResponseWriter, r *http.Request, tokens *oidc.Tokens[*oidc.IDTokenClaims], state string, _ rp.RelyingParty) {
		connected(w, tokens.Token)
	}
	return &lib{name: "zitadel",
		start:     rp.AuthURLHandler(state, party),
		callback:  rp.CodeExchangeHandler(callback, party),
		startCode: http.StatusFound, pkce: true, ctx: clientContext(client)}
}

// newGothic: gothic.BeginAuthHandler / CompleteUserAuth over a gorilla
// CookieStore with a hash and a block key (signed and encrypted), cookie
// options as the others (HttpOnly, Secure, SameSite=Lax, 10 min), and the
// provider name fixed as gothic's docs suggest for other routers. goth has
// no generic OAuth2 provider that stops at the token (each one fetches a
// profile), so gothProvider below is a minimal one with PKCE.
//
// gothic keeps its store, provider registry and provider-name hook in
// package variables: the last newGothic wins, which is fine for benchmarks
// that run one at a time.
func newGothic(tb testing.TB, client *http.Client) *lib {
	tb.Helper()
	store := sessions.NewCookieStore(hashKey, blockKey)
	store.Options = &sessions.Options{Path: "/", MaxAge: int(flowTTL / time.Second), HttpOnly: true,
		Secure: true, SameSite: http.SameSiteLaxMode}
	store.MaxAge(store.Options.MaxAge)
	gothic.Store = store
	gothic.GetProviderName = func(*http.Request) (string, error) { return providerName, nil }
	goth.ClearProviders()
	goth.UseProviders(&gothProvider{name: providerName, config: oauth2Config(), client: client})
	callback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := gothic.CompleteUserAuth(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		connected(w, &oauth2.Token{AccessToken: user.AccessToken})
	})
	return &lib{name: "gothic", start: http.HandlerFunc(gothic.BeginAuthHandler), callback: callback,
		startCode: http.StatusTemporaryRedirect, pkce: true, ctx: clientContext(client)}
}

// gothProvider is a minimal goth.Provider for a plain OAuth2 server: the
// authorization-code grant with PKCE through x/oauth2 and the configured
// client, and FetchUser answering from the session (no profile endpoint).
// It follows the shape of goth's own providers (e.g. gitea).
type gothProvider struct {
	name   string
	config *oauth2.Config
	client *http.Client
}

var _ goth.Provider = (*gothProvider)(nil)

func (p *gothProvider) Name() string        { return p.name }
func (p *gothProvider) SetName(name string) { p.name = name }
func (p *gothProvider) Debug(bool)          {}

func (p *gothProvider) BeginAuth(state string) (goth.Session, error) {
	verifier := oauth2.GenerateVerifier()
	return &gothSession{
		AuthURL:  p.config.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)),
		Verifier: verifier,
	}, nil
}

func (p *gothProvider) UnmarshalSession(data string) (goth.Session, error) {
	s := &gothSession{}
	err := json.NewDecoder(strings.NewReader(data)).Decode(s)
	return s, err
}

var errNoAccessToken = errors.New("gothProvider: no access token yet")

func (p *gothProvider) FetchUser(session goth.Session) (goth.User, error) {
	s := session.(*gothSession)
	if s.AccessToken == "" {
		// gothic then calls Authorize and FetchUser again.
		return goth.User{}, errNoAccessToken
	}
	return goth.User{Provider: p.name, AccessToken: s.AccessToken,
		RefreshToken: s.RefreshToken, ExpiresAt: s.ExpiresAt}, nil
}

func (p *gothProvider) RefreshTokenAvailable() bool { return true }

func (p *gothProvider) RefreshToken(refreshToken string) (*oauth2.Token, error) {
	ts := p.config.TokenSource(goth.ContextForClient(p.client), &oauth2.Token{RefreshToken: refreshToken})
	return ts.Token()
}

type gothSession struct {
	AuthURL      string
	Verifier     string `json:",omitempty"`
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
}

func (s *gothSession) GetAuthURL() (string, error) {
	if s.AuthURL == "" {
		return "", errors.New(goth.NoAuthUrlErrorMessage)
	}
	return s.AuthURL, nil
}

func (s *gothSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (s *gothSession) Authorize(provider goth.Provider, params goth.Params) (string, error) {
	p := provider.(*gothProvider)
	tok, err := p.config.Exchange(goth.ContextForClient(p.client), params.Get("code"), oauth2.VerifierOption(s.Verifier))
	if err != nil {
		return "", err
	}
	if !tok.Valid() {
		return "", errors.New("gothProvider: invalid token received")
	}
	s.Verifier = ""
	s.AccessToken, s.RefreshToken, s.ExpiresAt = tok.AccessToken, tok.RefreshToken, tok.Expiry
	return tok.AccessToken, nil
}
