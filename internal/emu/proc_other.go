//go:build !linux

package emu

import "syscall"

// qemuProcAttr: elsewhere there is no parent-death signal, so QEMU is
// killed on stackscope's own return paths only (Close).
func qemuProcAttr() *syscall.SysProcAttr { return nil }

// killGroup: QEMU is not in a group of its own here; Close kills the
// process itself.
func killGroup(pid int) {}
