package oauthlink_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// versionDeleterOnly is a store with VersionDeleter but no Locker (nor any
// other capability), as a third-party store might be. It records which
// delete reached it, and runs beforeDelete, once, just before the first
// one does.
type versionDeleterOnly struct {
	store.TokenStore
	vd store.VersionDeleter

	mu           sync.Mutex
	beforeDelete func()
	deletes      []string
}

var _ store.VersionDeleter = (*versionDeleterOnly)(nil)

func newVersionDeleterOnly() *versionDeleterOnly {
	m := memstore.New()
	return &versionDeleterOnly{TokenStore: m, vd: m}
}

func (s *versionDeleterOnly) deleting(method string) {
	s.mu.Lock()
	s.deletes = append(s.deletes, method)
	hook := s.beforeDelete
	s.beforeDelete = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
}

func (s *versionDeleterOnly) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deletes...)
}

func (s *versionDeleterOnly) Delete(ctx context.Context, provider, owner string) error {
	s.deleting("Delete")
	return s.TokenStore.Delete(ctx, provider, owner)
}

func (s *versionDeleterOnly) DeleteVersion(ctx context.Context, provider, owner string, version int64) error {
	s.deleting("DeleteVersion")
	return s.vd.DeleteVersion(ctx, provider, owner, version)
}

// A disconnect's final delete on a store without Locker but with
// VersionDeleter: it deletes the record it marked, and when a reconnect
// commits between the disconnect's re-read and its delete (the store runs
// the reconnect's callback just before the delete reaches it), the new
// connection survives. Encrypted, the store sits behind the encrypting
// wrapper, whose Unwrap must lead the disconnect to DeleteVersion.
func TestDisconnectConditionalDeleteWithoutLocker(t *testing.T) {
	for _, tc := range []struct {
		name      string
		encrypted bool
		reconnect bool
	}{
		{"Deletes", false, false},
		{"KeepsReconnect", false, true},
		{"EncryptedDeletes", true, false},
		{"EncryptedKeepsReconnect", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newVersionDeleterOnly()
			_, hasLocker := any(st).(store.Locker)
			require.False(t, hasLocker, "the test store must not offer Locker")
			var used store.TokenStore = st
			if tc.encrypted {
				used = sealedOver(t, st, tokenKey("k1", 9))
			}
			e := newEnv(t, withStore(used))
			link := e.links["mollie"]
			old := e.connected("mollie", "shop-1")
			oldTokens, err := used.Load(context.Background(), "mollie", "shop-1")
			require.NoError(t, err)

			var (
				status int
				getErr error
			)
			if tc.reconnect {
				b := e.browser("shop-1")
				cb := b.authorize("mollie", "") // the callback is sent from inside the delete
				st.beforeDelete = func() {
					resp, err := b.c.Get(cb)
					if err != nil {
						getErr = err
						return
					}
					resp.Body.Close()
					status = resp.StatusCode
				}
			}
			done := make(chan error, 1)
			go func() { done <- link.Disconnect(context.Background(), "shop-1") }()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("Disconnect did not return")
			}

			assert.Equal(t, []string{"DeleteVersion"}, st.calls(), "the final delete is conditional")
			assert.False(t, e.mollie.RefreshTokenValid(oldTokens.RefreshToken.Reveal()), "the old grant is revoked")
			if !tc.reconnect {
				assert.Equal(t, 1, e.mollie.Revocations())
				_, err := e.load("mollie", "shop-1")
				assert.ErrorIs(t, err, store.ErrNotFound, "the marked record is deleted")
				return
			}
			// The reconnect cannot know that the disconnect's revocation
			// was confirmed (the record still said disconnected), so it
			// retires the old grant too: a second revocation request, which
			// the provider confirms for a dead token (RFC 7009 §2.2).
			assert.Equal(t, 2, e.mollie.Revocations())
			require.NoError(t, getErr, "reconnect callback")
			assert.Equal(t, http.StatusSeeOther, status, "reconnect callback")
			stored, err := used.Load(context.Background(), "mollie", "shop-1")
			require.NoError(t, err, "the reconnect survives the disconnect")
			assert.Equal(t, store.StatusActive, stored.Status)
			assert.Equal(t, old.Version+3, stored.Version, "marked, overwritten by the reconnect, then the retired grant dropped")
			assert.Empty(t, stored.Retired, "the retired grant's revocation was confirmed")
			assert.True(t, e.mollie.AccessTokenValid(stored.AccessToken.Reveal()), "the stored token is the new grant's")
			assert.True(t, e.mollie.RefreshTokenValid(stored.RefreshToken.Reveal()))
		})
	}
}
