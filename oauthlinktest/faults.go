package oauthlinktest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// Endpoint names one of a fake's endpoints, for faults and counters.
type Endpoint string

// The endpoints the fakes serve: EndpointRevoke only on a fake with a
// revocation endpoint, EndpointMetadata only on one that publishes
// metadata (Generic, Qonto).
const (
	// EndpointAuthorize is the browser-facing authorization endpoint
	// (RFC 6749 §3.1), including the consent page's POST.
	EndpointAuthorize Endpoint = "authorize"
	// EndpointToken is the token endpoint (RFC 6749 §3.2).
	EndpointToken Endpoint = "token"
	// EndpointRevoke is the revocation endpoint (RFC 7009; Mollie's DELETE).
	EndpointRevoke Endpoint = "revoke"
	// EndpointAPI is every REST API route, including routes added with
	// Handle.
	EndpointAPI Endpoint = "api"
	// EndpointMetadata is the authorization server metadata document
	// (RFC 8414; OpenID Connect Discovery at Qonto). See MetadataURL.
	EndpointMetadata Endpoint = "metadata"
)

// Fault scripts how an endpoint misbehaves for one request. Faults queued
// with Fault are consumed one per request, in order; a request with no
// queued fault is served normally.
//
// A fault whose Status, Body, BodySize or RedirectTo is set replaces the
// response: the request is not processed (a code is not spent, a refresh
// token not rotated). Otherwise the request is processed normally and Delay,
// RetryAfter, ContentType, Drop and HoldUntil shape how its answer is
// delivered. The zero Fault serves the request normally.
type Fault struct {
	// Status is the replacement response's status. Default 200, or 307
	// when RedirectTo is set.
	Status int
	// Body is the replacement response's raw body.
	Body string
	// ContentType sets the Content-Type of the response, replaced or
	// normal (e.g. text/html on a processed token answer). A replacement
	// body without it is sent as text/plain.
	ContentType string
	// Delay waits this long before the request is processed or the
	// replacement is written. The wait ends early, with nothing processed
	// and the connection closed without an answer, when the request's
	// context ends (the client gave up) or the fake is closed.
	Delay time.Duration
	// BodySize streams this many bytes of filler ('x') after Body, in
	// small chunks without allocating them, with no Content-Length, so a
	// client's size limit can be tested (e.g. 50 << 20).
	BodySize int64
	// RetryAfter is sent as the Retry-After header, verbatim (delay
	// seconds or an HTTP date; malformed values are allowed on purpose).
	RetryAfter string
	// Drop processes the request normally (a code really is spent, a
	// refresh token really is rotated), then closes the connection
	// without writing any response.
	Drop bool
	// RedirectTo answers with a redirect (307 unless Status says
	// otherwise) to this URL, without processing the request.
	RedirectTo string
	// HoldUntil processes the request, then waits until the channel is
	// closed (or receives) before writing the answer. If the client goes
	// away or the fake is closed first, the connection is closed without
	// an answer.
	HoldUntil <-chan struct{}
}

func (f Fault) replaces() bool {
	return f.Status != 0 || f.Body != "" || f.BodySize > 0 || f.RedirectTo != ""
}

// Fault queues faults for endpoint e; each is consumed by one request, in
// order, after the ones already queued.
func (s *server) Fault(e Endpoint, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[e] = append(s.faults[e], faults...)
}

// PendingFaults returns how many queued faults for e no request has
// consumed yet.
func (s *server) PendingFaults(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults[e])
}

// wrap counts the request, buffers its body (so the request context is
// cancelled when the client disconnects, even while a Delay waits), applies
// the next queued fault and then the staging check.
func (s *server) wrap(e Endpoint, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks := s.testHooks()
		if hooks.done != nil {
			defer hooks.done(e)
		}
		defer s.persistNow() // runs before hooks.done: a test sees the file written
		s.mu.Lock()
		s.calls[e]++
		f, faulty := Fault{}, len(s.faults[e]) > 0
		if faulty {
			f = s.faults[e][0]
			s.faults[e] = s.faults[e][1:]
		}
		s.mu.Unlock()

		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !faulty {
			s.serveChecked(e, w, r, h)
			return
		}
		if hooks.fault != nil {
			hooks.fault(e)
		}
		s.serveFault(e, f, w, r, h)
	})
}

func (s *server) serveFault(e Endpoint, f Fault, w http.ResponseWriter, r *http.Request, h http.Handler) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		if !wait(s, r.Context(), t.C) {
			abort()
		}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.replaces() {
		s.writeFault(w, r, f)
		return
	}
	if !f.Drop && f.HoldUntil == nil {
		s.serveChecked(e, forceType(w, f.ContentType), r, h)
		return
	}
	buf := &bufferedResponse{header: http.Header{}}
	s.serveChecked(e, forceType(buf, f.ContentType), r, h)
	if f.HoldUntil != nil && !wait(s, r.Context(), f.HoldUntil) {
		abort()
	}
	if f.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	buf.copyTo(w)
}

// wait blocks until ch delivers, ctx ends or the fake closes, and reports
// whether ch delivered.
func wait[T any](s *server, ctx context.Context, ch <-chan T) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

func (s *server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	status := f.Status
	if f.RedirectTo != "" {
		w.Header().Set("Location", f.RedirectTo)
		if status == 0 {
			status = http.StatusTemporaryRedirect
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	ct := f.ContentType
	if ct == "" && (f.Body != "" || f.BodySize > 0) {
		ct = "text/plain; charset=utf-8"
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	if _, err := io.WriteString(w, f.Body); err != nil {
		return
	}
	for left := f.BodySize; left > 0; {
		select {
		case <-r.Context().Done():
			abort()
		case <-s.closed:
			abort()
		default:
		}
		n := min(left, int64(len(filler)))
		if _, err := w.Write(filler[:n]); err != nil {
			abort()
		}
		left -= n
	}
}

// abort ends the handler and closes the connection without completing the
// response, so a client never mistakes a cut-off answer for a whole one
// (returning normally would send an empty 200 or close a chunked body
// cleanly). net/http does not log this panic.
func abort() { panic(http.ErrAbortHandler) }

var filler = bytes.Repeat([]byte{'x'}, 32<<10)

// forceType makes w send contentType (when not empty) whatever the handler
// sets.
func forceType(w http.ResponseWriter, contentType string) http.ResponseWriter {
	if contentType == "" {
		return w
	}
	return &typedWriter{ResponseWriter: w, contentType: contentType}
}

type typedWriter struct {
	http.ResponseWriter
	contentType string
	wrote       bool
}

func (t *typedWriter) WriteHeader(code int) {
	if !t.wrote {
		t.wrote = true
		t.Header().Set("Content-Type", t.contentType)
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *typedWriter) Write(p []byte) (int, error) {
	if !t.wrote {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(p)
}

func (t *typedWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// bufferedResponse records a handler's answer so it can be held or dropped.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	b.WriteHeader(http.StatusOK)
	w.WriteHeader(b.status)
	w.Write(b.body.Bytes())
}
