package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

func Example() {
	ctx := context.Background()
	st := memstore.New()

	c := &oauthlink.Connection{
		Provider:     "mollie",
		Owner:        "shop-42",
		AccessToken:  "access_example",
		RefreshToken: "refresh_example",
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(time.Hour),
		Status:       store.StatusActive,
	}
	if err := st.Save(ctx, c); err != nil { // Version 0: create
		panic(err)
	}
	fmt.Println("created version", c.Version)

	stale := c.Clone()
	c.AccessToken = "access_refreshed"
	if err := st.Save(ctx, c); err != nil { // compare-and-swap on Version 1
		panic(err)
	}
	fmt.Println("updated to version", c.Version)

	err := st.Save(ctx, stale) // still Version 1: another writer won
	fmt.Println("stale write conflicts:", errors.Is(err, store.ErrVersionConflict))

	got, _ := st.Load(ctx, "mollie", "shop-42")
	fmt.Println("stored token:", got.AccessToken.Reveal(), "printed:", got.AccessToken)
	// Output:
	// created version 1
	// updated to version 2
	// stale write conflicts: true
	// stored token: access_refreshed printed: [redacted]
}
