package apiclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Errors are the sentinels a provider package reports failures with; each
// failure wraps one of them.
type Errors struct {
	// Config: the client is unusable (no HTTPClient, a request that cannot
	// be built). Nothing was sent.
	Config error
	// Request: no answer (network failure, timeout, cancelled context, or
	// the HTTP client refused to send: a Connector's client for an owner
	// who is not connected). The cause stays in the chain.
	Request error
	// Response: an unusable answer (a redirect, an unexpected success
	// status, a body over MaxBody, JSON without what the call needs).
	Response error
}

// Caller sends JSON calls to one API root. Its HTTPClient authenticates
// them: a Connector's Client(owner), or a TokenClient.
type Caller struct {
	HTTPClient *http.Client
	// Base is the API root, from Base.
	Base string
	// Timeout bounds each call on top of the caller's context. Default 15
	// seconds.
	Timeout time.Duration
	// Accept is the Accept header sent with every call.
	Accept string
	Errors Errors
	// APIError turns an answer of status 400 or more into the provider's
	// error. body is at most MaxBody+1 bytes; it must not be kept.
	APIError func(status int, header http.Header, body []byte) error
}

// Call is one request.
type Call struct {
	Method string
	// Path is appended to the Caller's Base; it starts with "/".
	Path  string
	Query url.Values
	// In is sent as the JSON body when not nil.
	In any
	// Want is the success status.
	Want int
	// Out receives the JSON of a Want answer when not nil; a
	// *json.RawMessage receives the body as sent, byte for byte.
	Out any
}

// Do sends call and decodes its answer. It never follows a redirect,
// whatever the HTTPClient's CheckRedirect says, so neither a POST nor a
// token is ever sent anywhere else. A status of 400 or more is APIError's;
// anything else unexpected wraps Errors.Response.
func (c *Caller) Do(ctx context.Context, call Call) error {
	status, header, raw, err := c.send(ctx, call)
	if err != nil {
		return err
	}
	what := call.Method + " " + call.Path
	switch {
	case status >= 300 && status <= 399:
		return fmt.Errorf("%w: %s answered redirect %d, not followed", c.Errors.Response, what, status)
	case status >= 400:
		return c.APIError(status, header, raw)
	case status != call.Want:
		return fmt.Errorf("%w: %s answered %d, want %d", c.Errors.Response, what, status, call.Want)
	case len(raw) > MaxBody:
		return fmt.Errorf("%w: %s body larger than %d bytes", c.Errors.Response, what, MaxBody)
	case call.Out == nil:
		return nil
	}
	// Decoded as JSON whatever the Content-Type says.
	if rm, ok := call.Out.(*json.RawMessage); ok && json.Valid(raw) {
		*rm = raw
		return nil
	}
	if err := json.Unmarshal(raw, call.Out); err != nil {
		return fmt.Errorf("%w: %s body is not the expected JSON (%d bytes)", c.Errors.Response, what, len(raw))
	}
	return nil
}

// send makes the request and reads at most MaxBody+1 bytes of the answer;
// a redirect's body is not read.
func (c *Caller) send(ctx context.Context, call Call) (int, http.Header, []byte, error) {
	what := call.Method + " " + call.Path
	if c.HTTPClient == nil {
		return 0, nil, nil, fmt.Errorf("%w: HTTPClient is required", c.Errors.Config)
	}
	var body io.Reader
	if call.In != nil {
		b, err := json.Marshal(call.In)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: encoding %s: %w", c.Errors.Config, what, err)
		}
		body = bytes.NewReader(b)
	}
	target := c.Base + call.Path
	if len(call.Query) > 0 {
		target += "?" + call.Query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(c.Timeout, 15*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, call.Method, target, body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: building %s: %w", c.Errors.Config, what, err)
	}
	req.Header.Set("Accept", c.Accept)
	if call.In != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := *c.HTTPClient
	hc.CheckRedirect = noRedirects
	resp, err := hc.Do(req)
	if err != nil {
		// The *url.Error repeats the URL, which is not secret but noisy;
		// keep only the cause so timeouts and a Connector's reasons stay
		// recognisable with errors.Is.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("%w: %s: %w", c.Errors.Request, what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, resp.Header, nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: reading %s: %w", c.Errors.Request, what, err)
	}
	return resp.StatusCode, resp.Header, raw, nil
}
