package encrypted_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/store/encrypted"
)

// A Key never prints its key bytes.
func TestKeyRedacts(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, 32)
	k := encrypted.Key{ID: "k1", Key: key}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, []encrypted.Key{k}))
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "k", k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "k", k)
	out = append(out, logs.String())
	b, err := json.Marshal(k)
	require.NoError(t, err)
	out = append(out, string(b))
	for _, o := range out {
		assert.NotContains(t, o, hex.EncodeToString(key)[:16])
		assert.NotContains(t, o, "171 171 171", "decimal bytes")
		assert.NotContains(t, o, "0xab, 0xab")
		assert.NotContains(t, o, "q6ur", "base64")
		assert.NotContains(t, o, "\xab\xab\xab")
	}
	assert.Contains(t, fmt.Sprint(k), "k1", "the ID is shown")
}
