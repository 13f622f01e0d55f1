//go:build !linux

package vdso

import (
	"errors"
	"runtime"
)

func read() (*Image, error) {
	return nil, errors.New("no vDSO on " + runtime.GOOS)
}
