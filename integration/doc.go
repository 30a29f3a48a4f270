// Package integration holds oauthlink's tests against real stores: several
// instances of one app on one PostgreSQL schema or one Redis key prefix,
// against the fake Qonto (Ory Hydra's refresh-token rules) from
// oauthlinktest, with store connections killed or cut at chosen moments.
// It has no code of its own; run it with
//
//	go test -race ./integration/
//
// The servers are the ones the store packages test on:
// OAUTHLINK_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable, through pgx's
// database/sql driver) and OAUTHLINK_TEST_REDIS (default 127.0.0.1:6379).
// An unreachable server skips the tests with a message, or fails them when
// CI is set. Each test uses a schema or key prefix of its own and removes
// it.
//
// The tests:
//
//   - instances_test.go: four instances, each with its own pool or client
//     and Connector, refresh one connection under 4 × 50 concurrent calls
//     per expiry at grace 0: one refresh per rotation, no reuse detection,
//     every instance on the stored token; also with encryption at rest.
//   - faults_test.go: the store fails between Qonto's answer and the
//     save; its opening comment documents what happens at each step.
//   - callback_test.go: the store is down or stalls during the callback,
//     before or after the code is spent.
//   - faults_table_test.go: TestFaultTable, one fault per row (429 longer
//     than the lease, 5xx and slow answers, the store down for every
//     instance or one, the store blackholed past every timeout, an
//     instance SIGKILLed mid-refresh, a rotated answer lost at grace 0
//     and 60 s) under four instances, eight connections and 256
//     concurrent calls per expiry; every row checks that no refresh
//     token is presented twice, no reuse is detected, and every
//     connection is still stored, active and usable. Skipped with -short.
//   - fleet_scale_test.go: TestKeeperAtFleetScale, N connections
//     (OAUTHLINK_FLEET_N, default 20,000) of which 200 are due, and four
//     instances each running one fleet.Keeper pass at once at 25/s: each
//     due connection refreshed once, no reuse detection, no other record
//     touched, the rate kept on the real clock. Skipped with -short.
//   - child_test.go: an instance of the app in a child process (the test
//     binary re-executed), so a test can SIGKILL it.
//
// # When the store fails during a refresh
//
// Qonto rotates the refresh token on every refresh, so for a moment the
// only copy of a connection is the provider's answer in one process's
// memory. oauthlink saves that answer under a context the caller cannot
// cancel, retrying with backoff (50 ms doubling to 1 s) while its lease
// holds, for at most the longer of ExchangeTimeout and LockTTL, so a
// killed database connection costs one retry on a new connection, not the
// connection, and no other instance refreshes meanwhile. If the store is still down, the
// call fails with ErrStore and the new tokens stay in that instance's
// memory; the stored record is left as it was, never deleted. Until the
// store answers, calls fail before reaching the provider, so the retired
// refresh token is never sent again. When the store is back, the next call
// on that instance saves the kept tokens without calling the provider,
// however long the outage lasted. An instance that never saw them (a
// restart, or another instance answering first) can only use the retired
// token: inside the provider's grace window (60 s at Qonto) the provider
// accepts it and the connection lives on; after it the provider revokes the
// grant and the connection is marked reauth_required, so the user is asked
// to connect again, and it is never silently dropped.
package integration
