package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/sqlstore"
)

// A single instance on SQLite: a file, WAL and a busy timeout.
func Example_sqlite() {
	dir, err := os.MkdirTemp("", "oauthlink-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "oauthlink.db")+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	st, err := sqlstore.New(ctx, db, sqlstore.Options{}) // creates the tables
	if err != nil {
		log.Fatal(err)
	}
	c := &oauthlink.Connection{
		Provider: "mollie", Owner: "shop-42",
		AccessToken: "access_example", RefreshToken: "refresh_example",
		TokenType: "Bearer", Expiry: time.Now().Add(time.Hour), Status: store.StatusActive,
	}
	if err := st.Save(ctx, c); err != nil { // Version 0: create
		log.Fatal(err)
	}
	stale := *c
	stale.Version = 0
	err = st.Save(ctx, &stale) // a second create loses
	fmt.Println(c.Version, errors.Is(err, store.ErrVersionConflict))
	// Output: 1 true
}

// Many instances on PostgreSQL: every instance runs New at start-up (the
// first one creates the tables, the others wait for it), then shares
// connections, locks and replay records through the database.
func Example_postgres() {
	// import _ "github.com/jackc/pgx/v5/stdlib" registers the "pgx" driver.
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	// A held lock occupies no connection (it is a lease row), and every
	// call borrows one for one statement: bound the pool to this
	// instance's share of max_connections, and keep as many idle, since
	// the default of 2 idle makes every burst open new server
	// connections (see the package documentation on pool sizing).
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sqlstore.New(ctx, db, sqlstore.Options{Schema: "oauthlink"})
	if err != nil {
		log.Fatal(err)
	}
	var _ store.TokenStore = st
}

// Refreshing under the cross-instance lock: re-read after locking, renew
// the lease while working, and still write with compare-and-swap, because
// the lease can expire.
func ExampleStore_Lock() {
	var st *sqlstore.Store // from sqlstore.New
	ctx := context.Background()
	lease, err := st.Lock(ctx, "qonto", "shop-42", 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Release()
	c, err := st.Load(ctx, "qonto", "shop-42")
	if err != nil {
		log.Fatal(err)
	}
	if time.Until(c.Expiry) > time.Minute {
		return // another instance refreshed while we waited
	}
	// ... spend c.RefreshToken at the provider. Work that may outlast the
	// ttl renews the lease first, and stops if it was lost:
	if err := lease.Renew(ctx, 30*time.Second); errors.Is(err, store.ErrLeaseLost) {
		return // expired or taken: another instance may be refreshing
	}
	// ... then:
	if err := st.Save(ctx, c); errors.Is(err, store.ErrVersionConflict) {
		// someone else wrote first: reload and use their token
	}
}
