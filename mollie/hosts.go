package mollie

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/oauthlink/oauthlink/internal/apiclient"
)

// ErrHostNotAllowed: a URL from Mollie's answer, meant for a browser (a
// client link, a dashboard link), names a host that is not allowed. A
// client link on such a host is refused, since the flow's state would travel
// with it: whoever holds the state can finish the merchant's flow with an
// authorization code of their own (Mollie has no PKCE to stop them) and
// link the merchant's account to their organization. Add a host Mollie
// really uses to Client.BrowserHosts. Wrapped in ErrResponse.
var ErrHostNotAllowed = errors.New("mollie: URL names a host that is not allowed")

// hostEntry is one allowed host: a lower-case host name and an optional
// port ("" means the scheme's default port).
type hostEntry struct{ host, port string }

// hostSet is the set of hosts a URL from Mollie may name before a browser
// is sent there.
type hostSet struct {
	entries []hostEntry
	// loopback allows every loopback host, on any port: only set while the
	// Client itself talks to a loopback fake.
	loopback bool
}

// parseHostEntry reads "host" or "host:port" (IPv6 in brackets), as
// Client.BrowserHosts lists them.
func parseHostEntry(s string) (hostEntry, error) {
	u, err := url.Parse("//" + s)
	if err != nil || s == "" || u.Host != s || u.Hostname() == "" || u.User != nil || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, ":") || strings.ContainsAny(s, " %") {
		return hostEntry{}, fmt.Errorf("%w: BrowserHosts entry %q is not a host or host:port", ErrClientConfig, apiclient.Sanitize(s, 64))
	}
	return hostEntry{host: strings.ToLower(u.Hostname()), port: u.Port()}, nil
}

// hostOfURL is the allowed-host entry for an absolute URL's host, port
// included when the URL names one.
func hostOfURL(raw string) (hostEntry, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return hostEntry{}, fmt.Errorf("not an absolute URL")
	}
	return hostEntry{host: strings.ToLower(u.Hostname()), port: u.Port()}, nil
}

// withHosts adds the parsed entries of list to s.
func (s hostSet) withHosts(list []string) (hostSet, error) {
	out := hostSet{entries: append([]hostEntry(nil), s.entries...), loopback: s.loopback}
	for _, h := range list {
		e, err := parseHostEntry(h)
		if err != nil {
			return hostSet{}, err
		}
		out.entries = append(out.entries, e)
	}
	return out, nil
}

// check returns nil when href (already checked by checkHref) names an
// allowed host, else an error wrapping ErrHostNotAllowed that names the
// refused host (provider data, printable ASCII after checkHref).
func (s hostSet) check(href string) error {
	u, err := url.Parse(href)
	if err != nil {
		return fmt.Errorf("%w: unparsable URL", ErrHostNotAllowed)
	}
	if s.allows(u) {
		return nil
	}
	return fmt.Errorf("%w: %s (add it to Client.BrowserHosts if Mollie really uses it)", ErrHostNotAllowed, apiclient.Sanitize(u.Host, 255))
}

func (s hostSet) allows(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return false
	}
	if s.loopback && apiclient.IsLoopback(host) {
		return true
	}
	port := u.Port()
	def := apiclient.DefaultPort(u.Scheme)
	for _, e := range s.entries {
		if e.host != host {
			continue
		}
		switch {
		case e.port == "" && (port == "" || port == def):
			return true
		case e.port != "" && (e.port == port || (port == "" && e.port == def)):
			return true
		}
	}
	return false
}

// defaultBrowserHost is the host of Mollie's authorization endpoint,
// my.mollie.com, where client links and dashboards live.
var defaultBrowserHost = func() hostEntry {
	e, err := hostOfURL(AuthURL)
	if err != nil {
		panic(err)
	}
	return e
}()
