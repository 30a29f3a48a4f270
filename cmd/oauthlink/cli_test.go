package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthlink/oauthlink/cmd/storeenv"
	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/encrypted"
)

var backends = []struct {
	name string
	new  func(t *testing.T, key []byte) *testFleet
}{
	{"sqlite", sqliteFleet},
	{"memory", memoryFleet},
	{"postgres", postgresFleet},
}

func TestHelpAndUsage(t *testing.T) {
	f := memoryFleet(t, newKey())
	code, out, _ := f.run(t, nil, "--help")
	assert.Equal(t, 0, code)
	for _, cmd := range []string{"list", "show", "stats", "rewrap", "keep", "migrate", "OAUTHLINK_OLD_TOKEN_KEYS"} {
		assert.Contains(t, out, cmd)
	}
	for _, cmd := range []string{"list", "show", "stats", "rewrap", "keep", "migrate"} {
		code, out, errOut := f.run(t, nil, cmd, "--help")
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, out, "Usage: oauthlink "+cmd, cmd)
		assert.Contains(t, out, "OAUTHLINK_STORE", cmd)
		assert.Empty(t, errOut, cmd)
	}
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"list", "--bogus"},
		{"list", "extra"},
		{"list", "--status", "sleeping"},
		{"list", "--account", "org_1"},
		{"list", "--due-before", "yesterday"},
		{"show", "qonto"},
		{"show", "qonto", "a", "b"},
		{"stats", "--fraction", "3/2"},
		{"stats", "--idle", "-5d"},
		{"rewrap", "--page-size", "0"},
		{"keep"},
		{"keep", "--once", "--fraction", "0"},
	} {
		code, out, errOut := f.run(t, nil, args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.Empty(t, out, "%q", args)
		assert.NotEmpty(t, errOut, "%q", args)
	}
}

func TestShow(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := b.new(t, newKey())
			seed(t, f.store(t, nil))
			code, out, errOut := f.run(t, nil, "show", "mollie", "shop-1")
			require.Equal(t, 0, code, errOut)
			for _, want := range []string{"org_shop-1", "active", "offline_access,organization.read", "Bearer",
				"https://app.example/connect/mollie/callback", "retired:", "refresh_token since", "sealed with key:  demo-",
				"refreshed at:     " + now.Format("2006-01-02T15:04Z"), "access token:     set"} {
				assert.Contains(t, out, want)
			}
			code, out, errOut = f.run(t, nil, "show", "--json", "qonto", "shop 4")
			require.Equal(t, 0, code, errOut)
			var v view
			require.NoError(t, json.Unmarshal([]byte(out), &v))
			assert.Equal(t, "shop 4", v.Owner)
			assert.Equal(t, 0, v.Retired)
			assert.True(t, v.HasRefreshToken)
			require.NotNil(t, v.RefreshedAt)
			assert.Equal(t, now.Add(-time1h), *v.RefreshedAt)

			code, _, errOut = f.run(t, nil, "show", "qonto", "nobody")
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut, `no connection "qonto" for owner "nobody"`)
		})
	}
}

func TestListAndStats(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f := b.new(t, newKey())
			seed(t, f.store(t, nil))
			code, out, errOut := f.run(t, nil, "list")
			require.Equal(t, 0, code, errOut)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			require.Len(t, lines, 6, out)
			assert.Regexp(t, `^PROVIDER +OWNER +ACCOUNT +STATUS +EXPIRES +REFRESHED +RETIRED +KEY$`, lines[0])
			assert.Regexp(t, `^mollie +shop-1 +org_shop-1 +active .* 1 +demo-[0-9a-f]{8}$`, lines[1])
			assert.Regexp(t, `^qonto +"shop 4" `, lines[2])

			code, out, errOut = f.run(t, nil, "list", "--json", "--provider", "qonto", "--status", "active")
			require.Equal(t, 0, code, errOut)
			var owners []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var v view
				require.NoError(t, json.Unmarshal([]byte(line), &v), line)
				assert.Equal(t, store.StatusActive, v.Status)
				owners = append(owners, v.Owner)
			}
			assert.Equal(t, []string{"shop 4", "shop-1", "shop-2"}, owners)

			// mollie shop-1 lists a retired grant: the one revocation left.
			code, out, errOut = f.run(t, nil, "list", "--json", "--pending")
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, 1, strings.Count(out, "\n"), out)
			assert.Contains(t, out, `"provider":"mollie"`)
			assert.Contains(t, out, `"owner":"shop-1"`)
			code, out, errOut = f.run(t, nil, "list", "--json", "--pending", "--provider", "qonto")
			require.Equal(t, 0, code, errOut)
			assert.Empty(t, out)

			code, out, errOut = f.run(t, nil, "list", "--json", "--provider", "qonto", "--account", "org_shop-2")
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, 1, strings.Count(out, "\n"))
			assert.Contains(t, out, `"owner":"shop-2"`)

			code, out, errOut = f.run(t, nil, "list", "--json", "--due-before", now.Add(-30*day).Format("2006-01-02T15:04:05Z"))
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, 2, strings.Count(out, "\n"), out) // shop-3, then shop-1: oldest first
			assert.Less(t, strings.Index(out, `"shop-3"`), strings.Index(out, `"shop-1"`))

			code, out, errOut = f.run(t, nil, "stats")
			require.Equal(t, 0, code, errOut)
			assert.Regexp(t, `(?m)^qonto +active +3$`, out)
			assert.Regexp(t, `(?m)^qonto +reauth_required +1$`, out)
			assert.Regexp(t, `(?m)^total +5$`, out)
			assert.Contains(t, out, "due for upkeep: 1 (active qonto connections last refreshed before")

			code, out, errOut = f.run(t, nil, "stats", "--json", "--idle", "60d", "--fraction", "0.5")
			require.Equal(t, 0, code, errOut)
			var s statsOut
			require.NoError(t, json.Unmarshal([]byte(out), &s))
			assert.Equal(t, 5, s.Total)
			assert.Equal(t, 1, s.Due.Count) // shop-1 (80 days); shop-3 needs a reconnect anyway
			assert.Len(t, s.Connections, 3)
		})
	}
}

// A store whose driver cannot enumerate connections says so; show, which
// reads one connection, still works.
func TestNoScanner(t *testing.T) {
	f := memoryFleet(t, newKey())
	open := f.open
	f.open = func(ctx context.Context, e storeenv.Env) (*encrypted.Store, func() error, error) {
		st, closeStore, err := open(ctx, e)
		if err != nil {
			return nil, nil, err
		}
		hidden, err := encrypted.New(struct{ store.TokenStore }{st.Unwrap()}, encrypted.Options{Keys: []encrypted.Key{storeenv.NewKey(f.keys[0])}})
		return hidden, closeStore, err
	}
	seed(t, f.store(t, nil))
	for _, cmd := range []string{"list", "stats", "rewrap"} {
		code, out, errOut := f.run(t, nil, cmd)
		assert.Equal(t, 1, code, cmd)
		assert.Contains(t, errOut, "this store cannot enumerate connections", cmd)
		if cmd != "rewrap" {
			assert.Empty(t, out, cmd)
		}
	}
	code, _, errOut := f.run(t, nil, "show", "qonto", "shop-1")
	assert.Equal(t, 0, code, errOut)
}
