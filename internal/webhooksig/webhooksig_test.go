package webhooksig

import (
	"testing"
	"time"
)

// Sign and Verify agree, and Verify refuses the same header under another
// secret, for another body or outside the time window. The providers'
// packages test the published vector and every refusal.
func TestSignVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	h := Sign([]byte("s1"), now, body)
	if err := Verify("X-Sig", h, body, now, time.Minute, time.Second, [][]byte{nil, []byte("s1")}); err != nil {
		t.Fatalf("Verify(Sign) = %v", err)
	}
	for name, err := range map[string]error{
		"other secret": Verify("X-Sig", h, body, now, time.Minute, time.Second, [][]byte{[]byte("s2")}),
		"other body":   Verify("X-Sig", h, []byte(`{"a":2}`), now, time.Minute, time.Second, [][]byte{[]byte("s1")}),
		"too old":      Verify("X-Sig", h, body, now.Add(time.Minute+time.Second), time.Minute, time.Second, [][]byte{[]byte("s1")}),
		"future":       Verify("X-Sig", h, body, now.Add(-2*time.Second), time.Minute, time.Second, [][]byte{[]byte("s1")}),
		"no secrets":   Verify("X-Sig", h, body, now, time.Minute, time.Second, nil),
		"missing":      Verify("X-Sig", "", body, now, time.Minute, time.Second, [][]byte{[]byte("s1")}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
