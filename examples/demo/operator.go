package main

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/oauthlink/oauthlink/fleet"
	"github.com/oauthlink/oauthlink/store"
)

// The operator view: every connection of every user, the status counts,
// the keepers' last passes and the revocations still pending. It is
// behind the demo's login like every page (a real app puts it behind its
// staff login) and says that it is an operator's view.

// operatorPath is the operator page.
const operatorPath = "/operator"

// keeperInterval is the time between two keeper passes (fleet's default),
// each jittered by up to a tenth either way.
const keeperInterval = 10 * time.Minute

// keeperRun is one keeper pass as the operator page shows it.
type keeperRun struct {
	At     time.Time
	Report fleet.KeeperReport
	Err    error
}

// keeperLog holds each provider's keeper and its last pass.
type keeperLog struct {
	mu      sync.Mutex
	last    map[string]keeperRun
	keepers map[string]*fleet.Keeper
}

func (l *keeperLog) record(provider string, run keeperRun) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]keeperRun{}
	}
	l.last[provider] = run
}

func (l *keeperLog) get(provider string) (keeperRun, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.last[provider]
	return r, ok
}

// pass runs one pass of the provider's keeper now and records it.
func (a *app) keeperPass(ctx context.Context, provider string, k *fleet.Keeper) keeperRun {
	rep, err := k.Pass(ctx)
	run := keeperRun{At: a.now(), Report: rep, Err: err}
	if ctx.Err() == nil {
		a.keeperLog.record(provider, run)
	}
	return run
}

// runKeeper is fleet.Keeper.Run with each pass's report kept for the
// operator page: a pass at once, then one every keeperInterval
// (jittered), until ctx ends.
// firstDone is called once the first pass is over.
func (a *app) runKeeper(ctx context.Context, provider string, k *fleet.Keeper, firstDone func()) {
	for {
		if run := a.keeperPass(ctx, provider, k); run.Err != nil && ctx.Err() == nil {
			a.log.Warn("keeper pass failed", "provider", provider, "error", run.Err)
		}
		if firstDone != nil {
			firstDone()
			firstDone = nil
		}
		jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(keeperInterval))
		t := time.NewTimer(keeperInterval + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

type operatorView struct {
	User        string
	Notice      string
	Problem     string
	SandboxLost []sandboxLoss
	Keepers     bool
	Providers   []operatorProvider
	Rows        []operatorRow
	Pending     []operatorRow
}

type operatorProvider struct {
	Name, Title string
	// Counts by status label, in statusOrder; Total is their sum.
	Counts []statusCount
	Total  int
	Keeper *keeperView
}

type statusCount struct {
	Status, Label string
	N             int
}

type keeperView struct {
	At, Ago                                               string
	Checked, Refreshed, AlreadyFresh, Reauth, Revocations int
	Failed                                                map[string]int
	Err                                                   string
}

type operatorRow struct {
	Provider, Owner, Account, AccountName string
	Status, Label                         string
	Expires, ExpiresIn                    string
	Refreshed, RefreshedAgo               string
	Retired                               int
}

// statusOrder is the order of the operator page's counts.
var statusOrder = []store.Status{store.StatusActive, store.StatusReauthRequired, store.StatusRevoked, store.StatusDisconnected}

// maxOperatorRows bounds the connections the operator page lists.
const maxOperatorRows = 1000

// operator is GET /operator.
func (a *app) operator(w http.ResponseWriter, r *http.Request) {
	v := operatorView{User: a.sessions.user(r), Notice: a.sessions.takeFlash(w, r, noticeCookie), SandboxLost: a.sandboxLost, Keepers: a.keepers != nil}
	now := a.now()
	counts := map[string]map[store.Status]int{}
	if !a.scans {
		v.Problem = "This store (" + a.storeDesc + ") cannot list connections (store.Scanner), so there is no fleet to show and no keeper runs."
	} else {
		scanner, _ := store.Capability[store.Scanner](a.store)
		q := store.Query{Limit: 500}
		for len(v.Rows) < maxOperatorRows {
			page, err := scanner.Scan(r.Context(), q)
			if err != nil {
				a.log.Error("operator: scanning connections", "error", err)
				v.Problem = "The token store could not be read, so the list below may be incomplete. Try again in a moment."
				break
			}
			for _, c := range page.Connections {
				if counts[c.Provider] == nil {
					counts[c.Provider] = map[store.Status]int{}
				}
				counts[c.Provider][c.Status]++
				row := operatorRow{Provider: c.Provider, Owner: c.Owner, Account: c.AccountID,
					AccountName: a.accounts.get(c.Provider, c.AccountID), Status: string(c.Status),
					Label: statusLabel(c.Status), Retired: len(c.Retired)}
				if !c.Expiry.IsZero() {
					row.Expires, row.ExpiresIn = fmtTime(c.Expiry), relative(c.Expiry, now)
				}
				if !c.RefreshedAt.IsZero() {
					row.Refreshed, row.RefreshedAgo = fmtTime(c.RefreshedAt), ago(c.RefreshedAt, now)
				}
				v.Rows = append(v.Rows, row)
				if c.Status == store.StatusDisconnected || len(c.Retired) > 0 {
					v.Pending = append(v.Pending, row)
				}
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	for _, p := range a.providers {
		op := operatorProvider{Name: p.name, Title: p.title}
		for _, s := range statusOrder {
			n := counts[p.name][s]
			op.Counts = append(op.Counts, statusCount{Status: string(s), Label: statusLabel(s), N: n})
			op.Total += n
		}
		if run, ok := a.keeperLog.get(p.name); ok {
			kv := &keeperView{At: fmtTime(run.At), Ago: ago(run.At, now), Checked: run.Report.Checked,
				Refreshed: run.Report.Refreshed, AlreadyFresh: run.Report.AlreadyFresh, Reauth: run.Report.ReauthRequired,
				Revocations: run.Report.RevocationsCompleted, Failed: run.Report.Failed}
			if run.Err != nil {
				kv.Err = "the pass stopped early: the store could not be read"
			}
			op.Keeper = kv
		}
		v.Providers = append(v.Providers, op)
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, http.StatusOK, "operator", v)
}

// operatorKeeper is POST /operator/keeper: one pass of every keeper now,
// then back to the operator page with what it did.
func (a *app) operatorKeeper(w http.ResponseWriter, r *http.Request) {
	a.keeperLog.mu.Lock()
	keepers := maps.Clone(a.keeperLog.keepers)
	a.keeperLog.mu.Unlock()
	if len(keepers) == 0 {
		a.errorPage(w, r, http.StatusNotImplemented, "No keeper runs here",
			"This store ("+a.storeDesc+") cannot list connections, so the demo runs no keeper.", "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	var refreshed, reauth, revoked, failed int
	var stopped bool
	for _, name := range slices.Sorted(maps.Keys(keepers)) {
		run := a.keeperPass(ctx, name, keepers[name])
		refreshed += run.Report.Refreshed
		reauth += run.Report.ReauthRequired
		revoked += run.Report.RevocationsCompleted
		for _, n := range run.Report.Failed {
			failed += n
		}
		stopped = stopped || run.Err != nil
	}
	msg := "Keeper pass done: " + plural(refreshed, "connection") + " refreshed, " + plural(reauth, "connection") +
		" now needing a reconnect, " + plural(revoked, "pending revocation") + " completed, " + plural(failed, "failure") + "."
	if stopped {
		msg += " A pass stopped early (see the log)."
	}
	a.notice(w, msg)
	http.Redirect(w, r, operatorPath, http.StatusSeeOther)
}

// plural says n things: "1 connection", "2 connections".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
