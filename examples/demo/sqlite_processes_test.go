package main

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/oauthlink/oauthlink"
	"github.com/oauthlink/oauthlink/store"
)

// Environment of a TestSQLiteChild process.
const (
	childRoleEnv   = "DEMO_SQLITE_CHILD"       // "survivor" or "victim"
	childPathEnv   = "DEMO_SQLITE_PATH"        // the SQLite file
	childPrefixEnv = "DEMO_SQLITE_PREFIX"      // owner prefix of its saves
	childPauseEnv  = "DEMO_SQLITE_PAUSE_AFTER" // victim: pause inside the save after this many owners; 0: never
)

// pausePrefix starts the owners whose insert fires the pause trigger.
const pausePrefix = "pause-"

func init() {
	// oauthlink_test_pause(owner) is called by the trigger TestSQLite
	// ProcessesKilled adds to its database, inside the INSERT of an owner
	// starting with pausePrefix: in the victim it says so on stdout and
	// waits to be killed there, inside the save's write transaction.
	// Registered for every connection this test binary opens, so that
	// any statement on that table compiles; only the victim inserts such
	// owners.
	sqlite.MustRegisterScalarFunction("oauthlink_test_pause", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		if os.Getenv(childRoleEnv) != "victim" {
			return nil, errors.New("oauthlink_test_pause outside the victim process")
		}
		fmt.Printf("paused %v\n", args[0])
		time.Sleep(time.Minute) // killed long before
		return nil, errors.New("not killed inside the save")
	})
}

