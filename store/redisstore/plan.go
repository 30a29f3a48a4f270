package redisstore

import (
	"fmt"
	"strings"

	"github.com/oauthlink/oauthlink/internal/storekit"
	"github.com/oauthlink/oauthlink/store"
)

// scanPlan is how Scan answers a query: the index set to read and the
// range of its members that match the query's filters.
type scanPlan struct {
	q   store.Query
	set indexSet
	// The members that match start with prefix and sort before hi (no
	// bound when hi is empty).
	prefix, hi string
}

// newPlan picks the set whose order is the query's order and whose
// members start with what the query filters on, so that a range of it
// holds exactly the matches (an account set leaves Status to be checked
// record by record, and so does the pending set; with RefreshedBefore,
// PendingRevocation is checked record by record too).
func newPlan(q store.Query) (scanPlan, error) {
	if err := storekit.CheckQuery("redisstore", q); err != nil {
		return scanPlan{}, err
	}
	p := scanPlan{q: q}
	byRefresh := !q.RefreshedBefore.IsZero()
	pick := func(ref, plain indexSet) indexSet {
		if byRefresh {
			return ref
		}
		return plain
	}
	prov, status := escNUL(q.Provider)+sep, escNUL(string(q.Status))+sep
	switch {
	case q.AccountID != "":
		p.set, p.prefix = pick(setAccountRef, setAccount), prov+escNUL(q.AccountID)+sep
	case q.PendingRevocation && !byRefresh:
		// The pending set holds only the pending connections; a status
		// is checked record by record.
		p.set = setPending
		if q.Provider != "" {
			p.prefix = prov
		}
	case q.Status != "" && q.Provider != "":
		p.set, p.prefix = pick(setRefStatusProvider, setStatus), status+prov
	case q.Status != "":
		p.set, p.prefix = pick(setRefStatus, setStatus), status
	case q.Provider != "":
		p.set, p.prefix = pick(setRefProvider, setAll), prov
	default:
		p.set = pick(setRef, setAll)
	}
	if p.prefix != "" {
		// The prefix ends with sep, NUL NUL: every member that starts
		// with it sorts before the prefix with its last NUL made 0x01.
		p.hi = p.prefix[:len(p.prefix)-1] + "\x01"
	}
	if byRefresh {
		if cutoff, all := refreshedCutoff(q.RefreshedBefore); !all {
			p.hi = p.prefix + cutoff
		}
	}
	return p, nil
}

// bounds returns the ZRANGEBYLEX min and max of the members after the
// member after ("" for the first page).
func (p scanPlan) bounds(after string) (lo, hi string) {
	switch {
	case after != "":
		lo = "(" + after
	case p.prefix != "":
		lo = "[" + p.prefix
	default:
		lo = "-"
	}
	hi = "+"
	if p.hi != "" {
		hi = "(" + p.hi
	}
	return lo, hi
}

// cursor returns the opaque cursor that resumes after member, in the
// codec every store shares (internal/storekit): the member's sort key,
// bound to the query's filters.
func (p scanPlan) cursor(member string) string {
	e, _ := parseMember(p.set, member)
	return storekit.EncodeCursor(p.q, storekit.Cursor{RefreshedAt: unixMilliOf(e.refreshed), Provider: e.provider, Owner: e.owner})
}

// after decodes cursor into the member to resume after: "" for the first
// page, or an error wrapping store.ErrBadCursor for a cursor not issued
// for the query's filters. The member is the cursor's sort key in the
// plan's set: the other components of its members are the query's.
func (p scanPlan) after(cursor string) (string, error) {
	c, start, err := storekit.DecodeCursor(p.q, cursor)
	if err != nil {
		return "", fmt.Errorf("redisstore: scan: %w", err)
	}
	if start {
		return "", nil
	}
	refreshed, ok := storedOfUnixMilli(c.RefreshedAt)
	e := entry{provider: c.Provider, owner: c.Owner, status: string(p.q.Status), account: p.q.AccountID, refreshed: refreshed,
		pending: p.q.PendingRevocation}
	m := e.member(p.set)
	if !ok || !strings.HasPrefix(m, p.prefix) || (p.hi != "" && m >= p.hi) {
		return "", fmt.Errorf("redisstore: scan: cursor outside the query: %w", store.ErrBadCursor)
	}
	return m, nil
}
