//go:build !unix

package oauthlink

import "time"

// processCPU is not measured here; benchmarks then omit cpu-ns/op.
func processCPU() (time.Duration, bool) { return 0, false }
