//go:build !linux

package redisstore

import (
	"os"
	"os/exec"
)

// setServerProcAttr does nothing here: only Linux has Pdeathsig, so a
// server outlives a test binary killed before its cleanups run.
func setServerProcAttr(*exec.Cmd) {}

// killServer kills the server.
func killServer(p *os.Process) { _ = p.Kill() }
