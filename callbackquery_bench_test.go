package oauthlink

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// parseCallbackQueryStd is parseCallbackQuery written with url.ParseQuery:
// the reference the hand-written scanner is measured and checked against.
func parseCallbackQueryStd(raw string) (*callbackQuery, error) {
	q := &callbackQuery{}
	if len(raw) > maxCallbackQuery {
		return q, fmt.Errorf("%w: query too long", ErrBadRequest)
	}
	if strings.IndexByte(raw, ';') >= 0 {
		return q, fmt.Errorf("%w: semicolon in query", ErrBadRequest)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("%w: malformed query", ErrBadRequest)
	}
	var perr error
	for i, name := range callbackParams {
		vs, ok := vals[name]
		if !ok {
			continue
		}
		if len(vs) > 1 && perr == nil {
			perr = fmt.Errorf("%w: repeated %s parameter", ErrBadRequest, name)
		}
		q.has[i], q.val[i] = true, vs[len(vs)-1]
	}
	q.stateOK = len(vals["state"]) == 1
	switch {
	case perr != nil:
		return q, perr
	case q.val[pCode] != "" && q.has[pError]:
		return q, fmt.Errorf("%w: both code and error", ErrBadRequest)
	case len(q.val[pCode]) > 2048 || len(q.val[pState]) > 256:
		return q, fmt.Errorf("%w: oversized parameter", ErrBadRequest)
	}
	return q, nil
}

// BenchmarkParseCallbackQuery is what the hand-written callback query
// scanner buys over url.ParseQuery on a provider's redirect back.
func BenchmarkParseCallbackQuery(b *testing.B) {
	raw := "code=" + strings.Repeat("c", 43) + "&state=" + strings.Repeat("s", 22) + "&scope=organizations.read"
	for _, p := range []struct {
		name  string
		parse func(string) (*callbackQuery, error)
	}{{"scanner", parseCallbackQuery}, {"url.ParseQuery", parseCallbackQueryStd}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The scanner refuses what url.ParseQuery refuses, and reads the same
// values and the same state count from what it accepts.
func FuzzCallbackQueryMatchesParseQuery(f *testing.F) {
	for _, s := range []string{
		"code=abc&state=xyz", "state=a&state=b", "code=1&error=x&state=s", "a=%zz&state=s",
		"state=%41&iss=https%3A%2F%2Fi", "&&state=s&", "state", "=x&state=s", "state=s;x=1", "code=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, gerr := parseCallbackQuery(raw)
		want, werr := parseCallbackQueryStd(raw)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: scanner error %v, url.ParseQuery error %v", raw, gerr, werr)
		}
		if gerr != nil {
			if werr.Error() == "oauthlink: bad request: malformed query" || gerr.Error() == "oauthlink: bad request: malformed query" {
				return // which malformed part is reported first may differ
			}
			if got.stateOK != want.stateOK {
				t.Fatalf("%q: stateOK %v, want %v", raw, got.stateOK, want.stateOK)
			}
			return
		}
		if *got != *want {
			t.Fatalf("%q: scanner read %+v, url.ParseQuery %+v", raw, *got, *want)
		}
	})
}
