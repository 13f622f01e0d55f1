//go:build linux && amd64

package trace

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/stackscope/stackscope/internal/symbolize"
	"golang.org/x/sys/unix"
)

// glibc's start_thread gives most of an exiting thread's stack back with
// madvise(MADV_DONTNEED) before the thread exits, which would erase the
// evidence of its peak by PTRACE_EVENT_EXIT. So each program image gets one
// breakpoint on madvise: when a thread calls it on its own stack, its peak is
// measured first. The breakpoint replaces `mov $0x1c,%eax` (5 bytes) with
// int3, and the tracer emulates that instruction instead of stepping over it,
// so no other thread can ever run the original bytes while they are away.
//
// libc is not mapped yet when exec stops, so a first breakpoint at the
// program's entry point (AT_ENTRY) waits for the dynamic loader to finish.

var madviseEntry = []byte{0xb8, 0x1c, 0, 0, 0} // mov $0x1c,%eax

// image is one program image (one exec) in one address space: the threads
// of a process share it; forked children get a copy (forkImage).
type image struct {
	entry     uint64 // entry breakpoint, 0 when none is pending
	entryOrig []byte
	madvise   uint64 // madvise breakpoint, 0 when not installed
	// libcLo, libcHi: the executable mapping that holds madvise, to tell
	// glibc's own call (start_thread's advise_stack_range) from others.
	libcLo, libcHi uint64
	// stacks holds the start of every read-write mapping a thread of the
	// address space was given as its stack: a new thread on one of them
	// may find an earlier thread's data there (stackreuse_linux.go).
	stacks map[uint64]bool

	users int // threads pointing at it (tracer.setImage)
	// The address space's /proc/PID/pagemap and /proc/PID/maps, opened on
	// first use (procmap_linux.go).
	pm, maps             *os.File
	pmFailed, mapsFailed bool
	nameBuf              [4096]byte // a mapping's path, from PROCMAP_QUERY
}

// has: addr is one of the image's breakpoints.
func (img *image) has(addr uint64) bool {
	return addr != 0 && (addr == img.entry || addr == img.madvise)
}

func (img *image) close() {
	for _, f := range []**os.File{&img.pm, &img.maps} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

func readAuxv(pid int, key uint64) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid))
	if err != nil {
		return 0, false
	}
	for i := 0; i+16 <= len(b); i += 16 {
		k := binary.LittleEndian.Uint64(b[i:])
		if k == key {
			return binary.LittleEndian.Uint64(b[i+8:]), true
		}
		if k == 0 {
			break
		}
	}
	return 0, false
}

// newImage sets the entry breakpoint of a freshly exec'd, stopped process.
func newImage(pid int) *image {
	img := &image{}
	entry, ok := readAuxv(pid, 9) // AT_ENTRY
	if !ok || entry == 0 {
		return img
	}
	orig := make([]byte, 1)
	if n, err := unix.PtracePeekData(pid, uintptr(entry), orig); err != nil || n != 1 {
		return img
	}
	if n, err := unix.PtracePokeData(pid, uintptr(entry), []byte{0xcc}); err != nil || n != 1 {
		return img
	}
	img.entry, img.entryOrig = entry, orig
	return img
}

// trap handles a SIGTRAP that may be one of our breakpoints. It returns true
// when it was, and the thread has been resumed.
func (tr *tracer) trap(t *thread) bool {
	var r unix.PtraceRegs
	if unix.PtraceGetRegs(t.TID, &r) != nil {
		return false
	}
	img := tr.trapImage(t, r.Rip)
	if img == nil {
		return false
	}
	at := r.Rip - 1
	switch {
	case img.entry != 0 && at == img.entry:
		unix.PtracePokeData(t.TID, uintptr(at), img.entryOrig)
		img.entry = 0
		r.Rip = at
		unix.PtraceSetRegs(t.TID, &r)
		tr.installMadvise(t, img)
	case img.madvise != 0 && at == img.madvise:
		lo, n := r.Rdi, r.Rsi
		if t.StackTop != 0 && lo < t.StackTop && lo+n > t.lo {
			tr.measure(t)
			tr.lastMeasure(t, img, &r)
		}
		r.Rax = 0x1c
		r.Rip = at + uint64(len(madviseEntry))
		unix.PtraceSetRegs(t.TID, &r)
	default:
		return false
	}
	unix.PtraceCont(t.TID, 0)
	return true
}

// installMadvise finds madvise in the C library (or a static executable).
func (tr *tracer) installMadvise(t *thread, img *image) {
	seen := map[string]bool{}
	for _, m := range readMaps(t.TID) {
		if !m.exec() || !strings.HasPrefix(m.path, "/") || seen[m.path] {
			continue
		}
		seen[m.path] = true
		base := baseName(m.path)
		if !strings.HasPrefix(base, "libc.so") && !strings.HasPrefix(base, "libc-") && m.path != t.Program {
			continue
		}
		f, err := symbolize.Open(m.path)
		if err != nil {
			continue
		}
		s, ok := f.FindSymbol("madvise")
		if !ok {
			if s, ok = f.FindSymbol("__madvise"); !ok {
				continue
			}
		}
		bias, ok := f.LoadBias(m.start, m.off)
		if !ok {
			continue
		}
		addr := s.Value + bias
		cur := make([]byte, len(madviseEntry))
		if n, err := unix.PtracePeekData(t.TID, uintptr(addr), cur); err != nil || n != len(cur) || !bytes.Equal(cur, madviseEntry) {
			continue
		}
		if n, err := unix.PtracePokeData(t.TID, uintptr(addr), []byte{0xcc}); err == nil && n == 1 {
			img.madvise = addr
			if m.contains(addr) {
				img.libcLo, img.libcHi = m.start, m.end
			}
			return
		}
	}
}
