package redisstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// replyDropper is a loopback proxy in front of the test Redis that loses
// one reply on the wire: the first successful reply (not an error) to a
// command for which drop returns true reaches Redis and is applied, then
// the proxy closes the client's connection instead of answering. go-redis
// sees EOF and sends the command again on a new connection, as it would
// after a network fault between the server's write and the client's read.
// Every other command is passed through, one at a time per connection.
type replyDropper struct {
	addr    string
	drop    func(args []string) bool
	dropped atomic.Int32

	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startReplyDropper starts the proxy in front of upstream; it is closed at
// t's cleanup, with every connection it holds.
func startReplyDropper(t *testing.T, upstream string, drop func(args []string) bool) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &replyDropper{addr: ln.Addr().String(), drop: drop, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c, upstream) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// track registers c so that cleanup closes it.
func (p *replyDropper) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
}

func (p *replyDropper) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *replyDropper) serve(client net.Conn, upstream string) {
	p.track(client)
	defer p.untrack(client)
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	p.track(server)
	defer p.untrack(server)
	fromClient, fromServer := bufio.NewReader(client), bufio.NewReader(server)
	for {
		args, raw, err := readCommand(fromClient)
		if err != nil {
			return
		}
		if _, err := server.Write(raw); err != nil {
			return
		}
		reply, err := readReply(fromServer)
		if err != nil {
			return
		}
		if reply[0] != '-' && reply[0] != '!' && p.drop(args) && p.dropped.CompareAndSwap(0, 1) {
			return // applied by Redis, never answered
		}
		if _, err := client.Write(reply); err != nil {
			return
		}
	}
}

// readCommand reads one request, an array of bulk strings (the only form
// go-redis sends), and returns its arguments and its bytes.
func readCommand(r *bufio.Reader) (args []string, raw []byte, err error) {
	line, err := readLine(r)
	if err != nil {
		return nil, nil, err
	}
	raw = append(raw, line...)
	if line[0] != '*' {
		return nil, nil, fmt.Errorf("request %q is not an array", line)
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, nil, err
	}
	for range n {
		bulk, err := readBulk(r)
		if err != nil {
			return nil, nil, err
		}
		raw = append(raw, bulk...)
		header := bytes.IndexByte(bulk, '\n') + 1
		args = append(args, string(bulk[header:len(bulk)-2]))
	}
	return args, raw, nil
}

// readBulk reads one length-prefixed element ($, = or !): header, payload
// and CRLF.
func readBulk(r *bufio.Reader) ([]byte, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '$', '=', '!':
	default:
		return nil, fmt.Errorf("%q is not a bulk string", line)
	}
	n, err := strconv.Atoi(string(line[1 : len(line)-2]))
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return line, nil // RESP2 null bulk string
	}
	payload := make([]byte, n+2)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	return append(line, payload...), nil
}

// readReply reads one complete RESP2 or RESP3 reply and returns its bytes.
func readReply(r *bufio.Reader) ([]byte, error) {
	b, err := r.Peek(1)
	if err != nil {
		return nil, err
	}
	switch b[0] {
	case '$', '=', '!':
		return readBulk(r)
	case '+', '-', ':', ',', '#', '_', '(':
		return readLine(r)
	case '*', '~', '>', '%', '|':
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return nil, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2 // maps and attributes hold key-value pairs
		}
		out := line
		for range max(n, 0) {
			elem, err := readReply(r)
			if err != nil {
				return nil, err
			}
			out = append(out, elem...)
		}
		if line[0] == '|' {
			// An attribute precedes the reply it describes.
			next, err := readReply(r)
			if err != nil {
				return nil, err
			}
			out = append(out, next...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown RESP type %q", b[0])
}

// readLine reads up to and including CRLF.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, errors.New("malformed RESP line")
	}
	return line, nil
}

// proxiedClient returns a client of its own that reaches the test Redis
// through a replyDropper (returned too), with go-redis's default retries,
// closed at t's cleanup. It skips t as newClient does, and when the test
// server is reached over TLS or a Unix socket, which the proxy does not
// speak.
func proxiedClient(t *testing.T, drop func(args []string) bool) (*redis.Client, *replyDropper) {
	t.Helper()
	newClient(t) // skips or fails t when the server is unreachable
	opts, err := redisOptions()
	require.NoError(t, err)
	if opts.TLSConfig != nil || opts.Network == "unix" {
		t.Skip("the reply-dropping proxy speaks plain TCP only")
	}
	p := startReplyDropper(t, opts.Addr, drop)
	opts.Addr = p.addr
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c, p
}
