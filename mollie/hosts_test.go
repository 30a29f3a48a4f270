package mollie

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserHostsDefault: a Client talking to Mollie allows only
// my.mollie.com (and BrowserHosts); one talking to a loopback fake also
// allows loopback hosts, on any port, so fakes need no setting.
func TestBrowserHostsDefault(t *testing.T) {
	tests := []struct {
		base  string
		hosts []string
		href  string
		ok    bool
	}{
		{"", nil, "https://my.mollie.com/dashboard/client-link/cl_1", true},
		{"", nil, "https://my.mollie.com:443/x", true},
		{"", nil, "https://My.Mollie.Com/x", true},
		{"", nil, "https://my.mollie.com./x", false},
		{"", nil, "https://api.mollie.com/x", false},
		{"", nil, "https://www.mollie.com/x", false},
		{"", nil, "https://attacker.example/x", false},
		{"", nil, "https://localhost/x", false},
		{"", nil, "https://127.0.0.1/x", false},
		{"https://api.mollie.com", []string{"www.mollie.com"}, "https://www.mollie.com/x", true},
		{"https://api.mollie.com", []string{"www.mollie.com"}, "https://www.mollie.com:8443/x", false},
		{"https://api.mollie.com", []string{"www.mollie.com:8443"}, "https://www.mollie.com:8443/x", true},
		{"https://api.mollie.com", []string{"www.mollie.com:8443"}, "https://www.mollie.com/x", false},
		{"https://api.mollie.com", []string{"www.mollie.com:443"}, "https://www.mollie.com/x", true},
		{"https://api.mollie.com", []string{"[2001:db8::1]:8443"}, "https://[2001:db8::1]:8443/x", true},
		{"http://127.0.0.1:1", nil, "http://localhost:4000/x", true},
		{"http://127.0.0.1:1", nil, "http://127.0.0.1:4000/x", true},
		{"http://127.0.0.1:1", nil, "http://[::1]:4000/x", true},
		{"http://127.0.0.1:1", nil, "https://my.mollie.com/x", true},
		{"http://127.0.0.1:1", nil, "https://attacker.example/x", false},
		{"http://localhost:1", nil, "https://localhost.attacker.example/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.href, func(t *testing.T) {
			hs, err := (&Client{BaseURL: tt.base, AllowInsecureHTTP: true, BrowserHosts: tt.hosts}).browserHosts()
			require.NoError(t, err)
			require.NoError(t, checkHref(tt.href))
			err = hs.check(tt.href)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrHostNotAllowed)
			}
			u, err := url.Parse(tt.href)
			require.NoError(t, err)
			assert.Equal(t, tt.ok, hs.allows(u))
		})
	}
}

// TestBrowserHostsConfig: a BrowserHosts entry must be a bare host or
// host:port; anything else is a configuration error and nothing is sent.
func TestBrowserHostsConfig(t *testing.T) {
	for _, bad := range []string{"", "https://links.example", "links.example/cl", "links.example:", "u@links.example",
		"links.example?x", "links.example#x", "links example", ":443", "%6cinks.example", "links.example:https"} {
		t.Run(bad, func(t *testing.T) {
			f := newFake(t)
			c := orgClient(t, f)
			c.BrowserHosts = []string{"links.example", bad}
			_, err := c.CreateClientLink(context.Background(), validRequest())
			assert.ErrorIs(t, err, ErrClientConfig)
			c = merchantClient(t, f)
			c.BrowserHosts = []string{"links.example", bad}
			_, err = c.Organization(context.Background())
			assert.ErrorIs(t, err, ErrClientConfig)
			_, err = c.Onboarding(context.Background())
			assert.ErrorIs(t, err, ErrClientConfig)
			assert.Zero(t, f.count("POST /v2/client-links")+f.count("GET /v2/organizations/me")+f.count("GET /v2/onboarding/me"), "nothing sent")
		})
	}
	for _, good := range []string{"links.example", "LINKS.example:8443", "[::1]:8080", "192.0.2.1"} {
		_, err := parseHostEntry(good)
		assert.NoError(t, err, good)
	}
}

// FuzzClientLinkHref: whatever href Mollie's answer carries, the URL the
// handler would send the browser to is https on my.mollie.com's default
// port without userinfo, or it is refused.
func FuzzClientLinkHref(f *testing.F) {
	for _, s := range []string{
		"https://my.mollie.com/dashboard/client-link/cl_1?lang=nl",
		"https://attacker.example/dashboard/client-link/cl_1",
		"https://my.mollie.com.attacker.example/",
		"https://my.mollie.com@attacker.example/",
		"https://attacker.example#@my.mollie.com",
		"https://attacker.example?@my.mollie.com",
		`https://attacker.example\.my.mollie.com/`,
		"https://my.mollie.com:443/",
		"https://my.mollie.com:0443/",
		"HTTPS://MY.MOLLIE.COM/x",
		"//my.mollie.com/x",
		"http://my.mollie.com/x",
	} {
		f.Add(s)
	}
	hs := hostSet{entries: []hostEntry{defaultBrowserHost}}
	f.Fuzz(func(t *testing.T, href string) {
		if checkHref(href) != nil || hs.check(href) != nil {
			return
		}
		build, err := linkURLBuilder(href, "app_1", []string{"organizations.read"}, "")
		if err != nil {
			return
		}
		out := build("STATE")
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("accepted %q but built unparsable %q", href, out)
		}
		if u.Scheme != "https" || !strings.EqualFold(u.Hostname(), "my.mollie.com") || (u.Port() != "" && u.Port() != "443") || u.User != nil {
			t.Fatalf("accepted %q, which sends the browser to %q", href, out)
		}
	})
}
