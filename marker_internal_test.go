package oauthlink

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A completion marker is told from a flow by its format byte, round-trips,
// and seals and opens like a flow. The callback builds it without the
// verifier and return-to.
func TestCompletionMarkerRecord(t *testing.T) {
	m := sampleFlow()
	m.Verifier, m.ReturnTo, m.Done = "", "", true
	b := m.marshal()
	assert.Equal(t, byte(doneFormat), b[0])
	got, err := unmarshalFlow(b)
	require.NoError(t, err)
	assert.Equal(t, m, got)

	f, err := unmarshalFlow(sampleFlow().marshal())
	require.NoError(t, err)
	assert.False(t, f.Done, "a flow is never read as a marker")

	b[0] = 3
	_, err = unmarshalFlow(b)
	assert.ErrorIs(t, err, errFlowFormat, "unknown formats are refused")

	fc, err := newFlowCodec([][]byte{secret(t)})
	require.NoError(t, err)
	sealed, err := fc.seal("__Host-oauthlink-mollie-abc", m)
	require.NoError(t, err)
	opened, err := fc.open("__Host-oauthlink-mollie-abc", sealed)
	require.NoError(t, err)
	assert.Equal(t, m, opened)
}

// The flow cookie's Max-Age is the flow's lifetime plus the linger; a
// deletion is Max-Age=0.
func TestFlowCookieMaxAge(t *testing.T) {
	assert.Equal(t, 3600, cookieMaxAge(10*time.Minute))
	assert.Equal(t, 3060, cookieMaxAge(time.Minute))
	assert.Contains(t, cookieAttrs(600, true), "; Max-Age=3600;")
	assert.Contains(t, cookieAttrs(0, true), "; Max-Age=0;")
}
