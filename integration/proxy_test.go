package integration_test

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// proxy is a TCP proxy on loopback between one instance's store client
// and the real PostgreSQL or Redis server, so a test can take the store
// away from that instance alone: Down cuts every connection and refuses
// new ones (each is accepted and closed at once, so the client fails fast
// instead of waiting for a timeout), Stall holds every byte in both
// directions and every new connection without answering, Blackhole does
// the same but loses what it held, Up restores normal service. Close (run at cleanup) ends every goroutine it started.
type proxy struct {
	ln     net.Listener
	target string
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	refusing bool
	gate     chan struct{} // closed while data flows; open while stalled
	cutOnUp  bool          // blackholed: Up cuts what the stall held
	accepted int           // connections forwarded
	refused  int           // connections refused while down
	closed   bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, done: make(chan struct{}), conns: map[net.Conn]struct{}{}, gate: make(chan struct{})}
	close(p.gate)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients dial instead of the server's.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.closed || p.refusing {
			p.refused++
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.accepted++
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(c)
	}
}

// forward connects c to the server, once data may flow, and copies both
// ways until either side ends or the proxy cuts them.
func (p *proxy) forward(c net.Conn) {
	defer p.wg.Done()
	defer p.drop(c)
	if !p.flowing() {
		return
	}
	p.mu.Lock()
	_, open := p.conns[c]
	p.mu.Unlock()
	if !open { // cut while it waited
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	up, err := d.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer p.drop(up)
	p.mu.Lock()
	if p.closed || p.refusing {
		p.mu.Unlock()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(up, c) })
	p.pipe(c, up)
	wg.Wait()
}

// pipe copies src to dst, holding each chunk while the proxy is stalled,
// and closes both when either fails.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.flowing() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// flowing waits while the proxy is stalled and reports whether it still
// forwards (false once it is closed).
func (p *proxy) flowing() bool {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
		return true
	case <-p.done:
		return false
	}
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// cutLocked closes every open connection. p.mu must be held.
func (p *proxy) cutLocked() int {
	n := 0
	for c := range p.conns {
		if c.Close() == nil {
			n++
		}
		delete(p.conns, c)
	}
	return n
}

// Down cuts every open connection (as a server crash or a network
// partition would) and refuses new ones until Up. It returns how many
// sockets (client and server sides) it closed.
func (p *proxy) Down() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = true
	return p.cutLocked()
}

// Stall stops forwarding: bytes already sent and new connections wait,
// unanswered, until Up or Close.
func (p *proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Blackhole stops forwarding like Stall, but what it held is lost: Up
// then cuts every connection that was open during the blackhole (client
// and server sides) instead of delivering the held bytes. That is a
// network partition outlasting every client timeout: by the time it
// heals, each client has given up on its calls, so a request never
// reaches the server after its caller stopped waiting for it. New
// connections are accepted (the client's connect succeeds) and then get
// nothing.
func (p *proxy) Blackhole() {
	p.Stall()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutOnUp = true
}

// Up restores service: new connections are accepted and stalled data
// flows again (after a Blackhole, the connections it held are cut first).
func (p *proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = false
	if p.cutOnUp {
		p.cutOnUp = false
		p.cutLocked()
	}
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Stats returns how many connections were forwarded and refused so far.
func (p *proxy) Stats() (accepted, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.refused
}

// Close stops the proxy, closes every connection and waits for every
// goroutine it started.
func (p *proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.cutLocked()
	p.mu.Unlock()
	if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		panic(err)
	}
	p.wg.Wait()
}
