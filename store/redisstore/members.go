package redisstore

import "strings"

// The index is nine sorted sets whose members all have score 0, so that
// ZRANGEBYLEX pages through each in byte order. A member joins escaped
// components with sep; escNUL turns every NUL of a component into NUL
// 0x01, so a component never contains sep, never ends with NUL, and the
// encoding keeps byte order: (provider, owner) pairs sort as the pairs do,
// whatever bytes they hold.
const sep = "\x00\x00"

// escNUL escapes a component of an index member.
func escNUL(s string) string { return strings.ReplaceAll(s, "\x00", "\x00\x01") }

// unescNUL inverts escNUL, and reports whether s is an escaped component.
func unescNUL(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			if i+1 == len(s) || s[i+1] != 1 {
				return "", false
			}
			i++
		}
	}
	return strings.ReplaceAll(s, "\x00\x01", "\x00"), true
}

// indexSet names one of the index's sorted sets.
type indexSet int

const (
	setAll               indexSet = iota // provider, owner
	setStatus                            // status, provider, owner
	setAccount                           // provider, account id, owner
	setRef                               // refreshed+provider, owner
	setRefProvider                       // provider, refreshed+owner
	setRefStatus                         // status, refreshed+provider, owner
	setRefStatusProvider                 // status, provider, refreshed+owner
	setAccountRef                        // provider, account id, refreshed+owner
	setPending                           // provider, owner; pending revocations only
	numSets
)

// part is one component of a member.
type part uint8

const (
	partProvider part = iota
	partOwner
	partStatus
	partAccount
)

// layout describes a set's members: their components in order, and the
// component that the refreshedDigits of RefreshedAt prefix (-1: none).
type layout struct {
	name  string
	parts []part
	refOn int
}

var layouts = [numSets]layout{
	setAll:               {"all", []part{partProvider, partOwner}, -1},
	setStatus:            {"st", []part{partStatus, partProvider, partOwner}, -1},
	setAccount:           {"acct", []part{partProvider, partAccount, partOwner}, -1},
	setRef:               {"ref", []part{partProvider, partOwner}, 0},
	setRefProvider:       {"refp", []part{partProvider, partOwner}, 1},
	setRefStatus:         {"refs", []part{partStatus, partProvider, partOwner}, 1},
	setRefStatusProvider: {"refsp", []part{partStatus, partProvider, partOwner}, 2},
	setAccountRef:        {"acctr", []part{partProvider, partAccount, partOwner}, 2},
	setPending:           {"pend", []part{partProvider, partOwner}, -1},
}

// entry is what an index member says about a connection: its names and
// the values the member's set is keyed by. pending is
// store.Connection.PendingRevocation, which decides whether the
// connection has a member in the pending set.
type entry struct {
	provider, owner, status, account, refreshed string
	pending                                     bool
}

// member returns e's member in set, or "" when e has none there (the
// account sets hold only connections with an account id, the pending set
// only pending ones).
func (e entry) member(set indexSet) string {
	l := layouts[set]
	if e.account == "" && (set == setAccount || set == setAccountRef) {
		return ""
	}
	if set == setPending && !e.pending {
		return ""
	}
	comps := make([]string, len(l.parts))
	for i, p := range l.parts {
		comps[i] = escNUL(e.field(p))
		if i == l.refOn {
			comps[i] = e.refreshed + comps[i]
		}
	}
	return strings.Join(comps, sep)
}

func (e *entry) field(p part) string {
	switch p {
	case partProvider:
		return e.provider
	case partOwner:
		return e.owner
	case partStatus:
		return e.status
	}
	return e.account
}

// parseMember reads a member of set back into an entry, and reports
// whether m is a well-formed member.
func parseMember(set indexSet, m string) (entry, bool) {
	l := layouts[set]
	comps := strings.Split(m, sep)
	if len(comps) != len(l.parts) {
		return entry{}, false
	}
	e := entry{pending: set == setPending}
	for i, p := range l.parts {
		c := comps[i]
		if i == l.refOn {
			if len(c) < refreshedDigits {
				return entry{}, false
			}
			e.refreshed, c = c[:refreshedDigits], c[refreshedDigits:]
		}
		v, ok := unescNUL(c)
		if !ok {
			return entry{}, false
		}
		switch p {
		case partProvider:
			e.provider = v
		case partOwner:
			e.owner = v
		case partStatus:
			e.status = v
		case partAccount:
			e.account = v
		}
	}
	return e, true
}

// idxTag is the hash tag of every index key: on Redis Cluster the whole
// index lives in one slot, so one script updates all its sets together.
const idxTag = "{idx}"

// setKey returns the key of an index set.
func (s *Store) setKey(set indexSet) string {
	return s.prefix + "idx:" + idxTag + ":" + layouts[set].name
}

// metaKey returns the key of the hash that, on a split store, records what
// the index holds for each connection (see split.go).
func (s *Store) metaKey() string { return s.prefix + "idx:" + idxTag + ":meta" }

// setKeys returns the keys of the nine sets, in indexSet order.
func (s *Store) setKeys() []string {
	keys := make([]string, numSets)
	for i := range keys {
		keys[i] = s.setKey(indexSet(i))
	}
	return keys
}
