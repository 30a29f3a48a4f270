package oauthlink

import "github.com/oauthlink/oauthlink/store"

// capability finds an optional capability on s or on the stores it wraps
// (through an Unwrap() store.TokenStore method).
func capability[T any](s store.TokenStore) (T, bool) {
	for s != nil {
		if v, ok := s.(T); ok {
			return v, true
		}
		u, ok := s.(interface{ Unwrap() store.TokenStore })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}
