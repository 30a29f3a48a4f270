// Package fleet holds the operations that concern every connection of a
// Connector rather than one request: a Keeper that keeps idle connections
// alive and retries pending revocations, and MarkRevoked and
// MarkAccountRevoked, which record that a merchant revoked consent at the
// provider (for revocation webhooks, naming the app's owner or the
// provider account). Apps that serve requests only never need it.
//
// It drives the Connector's engine through the same rules as every
// request: the lease lock, one refresh at a time per connection, the
// re-read before each send and compare-and-swap writes, so several
// instances can run their Keepers side by side.
package fleet
