//go:build !linux

package redistest

import "syscall"

// diesWithTest is a Linux feature (see proc_linux.go); elsewhere clean-ups alone stop servers.
func diesWithTest() *syscall.SysProcAttr { return nil }
