package encrypted_test

import (
	"bytes"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

func tokenKey(id string, b byte) encrypted.Key {
	return encrypted.Key{ID: id, Key: bytes.Repeat([]byte{b}, 32)}
}

// newStore is New with only keys set.
func newStore(inner store.TokenStore, keys ...encrypted.Key) (*encrypted.Store, error) {
	return encrypted.New(inner, encrypted.Options{Keys: keys})
}

func sealedConn(owner string) *store.Connection {
	return &store.Connection{Provider: "qonto", Owner: owner, AccessToken: "ory_at_PLAINTEXT_A",
		RefreshToken: "ory_rt_PLAINTEXT_R", Extra: `{"id_token":"PLAINTEXT_ID"}`, Status: store.StatusActive}
}
