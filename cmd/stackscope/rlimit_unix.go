//go:build unix

package main

import "golang.org/x/sys/unix"

// unlimitedStack is RLIM_INFINITY.
const unlimitedStack = uint64(unix.RLIM_INFINITY)

// stackLimit returns the soft and hard RLIMIT_STACK.
func stackLimit() (cur, hard uint64, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &rl); err != nil {
		return 0, 0, err
	}
	return rl.Cur, rl.Max, nil
}
