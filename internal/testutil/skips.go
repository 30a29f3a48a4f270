package testutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SkipReportEnv names a file the skip report is appended to when there
// is no terminal to print it on (.ci/run sets it and prints the file).
const SkipReportEnv = "OAUTHLINK_SKIP_REPORT"

// skips are the reasons tests of this test binary were skipped for, with
// how many tests each.
var skips = struct {
	sync.Mutex
	count map[string]int
}{count: map[string]int{}}

// SkipUnavailable skips t because something outside the tests is missing
// (a PostgreSQL or Redis server, Chromium, redis-server, the go tool),
// and records reason for the package's summary line (ReportSkips). The
// reason says what is missing and how to provide it; it must be the same
// for every test skipped for the same cause, so they are counted
// together.
func SkipUnavailable(t testing.TB, reason string) {
	t.Helper()
	skips.Lock()
	skips.count[reason]++
	skips.Unlock()
	t.Skip(reason)
}

// ReportingM wraps a package's *testing.M so that its run ends with the
// skip summary: pass it where TestMain passes m (goleak.VerifyTestMain
// takes it too).
type ReportingM struct{ M *testing.M }

// Run runs the tests, then reports the skips (ReportSkips).
func (r ReportingM) Run() int {
	code := r.M.Run()
	ReportSkips()
	return code
}

// ReportSkips prints one line per reason tests were skipped for, with
// the package and the count, when any were. go test shows a passing
// package's output only with -v, so the lines go to the terminal
// (/dev/tty) when there is one, else are appended to the file
// $OAUTHLINK_SKIP_REPORT names, else to standard error (seen with -v or on
// a failure).
func ReportSkips() {
	lines := skipLines(packageName())
	if len(lines) == 0 {
		return
	}
	text := strings.Join(lines, "\n") + "\n"
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		io.WriteString(tty, text)
		tty.Close()
		return
	}
	if path := os.Getenv(SkipReportEnv); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			io.WriteString(f, text)
			f.Close()
			return
		}
	}
	io.WriteString(os.Stderr, text)
}

// skipLines formats the recorded skips of pkg, one line per reason (its
// white space collapsed: a driver's error may span lines), in a stable
// order.
func skipLines(pkg string) []string {
	skips.Lock()
	defer skips.Unlock()
	var lines []string
	for reason, n := range skips.count {
		tests := "tests"
		if n == 1 {
			tests = "test"
		}
		lines = append(lines, fmt.Sprintf("SKIPPED %s: %d %s: %s", pkg, n, tests, strings.Join(strings.Fields(reason), " ")))
	}
	sort.Strings(lines)
	return lines
}

// packageName names the package under test: the test binary's main
// package path, or its file name.
func packageName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return strings.TrimSuffix(bi.Path, ".test")
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
}

// FleetEnv is the variable the fleet-scale tests read their size from.
const FleetEnv = "OAUTHLINK_FLEET_N"

// FleetSize returns the number of connections a fleet-scale test seeds:
// OAUTHLINK_FLEET_N, or def when it is unset. It fails t when the value is
// not a number of at least least.
func FleetSize(t testing.TB, def, least int) int {
	t.Helper()
	s := os.Getenv(FleetEnv)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < least {
		t.Fatalf("%s=%q: want a number of at least %d", FleetEnv, s, least)
	}
	return n
}
