// Package store is the contract between oauthlink and the stores that keep
// its connections: the Connection record and its Secret fields, the
// TokenStore interface every store implements, and the optional
// capabilities (Locker, VersionDeleter, ReplayGuard, Pinger) a store offers
// to coordinate several instances of an app, and Scanner, which pages
// through connections across owners for the work about the whole fleet
// (the keeper's refreshes and revocation retries, webhooks, listings).
//
// Stores depend on this package alone, never on the lifecycle engine in
// package oauthlink. The implementations live beside it: memstore (in
// process), sqlstore (SQLite and PostgreSQL) and redisstore, each a module
// of its own where it needs a driver; storetest checks a store against the
// contract.
package store
