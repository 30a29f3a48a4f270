package oauthlinktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Persisting a fake's state.
//
// A fake keeps its merchants, grants, codes and tokens in memory, which is
// what a test wants. A demo that runs the fakes as a sandbox beside a
// database that outlives the process wants the opposite: connections saved
// in the database must keep working after a restart, so the fake must
// remember the grants it issued. PersistTo gives a fake a state file.

// stateVersion is the state file's format version.
const stateVersion = 1

// ErrStateFile reports a state file that exists but cannot be used: not
// this package's format, another provider's, or another version. The fake
// is left as it was.
var ErrStateFile = errors.New("oauthlinktest: unusable state file")

// stateFile is a fake's state on disk. Token values are the fake's
// own (random, worthless outside it), kept in clear: the file is written
// with mode 0600.
type stateFile struct {
	Version  int                        `json:"version"`
	Provider string                     `json:"provider"`
	ClientID string                     `json:"client_id"`
	Accounts []stateAccount             `json:"accounts"`
	Grants   []stateGrant               `json:"grants"`
	Codes    []stateCode                `json:"codes,omitempty"`
	Webhooks []QontoWebhookSubscription `json:"webhook_subscriptions,omitempty"`
	Links    []ClientLink               `json:"client_links,omitempty"`
}

type stateAccount struct {
	ID, Name, Email, Locale, Slug string
	Onboarding                    Onboarding
}

type stateGrant struct {
	ClientID         string       `json:"client_id"`
	Account          string       `json:"account"`
	Scopes           []string     `json:"scopes"`
	AuthRedirect     string       `json:"auth_redirect,omitempty"`
	Redirect         string       `json:"redirect"`
	ExchangeRedirect string       `json:"exchange_redirect,omitempty"`
	Challenge        string       `json:"challenge,omitempty"`
	Revoked          bool         `json:"revoked,omitempty"`
	Tokens           []stateToken `json:"tokens"`
}

type stateToken struct {
	Value   string    `json:"value"`
	Refresh bool      `json:"refresh,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked,omitempty"`
	UsedAt  time.Time `json:"used_at,omitzero"`
	// Access is the index in the grant's tokens of the access token a
	// refresh token was issued with; -1 for none.
	Access int `json:"access"`
}

