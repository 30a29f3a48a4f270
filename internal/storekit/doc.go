// Package storekit holds what the store drivers (store/sqlstore,
// store/redisstore) share: the checks and stored forms of a Save
// (EncodeSave, DecodeScopes, EncodeRetired, DecodeRetired), the outcome
// of one (SaveConflict, Saved), and the client-side bookkeeping of a lock
// lease (LeaseState). One implementation of each keeps the drivers from
// drifting apart.
//
// It depends only on the standard library and package store (the
// contract), never on a driver or on the engine package, so that each
// driver can be a Go module of its own.
package storekit
