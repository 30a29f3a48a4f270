package interop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every server is closed by its test's cleanup: no goroutine may outlive
// the package.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
