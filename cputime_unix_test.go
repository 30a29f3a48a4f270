//go:build unix

package oauthlink

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system, all threads) this process has
// used, for benchmarks that report cpu-ns/op like bench/compare does.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
