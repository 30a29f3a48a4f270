package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

func (c *cli) rewrap(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	from := fs.String("from", "", "resume at this cursor, as a previous run printed it")
	pageSize := fs.Int("page-size", 100, "connections read per page (1 to 1000)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *pageSize < 1 || *pageSize > 1000 {
		return usagef("--page-size must be between 1 and 1000, got %d", *pageSize)
	}
	return c.withStore(ctx, func(st *encrypted.Store) error {
		sc, err := scanner(st)
		if err != nil {
			return err
		}
		r := rewrapper{c: c, st: st, sc: sc, progress: c.terminal(c.stderr)}
		err = r.run(ctx, store.Query{Cursor: *from, Limit: *pageSize})
		fmt.Fprintf(c.stdout, "rewrapped %d of %d connections scanned\n", r.rewrapped, r.scanned)
		if err != nil {
			if r.cursor != "" || *from != "" {
				fmt.Fprintf(c.stderr, "oauthlink rewrap: stopped; resume with: oauthlink rewrap --from %s\n", r.cursor)
			}
			return err
		}
		if r.failed > 0 {
			return fmt.Errorf("%d connection(s) could not be rewrapped (see above); fix them and run again", r.failed)
		}
		return nil
	})
}

// rewrapper is one rewrap run.
type rewrapper struct {
	c        *cli
	st       *encrypted.Store
	sc       store.Scanner
	progress bool
	// cursor is the cursor of the page being rewrapped: where to resume.
	cursor                     string
	scanned, rewrapped, failed int
}

// run rewraps page after page from q.Cursor. The owners of a page are
// resealed (encrypted.Reseal) before the next page is read, so resuming
// at the cursor of the page that was interrupted loses nothing; a record
// already rewrapped is skipped.
func (r *rewrapper) run(ctx context.Context, q store.Query) error {
	r.cursor = q.Cursor
	for {
		p, err := r.sc.Scan(ctx, q)
		if err != nil {
			if errors.Is(err, encrypted.ErrNoScan) {
				err = errNoScan
			}
			return err
		}
		var owners []string
		seen := map[string]bool{}
		for _, conn := range p.Connections {
			if !seen[conn.Owner] {
				seen[conn.Owner] = true
				owners = append(owners, conn.Owner)
			}
		}
		n, err := encrypted.Reseal(ctx, r.st, owners...)
		r.scanned += len(p.Connections)
		r.rewrapped += n
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// Each failure names its connection, never a value.
			fmt.Fprintf(r.c.stderr, "oauthlink rewrap: %v\n", err)
			r.failed += countJoined(err)
		}
		if p.Next == "" {
			return nil
		}
		q.Cursor, r.cursor = p.Next, p.Next
		if r.progress {
			fmt.Fprintf(r.c.stderr, "rewrap: %d scanned, %d rewrapped; next page --from %s\n", r.scanned, r.rewrapped, p.Next)
		}
	}
}

// countJoined counts the errors errors.Join joined into err.
func countJoined(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

func (c *cli) migrate(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	e, err := storeenv.FromEnv(c.getenv)
	if err != nil {
		return err
	}
	switch e.Spec.Kind {
	case "redis":
		_, err = fmt.Fprintf(c.stdout, "%s: nothing to migrate (redisstore has no schema)\n", e.Spec)
		return err
	case "memory":
		_, err = fmt.Fprintf(c.stdout, "%s: nothing to migrate\n", e.Spec)
		return err
	case "sqlite":
		if _, err := os.Stat(e.Spec.Path); err != nil {
			fmt.Fprintf(c.stdout, "%s does not exist: creating it\n", e.Spec.Path)
		}
	}
	// sqlstore.New applies every pending migration, under a lock, and
	// does nothing on an up-to-date schema.
	_, closeStore, err := storeenv.OpenDriver(ctx, e.Spec, c.logger())
	if err != nil {
		return err
	}
	if err := closeStore(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s: schema up to date (sqlstore does not expose its schema version)\n", e.Spec)
	return err
}
