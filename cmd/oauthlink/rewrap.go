package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

func (c *cli) rewrap(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	from := fs.String("from", "", "resume at this cursor, as a previous run printed it")
	pageSize := fs.Int("page-size", 100, "connections read per page (1 to 1000)")
	workers := fs.Int("workers", 4, "connections rewrapped at once (1 to 64); each holds one store connection")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *pageSize < 1 || *pageSize > 1000 {
		return usagef("--page-size must be between 1 and 1000, got %d", *pageSize)
	}
	if *workers < 1 || *workers > 64 {
		return usagef("--workers must be between 1 and 64, got %d", *workers)
	}
	return c.withStore(ctx, func(st *encrypted.Store) error {
		sc, err := scanner(st)
		if err != nil {
			return err
		}
		r := rewrapper{c: c, st: st, sc: sc, workers: *workers, progress: c.terminal(c.stderr)}
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
	workers  int
	progress bool
	// cursor is the cursor of the page being rewrapped: where to resume.
	cursor                     string
	scanned, rewrapped, failed int
}

// run rewraps page after page from q.Cursor. The owners of a page are
// resealed (encrypted.Reseal, split among the workers) before the next
// page is read, so resuming at the cursor of the page that was
// interrupted loses nothing; a record already rewrapped is skipped.
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
		n, err := r.reseal(ctx, owners)
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

// reseal reseals the owners' connections with up to r.workers
// encrypted.Reseal calls at once, each on its share of the owners (every
// call takes each record's lease and writes with compare-and-swap, so the
// shares never touch the same record twice). It returns how many records
// were rewritten and every failure joined.
func (r *rewrapper) reseal(ctx context.Context, owners []string) (int, error) {
	w := min(r.workers, len(owners))
	if w <= 1 {
		return encrypted.Reseal(ctx, r.st, owners...)
	}
	counts, errs := make([]int, w), make([]error, w)
	var wg sync.WaitGroup
	for i := range w {
		share := owners[i*len(owners)/w : (i+1)*len(owners)/w]
		wg.Go(func() { counts[i], errs[i] = encrypted.Reseal(ctx, r.st, share...) })
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return total, errors.Join(errs...)
}

// countJoined counts the errors errors.Join joined into err, through
// the joins of joins the workers' shares make.
func countJoined(err error) int {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return 1
	}
	n := 0
	for _, e := range j.Unwrap() {
		n += countJoined(e)
	}
	return n
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
		return c.reindex(ctx, e.Spec)
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

// reindex is migrate on Redis, which has no schema: it adds every record
// to the indexes Scan reads (redisstore.Store.Reindex), so that records
// saved by an older version, before an index existed, are listed, kept
// and found by webhooks. Reindex is idempotent, resumable and safe while
// the apps run.
func (c *cli) reindex(ctx context.Context, spec storeenv.Spec) error {
	st, closeStore, err := storeenv.OpenDriver(ctx, spec, c.logger())
	if err != nil {
		return err
	}
	defer closeStore()
	r, ok := st.(interface {
		Reindex(context.Context) (int, error)
	})
	if !ok {
		return fmt.Errorf("%s: this store cannot rebuild its indexes", spec)
	}
	n, err := r.Reindex(ctx)
	if err != nil {
		return fmt.Errorf("%s: rebuilding the indexes (run migrate again to resume): %w", spec, err)
	}
	_, err = fmt.Fprintf(c.stdout, "%s: no schema; indexes rebuilt over %d connections\n", spec, n)
	return err
}
