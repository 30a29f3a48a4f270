package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

// statsOut is what stats prints with --json.
type statsOut struct {
	Connections []statsRow `json:"connections"`
	Total       int        `json:"total"`
	Due         dueOut     `json:"due"`
}

type statsRow struct {
	Provider string       `json:"provider"`
	Status   store.Status `json:"status"`
	Count    int          `json:"count"`
}

type dueOut struct {
	Provider string    `json:"provider"`
	Idle     string    `json:"idle"`
	Fraction float64   `json:"fraction"`
	Before   time.Time `json:"refreshed_before"`
	Count    int       `json:"count"`
}

// parseIdle reads a duration: Go's syntax, or a number of days ("90d").
func parseIdle(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usagef("--idle must be a positive duration (2160h) or a number of days (90d), got %q", s)
}

// parseFraction reads "2/3" or "0.5", in (0, 1].
func parseFraction(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if num, den, ok := strings.Cut(s, "/"); ok {
		n, err1 := strconv.ParseFloat(num, 64)
		d, err2 := strconv.ParseFloat(den, 64)
		f, err = n/d, cmp.Or(err1, err2)
		if d == 0 {
			err = strconv.ErrRange
		}
	}
	if err != nil || !(f > 0 && f <= 1) {
		return 0, usagef("--fraction must be a number in (0, 1] such as 2/3 or 0.5, got %q", s)
	}
	return f, nil
}

func (c *cli) stats(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	provider := fs.String("provider", "", "count only this provider's connections")
	dueProvider := fs.String("due-provider", "qonto", `the provider whose refresh tokens expire from disuse ("" for every provider)`)
	idleFlag := fs.String("idle", "90d", "how long the provider keeps an unused refresh token (90d, or a Go duration)")
	fractionFlag := fs.String("fraction", "2/3", "a connection is due once this fraction of --idle has passed since its last refresh")
	asJSON := fs.Bool("json", false, "one JSON object instead of a table")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	idle, err := parseIdle(*idleFlag)
	if err != nil {
		return err
	}
	fraction, err := parseFraction(*fractionFlag)
	if err != nil {
		return err
	}
	due := dueOut{Provider: *dueProvider, Idle: idle.String(), Fraction: fraction,
		Before: time.Now().UTC().Add(-time.Duration(float64(idle) * fraction)).Truncate(time.Second)}
	counts := map[statsRow]int{}
	var total int
	err = c.withStore(ctx, func(st *encrypted.Store) error {
		sc, err := scanner(st)
		if err != nil {
			return err
		}
		return scanAll(ctx, sc, store.Query{Provider: *provider, Limit: 1000}, func(conn *store.Connection) error {
			counts[statsRow{Provider: conn.Provider, Status: conn.Status}]++
			total++
			if conn.Status == store.StatusActive && (due.Provider == "" || conn.Provider == due.Provider) &&
				conn.RefreshedAt.Before(due.Before) {
				due.Count++
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	out := statsOut{Connections: []statsRow{}, Total: total, Due: due}
	for row, n := range counts {
		row.Count = n
		out.Connections = append(out.Connections, row)
	}
	slices.SortFunc(out.Connections, func(a, b statsRow) int {
		return cmp.Or(strings.Compare(a.Provider, b.Provider), strings.Compare(string(a.Status), string(b.Status)))
	})
	if *asJSON {
		return writeJSON(c.stdout, out)
	}
	return c.statsText(out)
}

func (c *cli) statsText(out statsOut) error {
	t := newTable(c.stdout, "PROVIDER", "STATUS", "CONNECTIONS")
	for _, r := range out.Connections {
		t.row(cell(r.Provider), string(r.Status), strconv.Itoa(r.Count))
	}
	t.row("total", "", strconv.Itoa(out.Total))
	if err := t.flush(); err != nil {
		return err
	}
	who := "active connections"
	if out.Due.Provider != "" {
		who = "active " + out.Due.Provider + " connections"
	}
	_, err := fmt.Fprintf(c.stdout, "\ndue for upkeep: %d (%s last refreshed before %s: %.3g of %s idle)\n",
		out.Due.Count, who, out.Due.Before.Format(time.RFC3339), out.Due.Fraction, out.Due.Idle)
	return err
}
