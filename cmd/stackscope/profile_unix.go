//go:build unix

package main

import (
	"os"
	"syscall"
)

// profileSignals are the signals that write the profiles out (profile.go).
var profileSignals = []os.Signal{syscall.SIGUSR1}
