package encrypted_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
	"github.com/oauthlink/oauthlink/store/memstore"
)

// FuzzOpen: whatever a database writer puts in a record's
// token fields, reading it through the encrypting store never panics,
// never hands out a value it did not seal (no key-less input opens), and
// never repeats a value in its error. With MigratePlaintext, a record
// whose values are all unencrypted reads as it is, and nothing else.
func FuzzOpen(f *testing.F) {
	f.Add("ory_at_PLANTED", "", "", "", false)
	f.Add("ory_at_PLANTED", "ory_rt_PLANTED", `{"id_token":"x"}`, "ory_rt_OLD", true)
	f.Add("olk2:", "", "", "", false)
	f.Add("olk2:k1", "olk2:k1:", "olk2::AAAA", "olk2:k1:!!!!", false)
	f.Add("olk2:k9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "", "", false)
	f.Add("olk2:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "", "", true)
	f.Add(oldAccess, oldRefresh, oldExtra, oldRetired, false) // another row's ciphertexts
	f.Add(oldAccess, "ory_rt_PLANTED", "", "", true)
	f.Add("", "", "", "olk1:k1:", false)
	f.Add("olk1:SECRET_TOKEN_IN_THE_KEY_ID_POSITION:AAAA", "", "", "", false)
	keys := []encrypted.Key{tokenKey("k1", 1)}
	f.Fuzz(func(t *testing.T, access, refresh, extra, retired string, migrate bool) {
		ctx := context.Background()
		inner := memstore.New()
		c := fullConn("shop-fuzz")
		c.AccessToken, c.RefreshToken, c.Extra = store.Secret(access), store.Secret(refresh), store.Secret(extra)
		c.Retired = c.Retired[:1]
		c.Retired[0].Token = store.Secret(retired)
		require.NoError(t, inner.Save(ctx, c))
		s, err := encrypted.New(inner, encrypted.Options{Keys: keys, MigratePlaintext: migrate})
		require.NoError(t, err)

		got, err := s.Load(ctx, "qonto", "shop-fuzz")
		values := []string{access, refresh, extra, retired}
		if err != nil {
			require.ErrorIs(t, err, encrypted.ErrDecrypt)
			assert.Nil(t, got)
			for _, v := range values {
				if len(v) >= 20 { // shorter ones may be words of the message
					assert.NotContains(t, err.Error(), v, "the error repeats a stored value")
				}
			}
			return
		}
		for _, v := range values {
			if v == "" {
				continue
			}
			require.True(t, migrate, "a value was opened without its key: %q", v)
			require.False(t, strings.HasPrefix(v, "olk1:") || strings.HasPrefix(v, "olk2:"), "a sealed-looking value was opened: %q", v)
		}
		assert.Equal(t, access, got.AccessToken.Reveal())
		assert.Equal(t, refresh, got.RefreshToken.Reveal())
		assert.Equal(t, extra, got.Extra.Reveal())
		assert.Equal(t, retired, got.Retired[0].Token.Reveal())
	})
}
