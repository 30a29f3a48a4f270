package oauthlink_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauthlink/oauthlink"
)

// statusErr is an error of another package that chooses its status, as the
// mollie package's client-link errors do.
type statusErr struct {
	status int
	wraps  error
}

func (e *statusErr) Error() string   { return fmt.Sprintf("other: %d", e.status) }
func (e *statusErr) HTTPStatus() int { return e.status }
func (e *statusErr) Unwrap() error   { return e.wraps }

// TestHTTPStatusChosenByError: the first error in the chain with an
// HTTPStatus method in 400..599 decides, before the sentinels it wraps.
func TestHTTPStatusChosenByError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"422", &statusErr{status: 422}, 422},
		{"wrapped", fmt.Errorf("context: %w", &statusErr{status: 503}), 503},
		{"before the sentinel it wraps", &statusErr{status: 422, wraps: oauthlink.ErrBadRequest}, 422},
		{"in a join", errors.Join(oauthlink.ErrNoOwner, &statusErr{status: 502}), 502},
		{"outermost first", &statusErr{status: 503, wraps: &statusErr{status: 422}}, 503},
		{"out of range is ignored", &statusErr{status: 200, wraps: oauthlink.ErrBadRequest}, 400},
		{"600 is ignored", &statusErr{status: 600}, 500},
		{"0 is ignored, the next one decides", &statusErr{wraps: &statusErr{status: 422}}, 422},
		{"no method: the sentinels", fmt.Errorf("x: %w", oauthlink.ErrOwnerMismatch), 403},
		{"cross-origin", fmt.Errorf("other: %w", oauthlink.ErrCrossOrigin), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, oauthlink.HTTPStatus(tt.err))
		})
	}
	err := fmt.Errorf("a: %w", errors.Join(errors.New("b"), &statusErr{status: 422}))
	assert.Zero(t, testing.AllocsPerRun(100, func() { oauthlink.HTTPStatus(err) }))
}

// TestDefaultErrorHandlerChosenStatus: the default page answers the chosen
// status, with a sentence for 422 and 503, the parameter's name when a
// *ParamError is wrapped, and the cross-site sentence for ErrCrossOrigin.
func TestDefaultErrorHandlerChosenStatus(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		text   string
	}{
		{"422 naming the parameter", &statusErr{status: 422, wraps: &oauthlink.ParamError{Param: "owner.email"}}, 422,
			"The <code>owner.email</code> parameter is invalid."},
		{"422", &statusErr{status: 422}, 422, "did not accept the details"},
		{"503", &statusErr{status: 503}, 503, "busy right now"},
		{"502", &statusErr{status: 502}, 502, "Something went wrong"},
		{"cross-origin", fmt.Errorf("other: %w", oauthlink.ErrCrossOrigin), 403, "sent from another site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			oauthlink.DefaultErrorHandler(w, httptest.NewRequest(http.MethodPost, "/", nil), tt.err)
			assert.Equal(t, tt.status, w.Code)
			assert.Contains(t, w.Body.String(), tt.text)
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		})
	}
}
