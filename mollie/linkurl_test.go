package mollie

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var linkScopes = []string{"onboarding.read", "onboarding.write"}

type clientLinkURLCase struct {
	name     string
	href     string
	clientID string
	state    string
	scopes   []string
	prompt   string
	want     string // "" = error expected
}

var clientLinkURLCases = []clientLinkURLCase{

	{
		name: "plain href", href: "https://my.mollie.com/dashboard/client-link/cl_abc",
		clientID: "app_abc123qwerty", state: "s1", scopes: linkScopes,
		want: "https://my.mollie.com/dashboard/client-link/cl_abc?client_id=app_abc123qwerty&state=s1&scope=onboarding.read%20onboarding.write",
	},
	{
		name: "existing query kept byte for byte", href: "https://my.mollie.com/dashboard/client-link/csr_x?lang=nl&x=a%20b+c",
		clientID: "app_1", state: "s", scopes: linkScopes,
		want: "https://my.mollie.com/dashboard/client-link/csr_x?lang=nl&x=a%20b+c&client_id=app_1&state=s&scope=onboarding.read%20onboarding.write",
	},
	{
		name: "finalize path shape", href: "https://my.mollie.com/dashboard/client-link/finalize/csr_vZCnNQsV2UtfXxYifWKWH",
		clientID: "app_1", state: "s", scopes: []string{"organizations.read"},
		want: "https://my.mollie.com/dashboard/client-link/finalize/csr_vZCnNQsV2UtfXxYifWKWH?client_id=app_1&state=s&scope=organizations.read",
	},
	{
		name: "href ending in ?", href: "https://my.mollie.com/cl/1?",
		clientID: "app_1", state: "s", scopes: linkScopes,
		want: "https://my.mollie.com/cl/1?client_id=app_1&state=s&scope=onboarding.read%20onboarding.write",
	},
	{
		name: "href ending in &", href: "https://my.mollie.com/cl/1?a=1&",
		clientID: "app_1", state: "s", scopes: linkScopes,
		want: "https://my.mollie.com/cl/1?a=1&client_id=app_1&state=s&scope=onboarding.read%20onboarding.write",
	},
	{
		name: "approval_prompt force", href: "https://my.mollie.com/cl/1",
		clientID: "app_1", state: "s", scopes: linkScopes, prompt: ApprovalForce,
		want: "https://my.mollie.com/cl/1?client_id=app_1&state=s&scope=onboarding.read%20onboarding.write&approval_prompt=force",
	},
	{
		name: "approval_prompt auto", href: "https://my.mollie.com/cl/1",
		clientID: "app_1", state: "s", scopes: linkScopes, prompt: ApprovalAuto,
		want: "https://my.mollie.com/cl/1?client_id=app_1&state=s&scope=onboarding.read%20onboarding.write&approval_prompt=auto",
	},
	{
		name: "values are escaped, spaces as %20 and plus as %2B", href: "https://my.mollie.com/cl/1",
		clientID: "app_a&b", state: "x y+z/=", scopes: []string{"a.read"},
		want: "https://my.mollie.com/cl/1?client_id=app_a%26b&state=x%20y%2Bz%2F%3D&scope=a.read",
	},
	{
		name: "loopback http allowed for fakes", href: "http://127.0.0.1:8080/client-link/cl_1",
		clientID: "app_1", state: "s", scopes: linkScopes,
		want: "http://127.0.0.1:8080/client-link/cl_1?client_id=app_1&state=s&scope=onboarding.read%20onboarding.write",
	},
	{name: "bad approval_prompt", href: "https://my.mollie.com/cl/1", clientID: "app_1", state: "s", scopes: linkScopes, prompt: "always"},
	{name: "approval_prompt upper case", href: "https://my.mollie.com/cl/1", clientID: "app_1", state: "s", scopes: linkScopes, prompt: "FORCE"},
	{name: "href already has redirect_uri", href: "https://my.mollie.com/cl/1?redirect_uri=https://evil.example", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href already has client_id", href: "https://my.mollie.com/cl/1?client_id=app_other", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href already has encoded state", href: "https://my.mollie.com/cl/1?st%61te=x", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href already has scope after ;", href: "https://my.mollie.com/cl/1?a=1;scope=x", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href with fragment", href: "https://my.mollie.com/cl/1#frag", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href plain http", href: "http://my.mollie.com/cl/1", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href javascript", href: "javascript:alert(1)", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href relative", href: "/client-link/cl_1", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href protocol-relative", href: "//evil.example/cl_1", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href with userinfo", href: "https://my.mollie.com@evil.example/cl_1", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href with space", href: "https://my.mollie.com/cl 1", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "href empty", href: "", clientID: "app_1", state: "s", scopes: linkScopes},
	{name: "no client id", href: "https://my.mollie.com/cl/1", state: "s", scopes: linkScopes},
	{name: "no state", href: "https://my.mollie.com/cl/1", clientID: "app_1", scopes: linkScopes},
	{name: "no scopes", href: "https://my.mollie.com/cl/1", clientID: "app_1", state: "s"},
	{name: "scope with space", href: "https://my.mollie.com/cl/1", clientID: "app_1", state: "s", scopes: []string{"a b"}},
	{name: "empty scope", href: "https://my.mollie.com/cl/1", clientID: "app_1", state: "s", scopes: []string{""}},
}

func TestClientLinkURL(t *testing.T) {
	for _, tt := range clientLinkURLCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClientLinkURL(tt.href, tt.clientID, tt.state, tt.scopes, tt.prompt)
			if tt.want == "" {
				require.ErrorIs(t, err, ErrLinkURL)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			u, err := url.Parse(got)
			require.NoError(t, err)
			q := u.Query()
			assert.NotContains(t, q, "redirect_uri")
			assert.Equal(t, tt.state, q.Get("state"))
			assert.Equal(t, tt.clientID, q.Get("client_id"))
			assert.Equal(t, strings.Join(tt.scopes, " "), q.Get("scope"))
			assert.NotContains(t, u.RawQuery, "scope=onboarding.read+", "scope must use %20, not '+'")
		})
	}
}
