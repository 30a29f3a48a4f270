package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthlink/oauthlink/internal/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisDurabilityWarning: OAUTHLINK_STORE=redis://… opens whatever
// Redis it is given, and the demo's log says when that Redis can lose
// saved connections, naming the setting (redisstore refuses such a server
// unless the app opts out, which the demo does). Each case runs on a
// redis-server of its own.
func TestRedisDurabilityWarning(t *testing.T) {
	aofAlways := []string{"--appendonly", "yes", "--appendfsync", "always", "--save", ""}
	tests := []struct {
		name string
		args []string
		warn string // "" for no warning
	}{
		{"no persistence", []string{"--appendonly", "no", "--save", ""}, `appendonly is \"no\" and save is \"\"`},
		{"eviction", append(slices.Clone(aofAlways), "--maxmemory-policy", "allkeys-lru"), `maxmemory-policy is \"allkeys-lru\"`},
		{"AOF always", aofAlways, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startRedisServer(t, tc.args...)
			tokenKey := make([]byte, 32)
			rand.Read(tokenKey)
			d := startDemo(t, func(c *config) {
				c.Store = "redis://" + addr + "/0"
				c.TokenKey = tokenKey
			})
			const risk = "this Redis can lose saved connections"
			if tc.warn == "" {
				assert.NotContains(t, d.logs.String(), risk)
			} else {
				assert.Contains(t, d.logs.String(), "level=WARN msg=\""+risk)
				assert.Contains(t, d.logs.String(), tc.warn)
			}

			b := newBrowser(t)
			b.login(d, "alice")
			p := b.connect(d, "qonto")
			require.Equal(t, "/", p.URL.Path, p.Body)
			var list []connectionJSON
			b.getJSON(d.URL+"/api/connections", &list)
			require.Len(t, list, 1, "the demo works on this Redis")
			assert.Equal(t, "qonto", list[0].Provider)

			// While redisstore cannot list connections (store.Scanner):
			// no keeper, no webhooks, said once.
			if !d.scans {
				assert.Nil(t, d.keepers)
				assert.Equal(t, 1, strings.Count(d.logs.String(), "keeper off: the store"))
				assert.Contains(t, d.logs.String(), "Qonto webhooks off: the store cannot list connections")
				assert.Empty(t, d.fakeQonto.WebhookSubscriptions())
				assert.Equal(t, http.StatusNotImplemented, postWebhook(t, d, []byte(`{}`), ""))
			} else {
				assert.NotNil(t, d.keepers)
				assert.Len(t, d.fakeQonto.WebhookSubscriptions(), 1)
			}
		})
	}
}

// startRedisServer starts a redis-server with args on a free loopback
// port, in a temp dir of its own, and returns its address; it is killed
// at t's cleanup. Without redis-server it skips t, or fails it when CI is
// set.
func startRedisServer(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (CI is set: install redis-server)", err)
		}
		testutil.SkipUnavailable(t, fmt.Sprintf("this test starts a redis-server of its own: %v (apt-get install redis-server)", err))
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for attempt := 1; ; attempt++ {
		addr, err := tryRedisServer(t, ctx, bin, dir, args)
		if err == nil {
			return addr
		}
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		if attempt == 3 || ctx.Err() != nil {
			t.Fatalf("redis-server: %v\n%s", err, log)
		}
		t.Logf("redis-server, attempt %d: %v; trying another port", attempt, err)
	}
}

// tryRedisServer starts one server and waits until it answers as itself
// (not another process that took the port first).
func tryRedisServer(t *testing.T, ctx context.Context, bin, dir string, args []string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logFile, err := os.OpenFile(filepath.Join(dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer logFile.Close() // the server keeps its own descriptor
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--protected-mode", "no", "--dir", dir}, args...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("redis-server (pid %d) still running 10 s after SIGKILL", cmd.Process.Pid)
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ContextTimeoutEnabled: true})
	defer c.Close()
	pid := "process_id:" + strconv.Itoa(cmd.Process.Pid)
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		info, err := c.Info(wait, "server").Result()
		if err == nil && slices.Contains(strings.Fields(info), pid) {
			t.Cleanup(stop)
			return addr, nil
		}
		if err == nil {
			err = fmt.Errorf("%s is another process", addr)
		}
		select {
		case <-exited:
			return "", errors.New("redis-server exited at start")
		case <-wait.Done():
			stop()
			return "", fmt.Errorf("redis-server on %s did not answer: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
