package oauthlink

import "github.com/oauthlink/oauthlink/store"

// Connection is one platform owner's link to one provider account, as the
// store keeps it. It is defined in package store, with the rest of the
// store contract, so that stores depend on that contract alone; the alias
// lets apps that only read connections import this package alone.
type Connection = store.Connection
