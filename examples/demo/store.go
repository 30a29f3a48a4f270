package main

import "github.com/oauthlink/oauthlink/cmd/storeenv"

// The demo opens its store with package storeenv, which the oauthlink CLI
// (cmd/oauthlink) shares, so both read OAUTHLINK_STORE and the token keys
// alike.

// storeSpec is a parsed OAUTHLINK_STORE.
type storeSpec = storeenv.Spec

// parseStore parses "sqlite:<path>", "memory", "postgres://…" (or
// "postgresql://…") and "redis://…" (or "rediss://…").
var parseStore = storeenv.Parse

// openStore opens the driver's store, unencrypted (storeenv.OpenDriver):
// every store here also implements store.Locker, store.ReplayGuard and
// store.Pinger, which the connectors pick up by themselves. A Redis that
// can lose saved connections is used anyway, with a warning in log.
var openStore = storeenv.OpenDriver

// pgMaxConns bounds each instance's PostgreSQL pool.
const pgMaxConns = storeenv.PostgresMaxConns
