package qonto

import (
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/internal/webhooksig"
)

// SignatureHeader is the header carrying a webhook's signature:
// t={unix seconds},v1={hex HMAC-SHA256 of "{t}.{raw body}"}, keyed with the
// subscription's secret.
const SignatureHeader = "X-Qonto-Signature"

// Bounds on a webhook signature's timestamp.
const (
	// SignatureMaxAge is how old a signature may be: an older one is a
	// replay, or a delivery too late to trust.
	SignatureMaxAge = 5 * time.Minute
	// SignatureMaxSkew is how far in the future a signature's timestamp
	// may be, for clocks that disagree a little.
	SignatureMaxSkew = 30 * time.Second
)

// ErrSignature: a webhook's X-Qonto-Signature is missing, malformed, too
// old, too far in the future, or made with none of the secrets. The
// message says which, never a secret or a signature.
var ErrSignature = errors.New("qonto: invalid webhook signature")

// VerifySignature checks header, a webhook's X-Qonto-Signature, against
// the raw request body: the timestamp t must be at most SignatureMaxAge
// before now and at most SignatureMaxSkew after it, and one of the header's
// v1 values must be the hex HMAC-SHA256 of "{t}.{body}" under one of
// secrets (several are accepted while a subscription's secret is rotated).
// Signatures are compared in constant time. An error wraps ErrSignature.
func VerifySignature(header string, body []byte, now time.Time, secrets ...[]byte) error {
	if err := webhooksig.Verify(SignatureHeader, header, body, now, SignatureMaxAge, SignatureMaxSkew, secrets); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}
