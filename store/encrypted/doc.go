// Package encrypted wraps a store.TokenStore so that tokens are stored
// encrypted with AES-256-GCM, and so that whoever can write to the inner
// store, but has no key, cannot make oauthlink use a token or a token
// setting of their choice.
//
//	inner := memstore.New() // or sqlstore, redisstore, your own
//	st, err := encrypted.New(inner, encrypted.Options{Keys: []encrypted.Key{{ID: "k1", Key: key}}})
//	if err != nil { ... }
//	link, err := oauthlink.New(oauthlink.Config{Store: st, ...})
//
// The wrapper passes the inner store's optional capabilities
// (store.Locker, store.VersionDeleter, store.ReplayGuard, store.Pinger)
// through its Unwrap method, where oauthlink looks for them.
//
// # What is sealed and what is bound
//
// Access tokens, refresh tokens, the extra token fields and the tokens of
// retired grants (Connection.Retired) are sealed. Every token value gets a
// random 96-bit nonce, and associated data binding the provider, the
// owner, the field (a retired token: its position in the list) and the
// connection's security-relevant metadata: store.Status, Expiry (to the
// millisecond, the precision stores keep; Save stores it so truncated),
// RedirectURI, AccountID, Scopes, TokenType, every retired grant's Kind and
// Since, and which token fields are set. A ciphertext copied to another row
// or field, or a record whose status, expiry, redirect URI, account, scopes
// or retired list was changed, or one of whose tokens was removed, fails to
// open: Load and List return an error wrapping ErrDecrypt, and nothing is
// changed. Every Save re-seals every value, so writes through the wrapper
// may change anything. Writes that bypass it (an UPDATE of the status
// column) are refused on the next read, as tampering.
//
// # Plaintext and the migration
//
// Plaintext is refused: a token value that is not sealed is an error
// wrapping ErrDecrypt that names the field, never read as a token, because
// a database writer could have planted it. Records written before
// encryption was enabled are migrated once: open the store with New and
// Options.MigratePlaintext (as Config.Store, or in a one-off job), run
// Reseal over every owner until it reports nothing left to reseal, then go
// back to a store without MigratePlaintext.
//
// # Formats and rotation
//
// Values are written as "olk2:<key id>:…". Values of the previous format
// ("olk1:", which bound only the provider, the owner and the field) are
// still read, and upgraded on the record's next write (refresh, reconnect)
// or by Reseal; until then their metadata is not authenticated. Rotate keys
// by prepending a new one: each record is re-encrypted with it on its next
// write, or at once by Reseal, after which the old key can be dropped.
//
// # What a writer without the key can still do
//
// No key-less check can tell these apart from legitimate writes: delete a
// record; put back an older copy of the same connection's record whole
// (from a backup, or one it saw earlier), with its older tokens and
// metadata, which rolls the connection back; change Version, CreatedAt and
// UpdatedAt, which change on every write and are not bound; change the
// metadata of a record that holds no token at all (nothing is sealed to
// bind it to); change the metadata of a record still in the previous
// format; and, while MigratePlaintext is set, replace a record's tokens by
// unencrypted ones of its choice.
//
// # Errors
//
// The wrapper's Load and List return ErrDecrypt for a value that cannot be
// decrypted or is not sealed, and every method returns the inner store's
// errors as they are (a Connector reports those as oauthlink.ErrStore).
//
// This package depends on package store only, never on package oauthlink.
package encrypted
