package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer guarded by a mutex, for log output written
// by concurrent goroutines (a slog handler's writer) and read by the test.
// The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
