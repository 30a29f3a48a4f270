package memstore_test

import (
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oauthlink/oauthlink/store"
	"github.com/oauthlink/oauthlink/store/memstore"
	"github.com/oauthlink/oauthlink/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.TokenStore { return memstore.New() })
}

func BenchmarkSaveLoad(b *testing.B) {
	st := memstore.New()
	ctx := b.Context()
	c := storetest.NewConnection("mollie", "owner-1")
	if err := st.Save(ctx, c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := st.Load(ctx, "mollie", "owner-1")
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Save(ctx, got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsume(b *testing.B) {
	st := memstore.New()
	ctx := b.Context()
	expires := time.Now().Add(time.Hour)
	i := 0
	for b.Loop() {
		if _, err := st.Consume(ctx, strconv.Itoa(i%50_000), expires); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
