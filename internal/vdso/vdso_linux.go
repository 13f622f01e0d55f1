//go:build linux

package vdso

import "golang.org/x/sys/unix"

func read() (*Image, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, err
	}
	b, err := readImage()
	if err != nil {
		return nil, err
	}
	f, err := openImage(b)
	if err != nil {
		return nil, err
	}
	return &Image{Bytes: b, Release: unix.ByteSliceToString(u.Release[:]), Machine: unix.ByteSliceToString(u.Machine[:]), File: f}, nil
}
