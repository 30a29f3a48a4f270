package memstore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) oauthlink.TokenStore { return memstore.New() })
}
