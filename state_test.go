package oauthlink

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func secret(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func sampleFlow() *flow {
	return &flow{Provider: "mollie", Route: "https://app.example/cb", Owner: "user:42", State: "s0123456789abcdefghijk",
		Verifier: "v0123456789012345678901234567890123456789012", ReturnTo: "/x?y=1", Issued: 1_700_000_000}
}

func TestFlowMarshalRoundTrip(t *testing.T) {
	f := sampleFlow()
	got, err := unmarshalFlow(f.marshal())
	require.NoError(t, err)
	assert.Equal(t, f, got)

	for i := range len(f.marshal()) {
		_, err := unmarshalFlow(f.marshal()[:i])
		assert.Error(t, err, "truncated at %d", i)
	}
	_, err = unmarshalFlow(append(f.marshal(), 0))
	assert.Error(t, err, "trailing bytes")
}

func TestFlowCodecTamperAndRotation(t *testing.T) {
	oldKey, newKey := secret(t), secret(t)
	old, err := newFlowCodec([][]byte{oldKey})
	require.NoError(t, err)
	value, err := old.seal("n", sampleFlow())
	require.NoError(t, err)

	got, err := old.open("n", value)
	require.NoError(t, err)
	assert.Equal(t, sampleFlow(), got)

	t.Run("every flipped bit fails", func(t *testing.T) {
		for i := range len(value) {
			for _, bit := range []byte{0x01, 0x02, 0x10, 0x40} {
				b := []byte(value)
				b[i] ^= bit
				_, err := old.open("n", string(b))
				assert.Error(t, err, "byte %d bit %x", i, bit)
			}
		}
	})
	t.Run("truncated or extended fails", func(t *testing.T) {
		for _, v := range []string{value[:len(value)-1], value[:10], value + "A", ""} {
			_, err := old.open("n", v)
			assert.Error(t, err)
		}
	})
	t.Run("name is authenticated", func(t *testing.T) {
		_, err := old.open("other", value)
		assert.Error(t, err)
	})
	t.Run("foreign key fails", func(t *testing.T) {
		foreign, err := newFlowCodec([][]byte{secret(t)})
		require.NoError(t, err)
		_, err = foreign.open("n", value)
		assert.Error(t, err)
	})
	t.Run("rotation keeps old cookies valid", func(t *testing.T) {
		rotated, err := newFlowCodec([][]byte{newKey, oldKey})
		require.NoError(t, err)
		got, err := rotated.open("n", value)
		require.NoError(t, err)
		assert.Equal(t, sampleFlow(), got)
		fresh, err := rotated.seal("n", sampleFlow())
		require.NoError(t, err)
		_, err = old.open("n", fresh)
		assert.Error(t, err, "new cookies use the new key")
	})
	t.Run("value is encrypted", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(value)
		require.NoError(t, err)
		for _, plain := range []string{"user:42", "mollie", sampleFlow().State, sampleFlow().Verifier, "/x?y=1"} {
			assert.False(t, bytes.Contains(raw, []byte(plain)), "payload shows %q", plain)
		}
		again, err := old.seal("n", sampleFlow())
		require.NoError(t, err)
		assert.NotEqual(t, value, again, "a fresh nonce each time")
	})
}

func TestFlowCodecRejectsWeakSecrets(t *testing.T) {
	_, err := newFlowCodec(nil)
	assert.ErrorIs(t, err, ErrConfig)
	_, err = newFlowCodec([][]byte{make([]byte, 31)})
	assert.ErrorIs(t, err, ErrConfig)
}

// TestStateUniqueness draws 1e5 states: all unique, 22 base64url chars
// (128 bits) (security.md A8).
func TestStateUniqueness(t *testing.T) {
	seen := make(map[string]struct{}, 100_000)
	for range 100_000 {
		s, err := newState()
		require.NoError(t, err)
		require.Len(t, s, 22)
		_, dup := seen[s]
		require.False(t, dup)
		seen[s] = struct{}{}
	}
}

func TestPKCEVerifier(t *testing.T) {
	v, c, err := newVerifier()
	require.NoError(t, err)
	assert.Len(t, v, 43, "RFC 7636 §4.1: 43..128 characters")
	assert.Len(t, c, 43)
	v2, _, err := newVerifier()
	require.NoError(t, err)
	assert.NotEqual(t, v, v2)
}

// FuzzFlowCookie feeds arbitrary cookie values to the decoder: it must not
// panic and must never accept a value it did not sign.
func FuzzFlowCookie(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	fc, err := newFlowCodec([][]byte{key})
	if err != nil {
		f.Fatal(err)
	}
	valid, err := fc.seal("__Host-oauthlink-mollie-abc", sampleFlow())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("")
	f.Add("MTcwMDAwMDAwMHxhYmN8ZGVm")
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, v string) {
		// Only values this key sealed open (each fuzz worker seals its
		// own seed with a fresh nonce), and only to the genuine flow.
		got, err := fc.open("__Host-oauthlink-mollie-abc", v)
		if err == nil && *got != *sampleFlow() {
			t.Fatalf("opened a forged flow")
		}
	})
}

func FuzzFlowUnmarshal(f *testing.F) {
	f.Add(sampleFlow().marshal())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if fl, err := unmarshalFlow(b); err == nil {
			if !bytes.Equal(fl.marshal(), b) {
				// Varint encodings are canonical for our writer; a
				// non-canonical input may decode but must re-encode stably.
				again, err := unmarshalFlow(fl.marshal())
				if err != nil || *again != *fl {
					t.Fatalf("unstable round trip")
				}
			}
		}
	})
}

func FuzzCallbackQuery(f *testing.F) {
	for _, s := range []string{"code=auth_x&state=abc", "state=a&state=b", "error=access_denied&state=s", "code=a&error=b&state=s", "%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseCallbackQuery(raw)
		ref, refErr := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if refErr != nil {
			t.Fatalf("accepted a query net/url refuses: %v", refErr)
		}
		for i, k := range callbackParams {
			if len(ref[k]) > 1 {
				t.Fatalf("accepted repeated %s", k)
			}
			if q.has[i] != ref.Has(k) || q.get(i) != ref.Get(k) {
				t.Fatalf("%s: got %q, net/url says %q", k, q.get(i), ref.Get(k))
			}
		}
		if q.get(pCode) != "" && q.has[pError] {
			t.Fatalf("accepted code with error")
		}
		if len(raw) > maxCallbackQuery {
			t.Fatalf("accepted oversized query")
		}
	})
}

// TestStateKeyFormat pins the replay guard's key: SQL and Redis stores keep
// these across deploys, so a callback in flight during an upgrade must map
// to the same key. It is the digest of a fixed prefix, the provider name
// and the state, never the state itself.
func TestStateKeyFormat(t *testing.T) {
	c := &Connector{provider: Provider{Name: "qonto"}}
	for _, state := range []string{"s0123456789abcdefghijk", "", strings.Repeat("x", 256), strings.Repeat("y", 400)} {
		sum := sha256.Sum256([]byte("oauthlink replay\x00qonto\x00" + state))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		got := c.stateKey(state)
		assert.Equal(t, want, got)
		if state != "" {
			assert.NotContains(t, got, state)
		}
	}
	assert.NotEqual(t, c.stateKey("a"), (&Connector{provider: Provider{Name: "mollie"}}).stateKey("a"))
}
