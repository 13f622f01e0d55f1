//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Per-thread work at a clone event and at a thread's last measurement
// used to open and parse /proc/PID/maps and open /proc/PID/pagemap each
// time: with thousands of short threads that was most of the supervisor's
// time. An address space's record (image) keeps both files open instead,
// and asks for the one mapping it needs with the PROCMAP_QUERY ioctl
// (Linux 6.11), falling back to reading the whole file on older kernels.
// Both files are bound to the address space they were opened for, so an
// image (one exec in one address space) is the right owner.

// procmapQuery is the kernel's struct procmap_query (linux/fs.h).
type procmapQuery struct {
	size        uint64
	queryFlags  uint64
	queryAddr   uint64
	vmaStart    uint64
	vmaEnd      uint64
	vmaFlags    uint64
	vmaPageSize uint64
	vmaOffset   uint64
	inode       uint64
	devMajor    uint32
	devMinor    uint32
	nameSize    uint32
	buildIDSize uint32
	nameAddr    uint64
	buildIDAddr uint64
}

const (
	// _IOWR('f', 17, struct procmap_query)
	procmapQueryIoctl = 3<<30 | uint(unsafe.Sizeof(procmapQuery{}))<<16 | 'f'<<8 | 17
	vmaReadable       = 1
	vmaWritable       = 2
	vmaExecutable     = 4
	vmaShared         = 8
)

// procmapUnsupported is set once the kernel has refused the ioctl.
var procmapUnsupported bool

// pagemap is the address space's /proc/PID/pagemap, opened through tid on
// first use.
func (img *image) pagemap(tid int) *os.File {
	if img.pm == nil && !img.pmFailed {
		f, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", tid))
		if err != nil {
			img.pmFailed = true
			return nil
		}
		img.pm = f
	}
	return img.pm
}

// mappingAt finds the mapping that holds addr, and the one just below it
// when that one ends where it starts (a guard page), in the address space
// of img (tid is one of its threads).
func (img *image) mappingAt(tid int, addr uint64) (m, below mapping, found, adjacent bool) {
	if !procmapUnsupported && !img.mapsFailed {
		if img.maps == nil {
			f, err := os.Open(fmt.Sprintf("/proc/%d/maps", tid))
			if err != nil {
				img.mapsFailed = true
			} else {
				img.maps = f
			}
		}
		if img.maps != nil {
			var ok, unsupported bool
			if m, ok, unsupported = queryMapping(img.maps, addr, img.nameBuf[:]); !unsupported {
				if !ok {
					return m, below, false, false
				}
				if m.start > 0 {
					below, adjacent, _ = queryMapping(img.maps, m.start-1, img.nameBuf[:])
					adjacent = adjacent && below.end == m.start
				}
				return m, below, true, adjacent
			}
			procmapUnsupported = true
		}
	}
	maps := readMaps(tid)
	m, i, ok := findMapping(maps, addr)
	if !ok {
		return m, below, false, false
	}
	if i > 0 && maps[i-1].end == m.start {
		return m, maps[i-1], true, true
	}
	return m, below, true, false
}

// queryMapping asks the kernel for the mapping that covers addr.
func queryMapping(f *os.File, addr uint64, name []byte) (m mapping, ok, unsupported bool) {
	// name is pinned: the kernel writes it through an address Go does not
	// see as a pointer (see pagemapScan).
	var pin runtime.Pinner
	pin.Pin(&name[0])
	defer pin.Unpin()
	fd := f.Fd()
	q := procmapQuery{queryAddr: addr, nameSize: uint32(len(name)), nameAddr: uint64(uintptr(unsafe.Pointer(&name[0])))}
	q.size = uint64(unsafe.Sizeof(q))
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(procmapQueryIoctl), uintptr(unsafe.Pointer(&q)))
	switch e {
	case 0:
	case unix.ENOTTY, unix.EINVAL, unix.EOPNOTSUPP:
		return m, false, true
	default: // ENOENT: nothing covers addr
		return m, false, false
	}
	perms := []byte("---p")
	if q.vmaFlags&vmaReadable != 0 {
		perms[0] = 'r'
	}
	if q.vmaFlags&vmaWritable != 0 {
		perms[1] = 'w'
	}
	if q.vmaFlags&vmaExecutable != 0 {
		perms[2] = 'x'
	}
	if q.vmaFlags&vmaShared != 0 {
		perms[3] = 's'
	}
	m = mapping{start: q.vmaStart, end: q.vmaEnd, off: q.vmaOffset, perms: string(perms)}
	if n := int(q.nameSize); n > 1 && n <= len(name) {
		m.path = string(name[:n-1]) // without its NUL
	}
	return m, true, false
}