// TestSQLiteProcessesKilled runs two processes on one SQLite file, as two
// demo instances on one host would, each opening it as the demo does
// (openStore: WAL, busy_timeout): a survivor that saves connections for
// the whole test, and a victim that saves its own and is SIGKILLed inside
// its saves, six times, restarted each time. Three kills land inside a
// save's write transaction for certain (a trigger pauses the INSERT until
// the kill), three as soon as the victim of a tight save loop reports its
// n-th save, usually inside the next one (the log says how many were). After each kill the survivor must keep saving (the dead
// process's lock is gone). At the end PRAGMA integrity_check is ok, every
// save a process reported committed is there with its tokens, and the
// paused saves left nothing.
func TestSQLiteProcessesKilled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "oauthlink-demo.db")
	ctx := testContext(t)

	// Create the tables as the demo does, then the pause trigger.
	_, closeStore, err := openStore(ctx, storeSpec{Kind: "sqlite", Path: path}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, closeStore())
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TRIGGER oauthlink_test_pause AFTER INSERT ON oauthlink_connections
		WHEN NEW.owner LIKE '`+pausePrefix+`%' BEGIN SELECT oauthlink_test_pause(NEW.owner); END`)
	require.NoError(t, err)

	saved := &savedLog{last: map[string]savedConn{}}
	survivor := startSQLiteChild(t, saved, "survivor", path, "survivor", 0)
	awaitSaves(t, survivor, 10)

	const kills = 6
	var paused []string
	inLoopSave := 0 // loop kills that landed inside a save (reported, not asserted)
	for k := range kills {
		prefix := fmt.Sprintf("victim%d", k)
		pauseAfter := 0
		if k%2 == 0 {
			pauseAfter = 5 + 3*k
		}
		victim := startSQLiteChild(t, saved, "victim", path, prefix, pauseAfter)
		if pauseAfter > 0 {
			select {
			case owner := <-victim.paused:
				paused = append(paused, owner)
			case <-victim.done:
				t.Fatalf("victim %d exited before pausing:\n%s", k, victim.stderr.String())
			case <-time.After(30 * time.Second):
				t.Fatalf("victim %d did not pause within 30 s:\n%s", k, victim.stderr.String())
			}
		} else {
			awaitSaves(t, victim, 10+7*k)
		}
		before := survivor.count()
		victim.kill(t)
		if pauseAfter == 0 && victim.diedInSave() {
			inLoopSave++
		}
		awaitSaves(t, survivor, before+5) // the file is not left locked
	}
	survivor.stop(t)

	var check string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check))
	assert.Equal(t, "ok", check)

	st, closeStore, err := openStore(ctx, storeSpec{Kind: "sqlite", Path: path}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer closeStore()
	saved.mu.Lock()
	defer saved.mu.Unlock()
	victims := 0
	for owner, want := range saved.last {
		got, err := st.Load(ctx, "qonto", owner)
		if !assert.NoError(t, err, "committed connection of %s", owner) {
			continue
		}
		// A kill between a commit and its report leaves a newer version.
		assert.GreaterOrEqual(t, got.Version, want.version, owner)
		if got.Version == want.version {
			assert.Equal(t, want.access, got.AccessToken.Reveal(), owner)
		}
		assert.Equal(t, "refresh-"+owner, got.RefreshToken.Reveal(), owner)
		if strings.HasPrefix(owner, "victim") {
			victims++
		}
	}
	for _, owner := range paused {
		_, err := st.Load(ctx, "qonto", owner)
		assert.ErrorIs(t, err, store.ErrNotFound, "the save killed inside its transaction left nothing: %s", owner)
	}
	assert.Len(t, paused, kills/2)
	t.Logf("%d kills (%d inside a paused save; of the others, %d inside a save), "+
		"%d connections saved by the victims and %d by the survivor, all present",
		kills, len(paused), inLoopSave, victims, len(saved.last)-victims)
}

// TestSQLiteChild is a child process of TestSQLiteProcessesKilled; run
// directly, it skips. It opens the SQLite file as the demo does and saves
// connections of owners PREFIX-0, PREFIX-1, ... (each created, then
// updated), printing "begin OWNER" before each save and "saved OWNER
// VERSION ACCESS" after each committed one, until its stdin closes (then it exits 0) or it is killed.
func TestSQLiteChild(t *testing.T) {
	role := os.Getenv(childRoleEnv)
	if role == "" {
		t.Skip("a child process of TestSQLiteProcessesKilled")
	}
	pauseAfter, err := strconv.Atoi(os.Getenv(childPauseEnv))
	require.NoError(t, err)
	prefix := os.Getenv(childPrefixEnv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	st, closeStore, err := openStore(ctx, storeSpec{Kind: "sqlite", Path: os.Getenv(childPathEnv)}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer closeStore()
	for i := 0; ctx.Err() == nil; i++ {
		if pauseAfter > 0 && i == pauseAfter {
			// The trigger pauses this INSERT until the parent kills us.
			err := st.Save(ctx, &oauthlink.Connection{Provider: "qonto", Owner: pausePrefix + prefix, AccessToken: "a"})
			t.Fatalf("the paused save returned (%v): not killed inside it", err)
		}
		owner := fmt.Sprintf("%s-%d", prefix, i)
		c := &oauthlink.Connection{
			Provider: "qonto", Owner: owner, AccessToken: store.Secret(owner + "-v1"),
			RefreshToken: store.Secret("refresh-" + owner), TokenType: "Bearer",
			Expiry: time.Now().Add(time.Hour), Scopes: []string{"organization.read"}, Status: store.StatusActive,
		}
		for v := range 2 {
			if v == 1 {
				c.AccessToken = store.Secret(owner + "-v2")
			}
			fmt.Printf("begin %s\n", owner)
			if err := st.Save(ctx, c); err != nil {
				if ctx.Err() != nil {
					break
				}
				t.Fatalf("save %s: %v", owner, err)
			}
			fmt.Printf("saved %s %d %s\n", owner, c.Version, c.AccessToken.Reveal())
		}
	}
	<-stdinDone
}

// savedConn is the last committed save of an owner a child reported.
type savedConn struct {
	version int64
	access  string
}

// savedLog collects what every child reported committed.
type savedLog struct {
	mu   sync.Mutex
	last map[string]savedConn
}

// sqliteChild is a running TestSQLiteChild process.
type sqliteChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	paused chan string
	done   chan struct{}

	mu     sync.Mutex
	saves  int
	grew   chan struct{} // closed and replaced at each save
	inSave bool          // the last line was "begin": a save under way
}

// startSQLiteChild starts this test binary as a TestSQLiteChild process.
// It is killed at t's cleanup if still running.
func startSQLiteChild(t *testing.T, saved *savedLog, role, path, prefix string, pauseAfter int) *sqliteChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteChild$", "-test.count=1")
	cmd.Env = append(cleanEnv(), childRoleEnv+"="+role, childPathEnv+"="+path, childPrefixEnv+"="+prefix,
		childPauseEnv+"="+strconv.Itoa(pauseAfter))
	c := &sqliteChild{cmd: cmd, stderr: &syncBuffer{}, paused: make(chan string, 1), done: make(chan struct{}), grew: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	c.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.line(saved, sc.Text())
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// line records one line of the child's output.
func (c *sqliteChild) line(saved *savedLog, line string) {
	c.stderr.Write([]byte(line + "\n")) // kept with the rest for a failure's report
	f := strings.Fields(line)
	switch {
	case len(f) == 2 && f[0] == "paused":
		c.paused <- f[1]
	case len(f) == 2 && f[0] == "begin":
		c.mu.Lock()
		c.inSave = true
		c.mu.Unlock()
	case len(f) == 4 && f[0] == "saved":
		v, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return
		}
		saved.mu.Lock()
		saved.last[f[1]] = savedConn{version: v, access: f[3]}
		saved.mu.Unlock()
		c.mu.Lock()
		c.inSave = false
		c.saves++
		close(c.grew)
		c.grew = make(chan struct{})
		c.mu.Unlock()
	}
}

// diedInSave reports whether the child's last line, once it is reaped,
// announced a save it never reported committed.
func (c *sqliteChild) diedInSave() bool {
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inSave
}

func (c *sqliteChild) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saves
}

// awaitSaves waits, at most 30 s, until the child has reported n saves.
func awaitSaves(t *testing.T, c *sqliteChild, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		saves, grew := c.saves, c.grew
		c.mu.Unlock()
		if saves >= n {
			return
		}
		select {
		case <-grew:
		case <-c.done:
			t.Fatalf("the child exited after %d of %d saves:\n%s", saves, n, c.stderr.String())
		case <-timeout:
			t.Fatalf("the child made %d of %d saves in 30 s:\n%s", saves, n, c.stderr.String())
		}
	}
}

// kill sends SIGKILL and waits, at most 10 s, until the child is reaped.
func (c *sqliteChild) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Kill())
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the child was not reaped 10 s after SIGKILL")
	}
}

// stop closes the child's stdin and requires a clean exit within 30 s.
func (c *sqliteChild) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the child did not stop within 30 s:\n%s", c.stderr.String())
	}
	require.Equal(t, 0, c.cmd.ProcessState.ExitCode(), c.stderr.String())
}
