//go:build unix

package binfile

import (
	"os"
	"sync/atomic"
	"syscall"
)

// mapFile maps the whole file read-only, so code is read straight from
// the page cache instead of being copied: the copy of a 28 MB .text was a
// tenth of the time to analyse a large program. nil when it cannot be done.
func mapFile(r *os.File) []byte {
	st, err := r.Stat()
	if err != nil || st.Size() <= 0 || st.Size() != int64(int(st.Size())) {
		return nil
	}
	data, err := syscall.Mmap(int(r.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return data
}

func unmapFile(data []byte) {
	if data != nil {
		_ = syscall.Munmap(data)
	}
}

// mapLasting maps bytes [off, off+size) of the file read-only, for
// what stays in use after the file is closed (symbol names, the CFI's
// entries): Close unmaps the whole file's mapping, never this one, which
// lasts as long as the process (Go's collector leaves memory outside its
// heap alone). nil when it cannot be done.
func mapLasting(r *os.File, off, size int64) []byte {
	if lastingMaps.Add(1) > maxLastingMaps {
		return nil
	}
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	if off < 0 || size <= 0 || size != int64(int(size)) || off-start+size != int64(int(off-start+size)) {
		return nil
	}
	data, err := syscall.Mmap(int(r.Fd()), start, int(off-start+size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return data[off-start:]
}

// maxLastingMaps bounds the mappings mapLasting makes in a process (the
// rest are copies): they are never unmapped, and a run over a whole
// system's libraries opens tens of thousands of files, two or three such
// mappings each. Linux refuses a process more than vm.max_map_count
// mappings (65,530 by default), and then Go's own heap cannot grow: the
// runtime dies. 8,192 is a few thousand files' worth, all of any one
// program's, far below the limit.
const maxLastingMaps = 8192

var lastingMaps atomic.Int64
