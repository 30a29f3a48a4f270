package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
)

// testCancelledContext calls every method with a context that is already
// done: each must return an error wrapping ctx.Err() and change nothing.
func (s suite) testCancelledContext(t *testing.T) {
	contexts := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{"Canceled", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, context.Canceled},
		{"DeadlineExceeded", func(t *testing.T) context.Context {
			ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
	}
	methods := []struct {
		name string
		// call uses done, then checks with a live context that nothing changed.
		call func(t *testing.T, st store.TokenStore, done context.Context) error
	}{
		{"Load", func(t *testing.T, st store.TokenStore, done context.Context) error {
			create(t, st, NewConnection("mollie", "owner-1"))
			_, err := st.Load(done, "mollie", "owner-1")
			return err
		}},
		{"List", func(t *testing.T, st store.TokenStore, done context.Context) error {
			create(t, st, NewConnection("mollie", "owner-1"))
			_, err := st.List(done, "owner-1")
			return err
		}},
		{"SaveCreate", func(t *testing.T, st store.TokenStore, done context.Context) error {
			c := NewConnection("mollie", "owner-1")
			untouched := c.Clone()
			err := st.Save(done, c)
			AssertConnectionEqual(t, untouched, c, "a failed Save changed the caller's connection")
			assertAbsent(t, st, "mollie", "owner-1")
			return err
		}},
		{"SaveUpdate", func(t *testing.T, st store.TokenStore, done context.Context) error {
			stored := create(t, st, NewConnection("mollie", "owner-1"))
			c := stored.Clone()
			c.AccessToken = "access_should_not_be_stored"
			untouched := c.Clone()
			err := st.Save(done, c)
			AssertConnectionEqual(t, untouched, c, "a failed Save changed the caller's connection")
			assertStored(t, st, stored)
			return err
		}},
		{"Delete", func(t *testing.T, st store.TokenStore, done context.Context) error {
			stored := create(t, st, NewConnection("mollie", "owner-1"))
			err := st.Delete(done, "mollie", "owner-1")
			assertStored(t, st, stored)
			return err
		}},
		{"DeleteVersion", func(t *testing.T, st store.TokenStore, done context.Context) error {
			vd, ok := st.(store.VersionDeleter)
			if !ok {
				t.Skip("store does not implement store.VersionDeleter")
			}
			stored := create(t, st, NewConnection("mollie", "owner-1"))
			err := vd.DeleteVersion(done, "mollie", "owner-1", stored.Version)
			assertStored(t, st, stored)
			return err
		}},
		{"Lock", func(t *testing.T, st store.TokenStore, done context.Context) error {
			lk, ok := st.(store.Locker)
			if !ok {
				t.Skip("store does not implement store.Locker")
			}
			unlock, err := lk.Lock(done, "mollie", "owner-1", time.Minute)
			if err == nil {
				unlock.Release()
				return err
			}
			// The failed call must not hold the lock.
			unlock2 := lockWithin(t, lk, "mollie", "owner-1", time.Minute)
			unlock2.Release()
			return err
		}},
		{"Renew", func(t *testing.T, st store.TokenStore, done context.Context) error {
			lk, ok := st.(store.Locker)
			if !ok {
				t.Skip("store does not implement store.Locker")
			}
			lease := lockWithin(t, lk, "mollie", "owner-1", time.Minute)
			deadline := lease.Deadline()
			err := lease.Renew(done, time.Minute)
			assert.NotErrorIs(t, err, store.ErrLeaseLost, "a done ctx does not lose the lease")
			assert.True(t, lease.Deadline().Equal(deadline), "a failed Renew moved Deadline")
			// The failed call left the lease held and renewable.
			require.NoError(t, lease.Renew(testContext(t), time.Minute), "Renew after a Renew with a done ctx")
			assertLockBusy(t, lk, "mollie", "owner-1", "a Renew with a done ctx released the lock")
			return err
		}},
		{"Consume", func(t *testing.T, st store.TokenStore, done context.Context) error {
			rg, ok := st.(store.ReplayGuard)
			if !ok {
				t.Skip("store does not implement store.ReplayGuard")
			}
			_, err := rg.Consume(done, "key", time.Now().Add(time.Hour))
			first, err2 := rg.Consume(testContext(t), "key", time.Now().Add(time.Hour))
			require.NoError(t, err2)
			assert.True(t, first, "a Consume with a done context recorded the key")
			return err
		}},
		{"Ping", func(t *testing.T, st store.TokenStore, done context.Context) error {
			p, ok := st.(store.Pinger)
			if !ok {
				t.Skip("store does not implement store.Pinger")
			}
			return p.Ping(done)
		}},
	}
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			for _, c := range contexts {
				t.Run(c.name, func(t *testing.T) {
					st := s.store(t)
					err := m.call(t, st, c.ctx(t))
					assert.ErrorIs(t, err, c.want, "%s with a done context must return an error wrapping ctx.Err()", m.name)
				})
			}
		})
	}
}
