//go:build !unix

package main

import "errors"

const unlimitedStack = ^uint64(0)

// stackLimit: there is no RLIMIT_STACK here (minstack, like run, needs
// Linux).
func stackLimit() (cur, hard uint64, err error) {
	return 0, 0, errors.New("not supported on this operating system (minstack needs Linux)")
}
