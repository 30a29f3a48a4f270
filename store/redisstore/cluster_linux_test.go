//go:build linux

package redisstore

import (
	"os"
	"os/exec"
	"syscall"
)

// setServerProcAttr puts the server in a process group of its own, so that
// killServer also ends any child it forked (the snapshot Redis forks for a
// replica's sync), and has the kernel kill it when the test binary dies
// without running its cleanups. Pdeathsig fires when the thread that
// started the server exits; Go ends a thread only when a goroutine exits
// locked to it, which the tests never do, so in practice that is the
// binary's death.
func setServerProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killServer kills the server's process group.
func killServer(p *os.Process) {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		_ = p.Kill()
	}
}
