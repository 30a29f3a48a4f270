package oauthlink

// MemoryTokenEndpoint is the in-memory token endpoint of the benchmarks,
// for the external test package.
type MemoryTokenEndpoint = memoryTokenEndpoint

// The precise causes the package keeps unexported (each wraps a public
// sentinel), for the external tests that check them.
var (
	ErrCookieTooLarge = errCookieTooLarge
	ErrTokenResponse  = errTokenResponse
	ErrInvalidParam   = errInvalidParam
	ErrNotAPIOrigin   = errNotAPIOrigin
	ErrIssuerMissing  = errIssuerMissing
	ErrIssuerMismatch = errIssuerMismatch
	ErrTooManyFlows   = errTooManyFlows
	ErrNoRefreshToken = errNoRefreshToken
)

// Limits the external tests probe.
const (
	MaxFlowsPerOwner = maxFlowsPerOwner
	MaxOwnerLen      = maxOwnerLen
)

// ValidReturnTo is the return-to check, for the external tests.
func ValidReturnTo(s string) bool { return validReturnTo(s) }
