// Package oauthlinkotel is the OpenTelemetry adapter of oauthlink: metrics
// from the Connector's one event hook and spans and latencies around its
// calls to the provider, without touching the library. It is a module of
// its own, so apps that do not use OpenTelemetry never download it.
//
// Wire one Telemetry per Connector:
//
//	tel, err := oauthlinkotel.New(meterProvider, tracerProvider, oauthlinkotel.Options{Provider: provider})
//	cfg := oauthlink.Config{
//		Provider:   provider,
//		HTTPClient: &http.Client{Transport: tel.Transport(nil), Timeout: 30 * time.Second},
//		Hooks:      oauthlink.Hooks{OnEvent: oauthlinkotel.Chain(tel.OnEvent, app.OnEvent)},
//		// ...
//	}
//
// # Metrics
//
// oauthlink.events (counter, {event}) counts every Event, with attributes
// oauthlink.event (the kind: connected, refreshed, refresh_failed,
// keeper_pass...), oauthlink.provider, oauthlink.outcome ("ok" or
// "failed") and, for a failure, oauthlink.error: the class of the error
// (ErrorClass), one of reauth_required, refresh, exchange, revoke,
// store_unavailable, store, issuer, no_flow_cookie, already_connected,
// state_expired, state_replayed, invalid_state, owner_mismatch, no_owner,
// cross_origin, bad_request, disconnected, config, timeout, canceled,
// provider_cancelled, provider or other. The owner is not recorded unless
// Options.RecordOwner asks for it as oauthlink.owner: owner ids make one
// time series per account and may be personal data.
//
// oauthlink.event.duration (histogram, s) is the duration of the
// operation behind each event (Event.Duration: the callback for connected
// and flow_failed, the refresh for refreshed, refresh_failed and
// reauth_required, the revocation for disconnected and revoke_failed, the
// pass for keeper_pass), with the attributes of oauthlink.events; its
// buckets reach an hour, for keeper passes.
//
// oauthlink.provider.duration (histogram, s) is the duration of each call
// to the provider through Transport, until its response headers arrived,
// with oauthlink.provider, oauthlink.operation (token, revoke or api) and
// oauthlink.status_class (2xx, 3xx, 4xx, 5xx, or error when no
// response came).
//
// oauthlink.connections (observable gauge, {connection}) is the number of
// stored connections by oauthlink.provider and oauthlink.status, when
// ObserveConnections is given a store.Scanner.
//
// # Spans
//
// Transport starts one client span per request: oauthlink.token for the
// provider's TokenURL (exchange, refresh), oauthlink.revoke for its
// RevokeURL, oauthlink.api for anything else (Connector.Client). Its
// attributes are oauthlink.provider, oauthlink.operation,
// http.request.method, server.address, server.port,
// http.response.status_code and, for a 4xx or 5xx status or a failed round
// trip, error.type (the status, or timeout, canceled or transport).
//
// Nothing recorded ever holds an error's text, a URL's path or query, a
// header value, a body, a token, a code, a state or a client secret.
package oauthlinkotel
