package redistest

import "syscall"

// diesWithTest has the kernel kill a redis-server when the test binary dies, also where no
// clean-up runs: a test that times out panics and exits, and a killed binary runs nothing. (The
// signal follows the OS thread that started the process; Go ends a thread only when a goroutine
// that locked it exits, which nothing in these tests does.)
func diesWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
