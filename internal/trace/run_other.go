//go:build !(linux && amd64)

package trace

import (
	"errors"
	"runtime"
)

// ErrPtraceDenied is returned on Linux when the kernel refuses to trace.
var ErrPtraceDenied = errors.New("ptrace is not permitted here")

// StartError is a failure to start the program.
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Run is only implemented on Linux on x86-64 (the unwinder and the crash
// analysis read x86-64 registers).
func Run(cfg Config) (*Result, error) {
	return nil, &StartError{Code: 2, Err: errors.New("stackscope run needs Linux on x86-64 (it traces with ptrace); this is " + runtime.GOOS + "/" + runtime.GOARCH)}
}
