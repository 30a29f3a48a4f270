package oauthlink

import (
	"context"
	"time"
)

// SetKeeperSleep replaces how k waits (between passes and for its rate
// limit), so tests advance their clock instead of sleeping.
func SetKeeperSleep(k *Keeper, sleep func(context.Context, time.Duration) error) { k.sleep = sleep }
