package oauthlink

import "sync"

// ResetPlaintextWarning makes New warn again about a store that does not
// encrypt at rest, as it does once per process.
func ResetPlaintextWarning() { plaintextWarning = sync.Once{} }
