package storekit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/store"
)

func TestEncodeSave(t *testing.T) {
	scopes, retired, err := EncodeSave("x", &store.Connection{Scopes: []string{"a", "b:<c>"}, Retired: sample}, SinceMicros)
	if err != nil || scopes != `["a","b:\u003cc\u003e"]` || retired != goldenMicros {
		t.Fatalf("got %q, %q, %v", scopes, retired, err)
	}
	if scopes, retired, err := EncodeSave("x", &store.Connection{}, SinceRFC3339); scopes != "null" || retired != "" || err != nil {
		t.Fatalf("empty connection: got %q, %q, %v", scopes, retired, err)
	}
	for _, c := range []*store.Connection{
		nil,
		{Version: -1},
		{Scopes: []string{"\xff"}},
		{Retired: []store.RetiredToken{{Kind: "\xff"}}},
	} {
		if _, _, err := EncodeSave("x", c, SinceMicros); err == nil || !strings.HasPrefix(err.Error(), "x: save") {
			t.Errorf("%v: got error %v", c, err)
		}
	}
}

func TestDecodeScopes(t *testing.T) {
	for v, want := range map[string][]string{`null`: nil, `[]`: {}, `["a","b"]`: {"a", "b"}} {
		got, err := DecodeScopes(v)
		if err != nil || len(got) != len(want) || (got == nil) != (want == nil) {
			t.Errorf("%s: got %#v, %v", v, got, err)
		}
	}
	if _, err := DecodeScopes(""); err == nil {
		t.Error("an empty value decoded")
	}
}

func TestSaveConflictAndSaved(t *testing.T) {
	c := &store.Connection{Provider: "p", Owner: "o"}
	if err := SaveConflict("x", c); !errors.Is(err, store.ErrVersionConflict) || !strings.Contains(err.Error(), "create") {
		t.Errorf("create: %v", err)
	}
	now := time.Unix(1_700_000_000, 0).UTC()
	Saved(c, now)
	if c.Version != 1 || !c.CreatedAt.Equal(now) || !c.UpdatedAt.Equal(now) {
		t.Errorf("after create: %+v", *c)
	}
	if err := SaveConflict("x", c); !errors.Is(err, store.ErrVersionConflict) || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("update: %v", err)
	}
	later := now.Add(time.Hour)
	Saved(c, later)
	if c.Version != 2 || !c.CreatedAt.Equal(now) || !c.UpdatedAt.Equal(later) {
		t.Errorf("after update: %+v", *c)
	}
}
