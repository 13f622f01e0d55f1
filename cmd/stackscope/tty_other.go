//go:build !linux

package main

import "io"

// isTerminal is false off Linux: report then writes to standard output as
// asked (stackscope's run-time commands are Linux-only anyway).
func isTerminal(w io.Writer) bool { return false }
