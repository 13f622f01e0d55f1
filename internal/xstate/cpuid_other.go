//go:build !amd64

package xstate

// Read returns Sizes{} (not Known): the machine is not x86-64.
func Read() Sizes { return Sizes{} }
