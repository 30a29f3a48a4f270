package oauthlinkotel

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Operations of a call to the provider (attribute oauthlink.operation).
const (
	OperationToken  = "token"
	OperationRevoke = "revoke"
	OperationAPI    = "api"
)

// Transport wraps base (http.DefaultTransport when nil) for
// Config.HTTPClient.Transport: each request gets a client span, named
// oauthlink.token, oauthlink.revoke or oauthlink.api by the URL it goes
// to, and its duration, until the response headers arrived, is recorded
// in oauthlink.provider.duration.
//
// The request goes to base as it came: its body, headers and context are
// neither read nor changed (no trace context is injected: the provider is
// not part of the app's trace). The response is base's, unwrapped; the
// transport closes nothing. Only the provider's name, the operation, the
// method, the server's host and port and the status are recorded: never
// the URL's path or query, a header, a body, a token, a code or a secret.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, base: base}
}

type transport struct {
	t    *Telemetry
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t := tr.t
	op := t.operation(req)
	attrs := []attribute.KeyValue{t.provAttr, AttrOperation.String(op), AttrMethod.String(methodLabel(req.Method))}
	if req.URL != nil {
		attrs = append(attrs, AttrServerAddr.String(req.URL.Hostname()))
		if port, err := strconv.Atoi(req.URL.Port()); err == nil {
			attrs = append(attrs, AttrServerPort.Int(port))
		}
	}
	ctx, span := t.tracer.Start(req.Context(), "oauthlink."+op,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	start := time.Now()
	resp, err := tr.base.RoundTrip(req)
	elapsed := time.Since(start).Seconds()

	class := "error"
	if err == nil && resp == nil { // a base that breaks the RoundTripper contract
		span.SetStatus(codes.Error, "no response")
		return resp, err
	}
	if err != nil {
		etype := transportErrorType(err)
		span.SetAttributes(AttrErrorType.String(etype))
		span.SetStatus(codes.Error, etype)
	} else {
		class = statusClass(resp.StatusCode)
		span.SetAttributes(AttrStatusCode.Int(resp.StatusCode))
		if resp.StatusCode >= 400 {
			span.SetAttributes(AttrErrorType.String(strconv.Itoa(resp.StatusCode)))
			span.SetStatus(codes.Error, "")
		}
	}
	t.duration.Record(ctx, elapsed, metric.WithAttributes(
		t.provAttr, AttrOperation.String(op), AttrStatusClass.String(class)))
	return resp, err
}

// CloseIdleConnections forwards to base, so that
// http.Client.CloseIdleConnections reaches the transport that owns them.
func (tr *transport) CloseIdleConnections() {
	if c, ok := tr.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// operation tells a token or revocation call from an API call by the
// request's scheme, host and path, ignoring its query.
func (t *Telemetry) operation(req *http.Request) string {
	if req.URL == nil {
		return OperationAPI
	}
	ep := endpointOf(req.URL)
	switch {
	case ep == t.tokenURL:
		return OperationToken
	case t.revokeURL != endpoint{} && ep == t.revokeURL:
		return OperationRevoke
	}
	return OperationAPI
}

// statusClass is "2xx", "3xx", "4xx" or "5xx", or "other".
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// methodLabel keeps the attribute bounded: a known method or "_OTHER", as
// OpenTelemetry's HTTP conventions ask.
func methodLabel(m string) string {
	switch m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodPatch, http.MethodHead, http.MethodOptions:
		return m
	}
	return "_OTHER"
}

// transportErrorType labels a failed round trip without its text (which
// may name the URL).
func transportErrorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "transport"
}
