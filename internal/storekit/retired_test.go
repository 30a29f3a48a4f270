package storekit

import (
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

// sample has bytes that JSON escapes or cannot hold as text, a zero Since
// and a Since outside UTC.
var sample = []store.RetiredToken{
	{Token: store.Secret("rt\x00\xff<&>"), Kind: "refresh_token", Since: time.Unix(1_600_000_000, 654_321_987).UTC()},
	{Token: "", Kind: "", Since: time.Time{}},
	{Token: `"[{\u0000}]"`, Kind: "access_<token>&", Since: time.Unix(1_600_000_001, 0).In(time.FixedZone("X", 3600))},
}

// The stored forms below are what sqlstore and redisstore wrote before
// the codec moved here: rows and records already stored hold them, so
// they must never change.
const (
	goldenMicros = `[{"token":"cnQA/zwmPg==","kind":"refresh_token","since_us":1600000000654321},` +
		`{"token":"","kind":"","since_us":-62135596800000000},` +
		`{"token":"Ilt7XHUwMDAwfV0i","kind":"access_\u003ctoken\u003e\u0026","since_us":1600000001000000}]`
	goldenRFC3339 = `[{"token":"cnQA/zwmPg==","kind":"refresh_token","since":"2020-09-13T12:26:40.654321987Z"},` +
		`{"token":"","kind":"","since":"0001-01-01T00:00:00Z"},` +
		`{"token":"Ilt7XHUwMDAwfV0i","kind":"access_\u003ctoken\u003e\u0026","since":"2020-09-13T12:26:41Z"}]`
)

func TestEncodeRetiredGolden(t *testing.T) {
	for _, tc := range []struct {
		f    SinceFormat
		want string
	}{{SinceMicros, goldenMicros}, {SinceRFC3339, goldenRFC3339}} {
		got, err := EncodeRetired(sample, tc.f)
		if err != nil || got != tc.want {
			t.Errorf("format %d: got %q, %v; want %q", tc.f, got, err, tc.want)
		}
		for _, empty := range [][]store.RetiredToken{nil, {}} {
			if got, err := EncodeRetired(empty, tc.f); got != "" || err != nil {
				t.Errorf("format %d: empty list: got %q, %v", tc.f, got, err)
			}
		}
	}
}

func TestDecodeRetiredRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		f     SinceFormat
		v     string
		trunc time.Duration
	}{{SinceMicros, goldenMicros, time.Microsecond}, {SinceRFC3339, goldenRFC3339, 1}} {
		got, err := DecodeRetired(tc.v, tc.f)
		if err != nil || len(got) != len(sample) {
			t.Fatalf("format %d: got %v, %v", tc.f, got, err)
		}
		for i, r := range got {
			want := sample[i]
			if r.Token != want.Token || r.Kind != want.Kind || r.Since.Location() != time.UTC ||
				!r.Since.Equal(want.Since.Truncate(tc.trunc)) {
				t.Errorf("format %d: token %d: got %#v, want %#v", tc.f, i, r, want)
			}
		}
	}
}

func TestDecodeRetiredEdges(t *testing.T) {
	for _, f := range []SinceFormat{SinceMicros, SinceRFC3339} {
		for _, v := range []string{"", "[]", "null"} {
			if got, err := DecodeRetired(v, f); got != nil || err != nil {
				t.Errorf("format %d: %q: got %v, %v; want nil, nil", f, v, got, err)
			}
		}
		for _, v := range []string{`[{"token":"!!"}]`, `{}`, `[`} {
			if _, err := DecodeRetired(v, f); err == nil || !strings.HasPrefix(err.Error(), "decode retired tokens: ") {
				t.Errorf("format %d: %q: got error %v", f, v, err)
			}
		}
	}
	// A missing since_us is the epoch, as the column's zero; a missing
	// since does not parse.
	got, err := DecodeRetired(`[{"token":"","kind":"x"}]`, SinceMicros)
	if err != nil || len(got) != 1 || !got[0].Since.Equal(time.Unix(0, 0)) || got[0].Kind != "x" {
		t.Errorf("missing since_us: got %v, %v", got, err)
	}
	if _, err := DecodeRetired(`[{"token":"","kind":"x"}]`, SinceRFC3339); err == nil {
		t.Error("missing since: no error")
	}
}

func TestRetiredRejects(t *testing.T) {
	if _, err := EncodeRetired([]store.RetiredToken{{Token: "t", Kind: "\xff"}}, SinceMicros); err == nil {
		t.Error("a kind that is not UTF-8 was encoded")
	}
	if _, err := EncodeRetired(sample, 0); err == nil {
		t.Error("encoded with no format")
	}
	if _, err := DecodeRetired(goldenMicros, 0); err == nil {
		t.Error("decoded with no format")
	}
}

// An AccountID round-trips as "account"; an element without it (every
// record written before AccountID existed, see the goldens) reads as "".
func TestRetiredAccount(t *testing.T) {
	in := []store.RetiredToken{
		{Token: "rt_a", Kind: "refresh_token", Since: time.Unix(1_700_000_000, 0).UTC(), AccountID: "acct_1Nv0FGQ9RKHgCVdK"},
		{Token: "rt_b", Kind: "refresh_token", Since: time.Unix(1_700_000_001, 0).UTC()},
	}
	for _, f := range []SinceFormat{SinceMicros, SinceRFC3339} {
		v, err := EncodeRetired(in, f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(v, `"account"`) != 1 {
			t.Errorf("format %d: %s: want one account member, none for the grant without", f, v)
		}
		got, err := DecodeRetired(v, f)
		if err != nil || len(got) != 2 || got[0].AccountID != in[0].AccountID || got[1].AccountID != "" {
			t.Errorf("format %d: got %#v, %v", f, got, err)
		}
	}
	if _, err := EncodeRetired([]store.RetiredToken{{Token: "x", Kind: "refresh_token", AccountID: "\xff"}}, SinceMicros); err == nil {
		t.Error("an account that is not UTF-8 must be refused")
	}
}
