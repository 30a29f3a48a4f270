package redisstore_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/redisstore"
)

func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	// New refuses a server that can lose saved connections (no
	// append-only file, appendfsync no, eviction): see the package
	// documentation on durability.
	st, err := redisstore.New(client, redisstore.Options{Prefix: "myapp:oauthlink:"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Ping(ctx); err != nil {
		log.Fatal(err)
	}
	c := &oauthlink.Connection{Provider: "qonto", Owner: "shop-42", AccessToken: "access_example",
		RefreshToken: "refresh_example", Expiry: time.Now().Add(time.Hour), Status: store.StatusActive}
	if err := st.Save(ctx, c); err != nil {
		log.Fatal(err)
	}
}

// With replicas, WaitReplicas makes a write return only once a replica has
// it, so that a failover keeps rotated tokens (see the package
// documentation on durability).
func Example_waitReplicas() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
	})
	defer client.Close()
	st, err := redisstore.New(client, redisstore.Options{WaitReplicas: 1, WaitTimeout: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	c := &oauthlink.Connection{Provider: "qonto", Owner: "shop-42"}
	err = st.Save(context.Background(), c)
	if errors.Is(err, redisstore.ErrNotReplicated) {
		// Saved on the primary only: alert, and treat the rotation as at
		// risk until a later write is replicated.
	}
}

// In development, on a Redis without persistence: accept the risk
// explicitly, and say what it is.
func Example_allowVolatile() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	ctx := context.Background()
	if err := redisstore.CheckDurability(ctx, client); errors.Is(err, redisstore.ErrVolatile) ||
		errors.Is(err, redisstore.ErrDurabilityUnknown) {
		slog.Warn("Redis may lose saved connections; running anyway", "risk", err)
	} else if err != nil {
		log.Fatal(err)
	}
	st, err := redisstore.New(client, redisstore.Options{AllowVolatile: true})
	if err != nil {
		log.Fatal(err)
	}
	var _ store.TokenStore = st
}
