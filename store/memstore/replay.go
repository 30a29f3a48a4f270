package memstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthlink/oauthlink/internal/replayguard"
)

// Consume records key until expires and reports whether this call was the
// first to do so (store.ReplayGuard). Expired keys are swept first, so
// a key whose record expired is accepted again. An expires that is not in
// the future records nothing: the key would be forgotten at once. When
// Options.MaxStates unexpired keys are already recorded, Consume returns
// ErrTooManyStates.
func (s *Store) Consume(ctx context.Context, key string, expires time.Time) (first bool, err error) {
	first, err = s.guard.Consume(ctx, key, expires)
	switch {
	case errors.Is(err, replayguard.ErrFull):
		return false, fmt.Errorf("memstore: consume: %d states pending: %w", s.guard.Len(), ErrTooManyStates)
	case err != nil:
		return false, fmt.Errorf("memstore: consume: %w", err)
	}
	return first, nil
}
