package integration_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/oauthlink/oauthlink/oauthlinktest"
)

// BenchmarkManyInstancesStorm (issue 5 item 8): one expiry per iteration,
// 4 instances × 50 concurrent Fresh calls on one PostgreSQL schema or one
// Redis prefix, Qonto rules at grace 0. Reports refreshes and reuse
// detections per storm (1 and 0 when the coordination holds).
func BenchmarkManyInstancesStorm(b *testing.B) {
	for _, k := range backendKinds {
		b.Run(k.name, func(b *testing.B) {
			be := k.new(b)
			c := newCluster(b, be, clusterOptions{
				qonto: oauthlinktest.QontoOptions{Grace: oauthlinktest.NoGrace, AccessTokenLifetime: tokenLifetime},
			})
			insts := make([]*instance, stormInstances)
			for i := range insts {
				insts[i] = c.instance(instanceName(fmt.Sprintf("bench%d", i)), "")
			}
			c.connect(insts[0])
			before, storms := c.qonto.Refreshes(), 0
			b.ReportAllocs()
			for b.Loop() {
				c.clk.Advance(tokenLifetime)
				var wg sync.WaitGroup
				for _, inst := range insts {
					for range stormCallers {
						wg.Go(func() {
							if _, err := fresh(inst); err != nil {
								b.Error(err)
							}
						})
					}
				}
				wg.Wait()
				storms++
			}
			b.ReportMetric(float64(c.qonto.Refreshes()-before)/float64(storms), "refreshes/storm")
			b.ReportMetric(float64(c.qonto.ReuseDetections()), "reuse-detections")
		})
	}
}
