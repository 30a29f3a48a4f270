// Package testutil holds test helpers shared by the tests of this
// repository's packages and modules: a log buffer safe for concurrent
// writers, bounded test contexts, and the checks the store drivers' lock
// tests have in common.
//
// It is for _test.go files only. It depends on the standard library and
// package store (the contract) alone, so a driver module's tests can use
// it without pulling in the engine.
package testutil