// mappingAt is image.mappingAt in t's address space.
func (tr *tracer) mappingAt(t *thread, addr uint64) (m, below mapping, found, adjacent bool) {
	img := t.img
	if img == nil {
		img = &image{}
		defer img.close()
	}
	return img.mappingAt(t.TID, addr)
}

// lowestTouched is lowestTouched with t's address space's pagemap.
func (tr *tracer) lowestTouched(t *thread, mem *memReader, lo, hi uint64) (uint64, bool) {
	if t.img != nil {
		if pm := t.img.pagemap(t.TID); pm != nil {
			return lowestTouchedIn(pm, mem, lo, hi)
		}
	}
	return lowestTouched(t.TID, mem, lo, hi)
}

// pmScanArg is the kernel's struct pm_scan_arg (linux/fs.h), pageRegion
// its struct page_region.
type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages uint64
	categoryInverted, categoryMask, categoryAnyofMask       uint64
	returnMask                                              uint64
}

type pageRegion struct{ start, end, categories uint64 }

const (
	// _IOWR('f', 16, struct pm_scan_arg)
	pagemapScanIoctl = 3<<30 | uint(unsafe.Sizeof(pmScanArg{}))<<16 | 'f'<<8 | 16
	pageIsPresent    = 1 << 3
	pageIsSwapped    = 1 << 4
)

// pagemapScanUnsupported is set once the kernel has refused PAGEMAP_SCAN.
var pagemapScanUnsupported bool

// scanPresent finds the lowest non-zero byte in [lo, hi) among present or
// swapped pages with the PAGEMAP_SCAN ioctl (Linux 6.7): the kernel skips
// the untouched part of a stack a page table at a time and returns the
// lowest run of touched pages, instead of stackscope reading one pagemap
// entry per page of an 8 MiB stack. supported is false when the kernel
// lacks it (the caller reads pagemap entries instead).
func scanPresent(pm *os.File, mem *memReader, lo, hi uint64) (low uint64, ok, supported bool) {
	if pagemapScanUnsupported {
		return 0, false, false
	}
	var buf []byte
	for lo < hi {
		r := new([1]pageRegion)
		n, _, e := pagemapScan(pm, lo, hi, r[:])
		if e != 0 {
			if e == unix.ENOTTY || e == unix.EINVAL || e == unix.EOPNOTSUPP {
				pagemapScanUnsupported = true
				return 0, false, false
			}
			return 0, false, true
		}
		if n == 0 || r[0].end <= r[0].start {
			return 0, false, true // nothing touched
		}
		// The lowest non-zero byte of the run (fresh pages are zero).
		for p := r[0].start; p < r[0].end && p < hi; {
			end := min(r[0].end, hi, p+64*1024)
			if uint64(cap(buf)) < end-p {
				buf = make([]byte, 64*1024)
			}
			b := buf[:end-p]
			if mem.read(p, b) {
				if j := firstNonZero(b); j >= 0 {
					return p + uint64(j), true, true
				}
			}
			p = end
		}
		lo = r[0].end
	}
	return 0, false, true
}

// pagemapScan asks PAGEMAP_SCAN for the runs of present or swapped pages
// of [lo, hi), at most len(vec) of them, and returns how many it wrote and
// where its walk ended (hi's page, or where vec filled up).
// The kernel writes vec through an address inside the argument, which Go
// does not see as a pointer: vec is pinned so that it stays where that
// address says while the ioctl runs (a local array would move with its
// goroutine's stack when a call grows it, and the kernel would write the
// old place: the measured peak was then "nothing touched", in 1 of some
// hundred stress runs).
func pagemapScan(pm *os.File, lo, hi uint64, vec []pageRegion) (n uintptr, walkEnd uint64, e unix.Errno) {
	var pin runtime.Pinner
	pin.Pin(&vec[0])
	defer pin.Unpin()
	fd := pm.Fd()
	a := &pmScanArg{start: lo, end: (hi + 4095) &^ 4095, vec: uint64(uintptr(unsafe.Pointer(&vec[0]))), vecLen: uint64(len(vec)),
		categoryAnyofMask: pageIsPresent | pageIsSwapped, returnMask: pageIsPresent | pageIsSwapped}
	a.size = uint64(unsafe.Sizeof(*a))
	pin.Pin(a)
	n, _, e = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(pagemapScanIoctl), uintptr(unsafe.Pointer(a)))
	return n, a.walkEnd, e
}

// firstNonZero is the index of b's first non-zero byte, or -1.
func firstNonZero(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}
