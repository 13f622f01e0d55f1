package emu

import "syscall"

// qemuProcAttr puts QEMU in its own process group (a terminal's Ctrl-C
// reaches stackscope, which stops the run and reports) and has the kernel
// send it SIGKILL when stackscope dies, however it dies.
func qemuProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills QEMU's whole process group.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
