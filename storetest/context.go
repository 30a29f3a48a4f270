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
	for _, m := range doneCalls {
		t.Run(m.name, func(t *testing.T) {
			for _, c := range doneContexts {
				t.Run(c.name, func(t *testing.T) {
					st := s.store(t)
					err := m.call(t, st, c.ctx(t))
					assert.ErrorIs(t, err, c.want, "%s with a done context must return an error wrapping ctx.Err()", m.name)
				})
			}
		})
	}
}

// doneContexts are the ways a context can be done before a call, with the
// error each must make the call return.
var doneContexts = []struct {
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

// doneCalls are the store methods testCancelledContext calls. Each call
// uses done, then checks with a live context that nothing changed, and
// returns the error of the call with done.
var doneCalls = []struct {
	name string
	call func(t *testing.T, st store.TokenStore, done context.Context) error
}{
	{"Load", loadWithDone},
	{"List", listWithDone},
	{"SaveCreate", saveCreateWithDone},
	{"SaveUpdate", saveUpdateWithDone},
	{"Delete", deleteWithDone},
	{"DeleteVersion", deleteVersionWithDone},
	{"Lock", lockWithDone},
	{"Renew", renewWithDone},
	{"Consume", consumeWithDone},
	{"Ping", pingWithDone},
	{"Scan", scanWithDone},
}

// loadWithDone loads a stored record with done.
func loadWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	create(t, st, NewConnection("mollie", "owner-1"))
	_, err := st.Load(done, "mollie", "owner-1")
	return err
}

// listWithDone lists an owner that has a record with done.
func listWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	create(t, st, NewConnection("mollie", "owner-1"))
	_, err := st.List(done, "owner-1")
	return err
}

// saveCreateWithDone creates a record with done: c stays as it was and
// nothing is stored.
func saveCreateWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	c := NewConnection("mollie", "owner-1")
	untouched := c.Clone()
	err := st.Save(done, c)
	AssertConnectionEqual(t, untouched, c, "a failed Save changed the caller's connection")
	assertAbsent(t, st, "mollie", "owner-1")
	return err
}

// saveUpdateWithDone updates a record with done: c stays as it was and
// the record too.
func saveUpdateWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	stored := create(t, st, NewConnection("mollie", "owner-1"))
	c := stored.Clone()
	c.AccessToken = "access_should_not_be_stored"
	untouched := c.Clone()
	err := st.Save(done, c)
	AssertConnectionEqual(t, untouched, c, "a failed Save changed the caller's connection")
	assertStored(t, st, stored)
	return err
}

// deleteWithDone deletes a record with done, which must stay stored.
func deleteWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	stored := create(t, st, NewConnection("mollie", "owner-1"))
	err := st.Delete(done, "mollie", "owner-1")
	assertStored(t, st, stored)
	return err
}

// deleteVersionWithDone calls DeleteVersion with done and the record's
// version; the record must stay stored.
func deleteVersionWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	vd := capability[store.VersionDeleter](t, st)
	stored := create(t, st, NewConnection("mollie", "owner-1"))
	err := vd.DeleteVersion(done, "mollie", "owner-1", stored.Version)
	assertStored(t, st, stored)
	return err
}

// lockWithDone calls Lock with done; the lock must stay free.
func lockWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	lk := capability[store.Locker](t, st)
	unlock, err := lk.Lock(done, "mollie", "owner-1", time.Minute)
	if err == nil {
		unlock.Release()
		return err
	}
	// The failed call must not hold the lock.
	unlock2 := lockWithin(t, lk, "mollie", "owner-1", time.Minute)
	unlock2.Release()
	return err
}

// renewWithDone renews a held lease with done: the lease is not lost, its
// Deadline does not move, and it stays held and renewable.
func renewWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	lk := capability[store.Locker](t, st)
	lease := lockWithin(t, lk, "mollie", "owner-1", time.Minute)
	deadline := lease.Deadline()
	err := lease.Renew(done, time.Minute)
	assert.NotErrorIs(t, err, store.ErrLeaseLost, "a done ctx does not lose the lease")
	assert.True(t, lease.Deadline().Equal(deadline), "a failed Renew moved Deadline")
	// The failed call left the lease held and renewable.
	require.NoError(t, lease.Renew(testContext(t), time.Minute), "Renew after a Renew with a done ctx")
	assertLockBusy(t, lk, "mollie", "owner-1", "a Renew with a done ctx released the lock")
	return err
}

// consumeWithDone consumes a key with done, which must not record it.
func consumeWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	rg := capability[store.ReplayGuard](t, st)
	_, err := rg.Consume(done, "key", time.Now().Add(time.Hour))
	first, err2 := rg.Consume(testContext(t), "key", time.Now().Add(time.Hour))
	require.NoError(t, err2)
	assert.True(t, first, "a Consume with a done context recorded the key")
	return err
}

// pingWithDone pings with done.
func pingWithDone(t *testing.T, st store.TokenStore, done context.Context) error {
	p := capability[store.Pinger](t, st)
	return p.Ping(done)
}