type stateCode struct {
	Value   string    `json:"value"`
	Grant   int       `json:"grant"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
}

// persister writes a fake's state after every request that changed it.
type persister struct {
	path string
	mu   sync.Mutex // serialises writes
	last []byte
	err  error
}

// PersistTo gives the fake a state file at path: the merchants, grants,
// codes and tokens (and the Qonto fake's webhook subscriptions, the
// Mollie fake's client links). If the file exists, its state replaces the
// fake's (loaded reports true); then, after every request the fake serves
// that changed the state, and on Close, the state is written back
// atomically (a temporary file renamed over it, mode 0600). Call it once,
// before the fake serves anyone. A file that exists but is not a state
// of this fake's provider and client id fails with ErrStateFile and
// changes nothing; a missing file is not an error (loaded is false, and
// the file is created on the first change). A write that fails is
// reported by PersistErr and retried on the next change.
func (q *Qonto) PersistTo(path string) (loaded bool, err error) {
	return q.persistTo(path,
		func(st *stateFile) {
			st.Webhooks = q.WebhookSubscriptions()
		},
		func(st *stateFile) {
			q.webhooks.mu.Lock()
			q.webhooks.subs = slices.Clone(st.Webhooks)
			q.webhooks.mu.Unlock()
		})
}

// PersistTo is Qonto.PersistTo for the Mollie fake: its state includes
// the client links.
func (m *Mollie) PersistTo(path string) (loaded bool, err error) {
	return m.persistTo(path,
		func(st *stateFile) { // s.mu is held
			for _, l := range m.links {
				st.Links = append(st.Links, l.ClientLink)
			}
			slices.SortFunc(st.Links, func(a, b ClientLink) int { return a.CreatedAt.Compare(b.CreatedAt) })
		},
		func(st *stateFile) { // s.mu is held
			m.links = map[string]*clientLink{}
			for _, l := range st.Links {
				m.links[l.ID] = &clientLink{l}
			}
		})
}

// persistTo loads path, if it exists, and installs the persister. save
// and load add the provider's own parts; the Mollie ones run with s.mu
// held, the Qonto ones without (its subscriptions have their own lock).
func (s *server) persistTo(path string, save, load func(*stateFile)) (bool, error) {
	raw, err := os.ReadFile(path)
	loaded := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, err
	default:
		var st stateFile
		if err := json.Unmarshal(raw, &st); err != nil {
			return false, fmt.Errorf("%w: %s: %v", ErrStateFile, path, err)
		}
		if st.Version != stateVersion || st.Provider != s.cfg.name || st.ClientID != s.cfg.clientID {
			return false, fmt.Errorf("%w: %s holds version %d of provider %q, client %q", ErrStateFile, path, st.Version, st.Provider, st.ClientID)
		}
		if err := s.restore(&st, load); err != nil {
			return false, fmt.Errorf("%w: %s: %v", ErrStateFile, path, err)
		}
		loaded = true
	}
	p := &persister{path: path}
	if loaded {
		p.last = raw
	}
	s.mu.Lock()
	s.persist = func() { s.writeState(p, save) }
	s.mu.Unlock()
	return loaded, nil
}

// PersistErr returns the last failure to write the state file, or nil
// when the last write succeeded (or there was none).
func (s *server) PersistErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.persistErr
}

// snapshotLocked returns the state as the file holds it, with save's
// part when locked (Mollie's, guarded by s.mu). s.mu must be held.
func (s *server) snapshotLocked(save func(*stateFile), locked bool) *stateFile {
	st := &stateFile{Version: stateVersion, Provider: s.cfg.name, ClientID: s.cfg.clientID}
	for _, id := range slices.Sorted(maps.Keys(s.accounts)) {
		a := s.accounts[id]
		st.Accounts = append(st.Accounts, stateAccount{ID: a.id, Name: a.name, Email: a.email, Locale: a.locale, Slug: a.slug, Onboarding: a.onboarding})
	}
	values := map[*token]string{}
	for v, t := range s.access {
		values[t] = v
	}
	for v, t := range s.refresh {
		values[t] = v
	}
	grantIndex := map[*grant]int{}
	for i, g := range s.grants {
		grantIndex[g] = i
		gj := stateGrant{ClientID: g.clientID, Scopes: slices.Clone(g.scopes), AuthRedirect: g.authRedirect,
			Redirect: g.redirect, ExchangeRedirect: g.exchangeRedirect, Challenge: g.challenge, Revoked: g.revoked}
		if g.account != nil {
			gj.Account = g.account.id
		}
		for _, t := range g.tokens {
			tj := stateToken{Value: values[t], Refresh: t.refresh, Expires: t.expires, Revoked: t.revoked, UsedAt: t.usedAt, Access: slices.Index(g.tokens, t.access)}
			gj.Tokens = append(gj.Tokens, tj)
		}
		st.Grants = append(st.Grants, gj)
	}
	for _, v := range slices.Sorted(maps.Keys(s.codes)) {
		c := s.codes[v]
		if i, ok := grantIndex[c.grant]; ok {
			st.Codes = append(st.Codes, stateCode{Value: v, Grant: i, Expires: c.expires, Used: c.used})
		}
	}
	if locked && save != nil {
		save(st)
	}
	return st
}

// restore replaces the fake's state with st's.
func (s *server) restore(st *stateFile, load func(*stateFile)) error {
	s.mu.Lock()
	accounts := map[string]*account{}
	for _, a := range st.Accounts {
		accounts[a.ID] = &account{id: a.ID, name: a.Name, email: a.Email, locale: a.Locale, slug: a.Slug, onboarding: a.Onboarding}
	}
	access, refresh := map[string]*token{}, map[string]*token{}
	grants := make([]*grant, 0, len(st.Grants))
	for _, gj := range st.Grants {
		g := &grant{clientID: gj.ClientID, scopes: slices.Clone(gj.Scopes), authRedirect: gj.AuthRedirect,
			redirect: gj.Redirect, exchangeRedirect: gj.ExchangeRedirect, challenge: gj.Challenge, revoked: gj.Revoked}
		if gj.Account != "" {
			if g.account = accounts[gj.Account]; g.account == nil {
				s.mu.Unlock()
				return fmt.Errorf("a grant names the unknown account %q", gj.Account)
			}
		}
		for _, tj := range gj.Tokens {
			t := &token{grant: g, refresh: tj.Refresh, expires: tj.Expires, revoked: tj.Revoked, usedAt: tj.UsedAt}
			g.tokens = append(g.tokens, t)
			if tj.Value == "" {
				continue
			}
			if t.refresh {
				refresh[tj.Value] = t
			} else {
				access[tj.Value] = t
			}
		}
		for i, tj := range gj.Tokens {
			if tj.Access >= 0 && tj.Access < len(g.tokens) {
				g.tokens[i].access = g.tokens[tj.Access]
			}
		}
		grants = append(grants, g)
	}
	codes := map[string]*authCode{}
	for _, c := range st.Codes {
		if c.Grant < 0 || c.Grant >= len(grants) {
			s.mu.Unlock()
			return fmt.Errorf("a code names grant %d of %d", c.Grant, len(grants))
		}
		codes[c.Value] = &authCode{grant: grants[c.Grant], expires: c.Expires, used: c.Used}
	}
	s.accounts, s.grants, s.access, s.refresh, s.codes = accounts, grants, access, refresh, codes
	if s.cfg.name == "mollie" {
		load(st) // its client links live under s.mu
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	load(st)
	return nil
}

// writeState writes the state when it changed since the last write.
func (s *server) writeState(p *persister, save func(*stateFile)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.mu.Lock()
	mollie := s.cfg.name == "mollie"
	st := s.snapshotLocked(save, mollie)
	s.mu.Unlock()
	if !mollie {
		save(st)
	}
	raw, err := json.MarshalIndent(st, "", "\t")
	if err == nil && bytes.Equal(raw, p.last) {
		return
	}
	if err == nil {
		err = writeFileAtomic(p.path, raw)
	}
	s.mu.Lock()
	s.persistErr = err
	s.mu.Unlock()
	if err == nil {
		p.last = raw
	}
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path, so a crash leaves the old state or the new one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// persistNow writes the state if the fake has a state file: after a
// request, and on Close.
func (s *server) persistNow() {
	s.mu.Lock()
	p := s.persist
	s.mu.Unlock()
	if p != nil {
		p()
	}
}
