package oauthlink

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzAccountID: whatever non-standard members a token answer carries,
// reading Provider.AccountIDField never panics, returns either an error
// (errTokenResponse with one of three fixed texts: the answer is never
// quoted) or the member's exact
// string value within the documented charset and length.
func FuzzAccountID(f *testing.F) {
	for _, seed := range []string{
		`{"stripe_user_id":"acct_1Nv0FGQ9RKHgCVdK","stripe_publishable_key":"pk_test_x","livemode":false}`,
		`{"stripe_user_id":42}`, `{"stripe_user_id":null}`, `{"stripe_user_id":""}`,
		`{"stripe_user_id":"acct_<script>"}`, `{"stripe_user_id":"a\u0000b"}`, `{"stripe_user_id":"\ud800"}`,
		`{"stripe_user_id":"a","stripe_user_id":"b"}`, `{"Stripe_User_Id":"acct_x"}`, `[]`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	e := &engine{provider: Provider{AccountIDField: "stripe_user_id"}}
	f.Fuzz(func(t *testing.T, extra []byte) {
		id, err := e.accountID(&tokenResponse{AccessToken: "x", Extra: extra})
		if err != nil {
			if id != "" || !errors.Is(err, errTokenResponse) {
				t.Fatalf("error %v with id %q", err, id)
			}
			switch strings.TrimPrefix(err.Error(), errTokenResponse.Error()+": ") {
			case "no stripe_user_id string",
				"stripe_user_id is empty or longer than 255 bytes",
				"stripe_user_id holds characters other than [A-Za-z0-9._:-]":
			default: // only fixed texts: the answer is never quoted
				t.Fatalf("unexpected error text %q", err)
			}
			return
		}
		if len(id) == 0 || len(id) > 255 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != "" {
			t.Fatalf("accepted %q", id)
		}
		var members map[string]json.RawMessage
		var want string
		if json.Unmarshal(extra, &members) != nil || json.Unmarshal(members["stripe_user_id"], &want) != nil || want != id {
			t.Fatalf("accepted %q, which is not the member's value in %q", id, extra)
		}
	})
}
