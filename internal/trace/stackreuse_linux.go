//go:build linux && amd64

package trace

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// glibc keeps the stacks of exited threads in a cache (40 MiB by default)
// and gives them to new threads. A peak is measured as the lowest non-zero
// byte of a stack, and a reused stack still holds its previous thread's
// data: glibc's madvise at thread exit drops only the pages more than
// PTHREAD_STACK_MIN below the exiting thread's SP (none at all on a stack
// of PTHREAD_STACK_MIN), and after a fork the child's cache receives the
// stacks of all the parent's other threads, still full. Turning the cache
// off (GLIBC_TUNABLES) would change the program's environment and slow its
// thread creation, so instead, at the clone event that creates a thread on
// a stack an earlier thread of the address space used (image.stacks), the
// leftover below the new thread's initial stack pointer is overwritten
// with zeros before the new thread runs a single instruction (the kernel
// stops it for its tracer before it returns to user mode).
//
// That does not change what the program does: memory below a thread's
// initial stack pointer is not the program's to read. The thread itself
// has put nothing there, its creator hands it over as free stack, and C,
// C++ and the x86-64 ABI give a new thread no data below its SP; only a
// program that reads freed memory could tell.
//
// It is done only for a stack glibc allocated itself, proven by the
// thread descriptor glibc wrote at the top of the stack before clone: its
// stackblock/stackblock_size pair describes a block that starts below the
// read-write mapping, in the PROT_NONE guard just under it. (glibc's own
// madvise of the stack at an earlier thread's exit is evidence too, but
// only of the mapping then: glibc may unmap a cached stack and the
// program map its own buffer at the same address; and it misses the
// stacks that are reused without one, small ones and a fork child's.) A stack the
// program supplied (pthread_attr_setstack, a raw clone()) has no such
// block, and may legitimately hold the program's own data below SP (a
// clone() argument at the bottom of its buffer), so it is never written.
// When such a stack, or a glibc stack without a guard, is used again while
// still holding data below its new SP, nothing is cleared and the thread's
// peak is marked as an upper bound, with the reason (Thread.PeakStale).

// reusedStack runs at the clone event that gives thread c the stack
// mapping m (below is the mapping just under it, when adjacent); tls is
// the TLS pointer its creator gave clone (0 when none).
func (tr *tracer) reusedStack(parent, c *thread, tls uint64, m, below mapping, adjacent bool) {
	img := parent.img
	if img == nil || c.StackTop <= m.start || !c.awaitStop {
		// awaitStop: the thread has not been resumed yet. One adopted
		// without its creator's event (releaseOrphans) may be running.
		return
	}
	if img.stacks == nil {
		img.stacks = map[uint64]bool{}
	}
	if !img.stacks[m.start] {
		// A first use: a fresh mapping holds no old data, and clearing
		// it would cost a system call per thread for nothing.
		img.stacks[m.start] = true
		return
	}
	mem := openMem(parent.TID)
	defer mem.close()
	pm := img.pagemap(parent.TID)
	if adjacent && below.none() && glibcOwned(mem, tls, c, m, below) {
		if ok := clearStale(pm, mem, parent.TID, m.start, c.StackTop); ok {
			return
		}
	}
	if low, ok := lowestStale(pm, mem, m.start, c.StackTop); ok {
		c.PeakStale = fmt.Sprintf("its stack (%#x-%#x) held an earlier thread's data down to %#x when it started, which stackscope may only clear on a stack glibc allocated itself: the peak counts that data as used",
			m.start, c.StackTop, low)
	}
}

// glibcOwned: the thread descriptor at the new thread's TLS pointer is
// glibc's (its header's tcb and self words point at itself) and records
// a stack block (stackblock, stackblock_size, two adjacent words) that
// ends where m ends and starts inside the PROT_NONE mapping below m: the
// guard glibc put at the bottom of a stack it allocated. A program's own
// stack (pthread_attr_setstack) is recorded as the buffer the program
// gave, which starts at or above the bottom of its read-write mapping.
func glibcOwned(mem *memReader, tls uint64, c *thread, m, below mapping) bool {
	if tls == 0 || tls < c.StackTop || tls >= m.end {
		return false
	}
	// struct pthread is about 2.3 KiB in glibc 2.36.
	n := min(m.end-tls, 4096) &^ 7
	buf := make([]byte, n)
	if n < 24 || !mem.read(tls, buf) {
		return false
	}
	word := func(i uint64) uint64 { return binary.LittleEndian.Uint64(buf[8*i:]) }
	if word(0) != tls || word(2) != tls {
		return false
	}
	for i := uint64(3); i+1 < n/8; i++ {
		block, size := word(i), word(i+1)
		if block >= below.start && block < m.start && block+size == m.end {
			return true
		}
	}
	return false
}

// zeros is the source of clearStale's writes.
var zeros [64 * 1024]byte

// clearStale overwrites with zeros every non-zero byte of the present (or
// swapped) pages of [lo, hi) in the address space of tid. It is false when
// a page could not be read or written, or pagemap cannot be read.
func clearStale(pm *os.File, mem *memReader, tid int, lo, hi uint64) bool {
	ok := true
	var buf []byte // sized to the runs: usually a few pages near the top
	walked := presentRuns(pm, lo, hi, func(a, b uint64) bool {
		if n := min(b-a, uint64(len(zeros))); uint64(len(buf)) < n {
			buf = make([]byte, n)
		}
		for p := a; p < b; {
			end := min(b, p+uint64(len(buf)))
			chunk := buf[:end-p]
			if !mem.read(p, chunk) {
				ok = false
				return false
			}
			first := firstNonZero(chunk)
			if first >= 0 {
				last := lastNonZero(chunk)
				if !writeZeros(tid, p+uint64(first), last+1-first) {
					ok = false
					return false
				}
			}
			p = end
		}
		return true
	})
	return ok && walked
}

// lowestStale is the lowest non-zero byte of [lo, hi) in its present pages.
func lowestStale(pm *os.File, mem *memReader, lo, hi uint64) (uint64, bool) {
	if pm == nil {
		return lowestNonZero(mem, lo, hi)
	}
	return lowestTouchedIn(pm, mem, lo, hi)
}

// writeZeros writes n zero bytes at addr in the address space of tid.
func writeZeros(tid int, addr uint64, n int) bool {
	for n > 0 {
		k := min(n, len(zeros))
		local := []unix.Iovec{{Base: &zeros[0]}}
		local[0].SetLen(k)
		remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: k}}
		if w, err := unix.ProcessVMWritev(tid, local, remote, 0); err != nil || w != k {
			return false
		}
		addr, n = addr+uint64(k), n-k
	}
	return true
}

// lastNonZero is the index of b's last non-zero byte, or -1.
func lastNonZero(b []byte) int {
	i := len(b)
	for ; i >= 8; i -= 8 {
		if binary.LittleEndian.Uint64(b[i-8:]) != 0 {
			break
		}
	}
	for i--; i >= 0; i-- {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}

// presentRuns calls fn for each run [a, b) of present or swapped pages of
// [lo, hi) (hi rounded up to a page, runs cut at hi), lowest first, until
// fn returns false: with PAGEMAP_SCAN where the kernel has it, else from
// pagemap's entries. It is false when pagemap could not be read.
func presentRuns(pm *os.File, lo, hi uint64, fn func(a, b uint64) bool) bool {
	const page = 4096
	lo &^= page - 1
	if pm == nil || hi <= lo {
		return pm != nil
	}
	if !pagemapScanUnsupported {
		regions := make([]pageRegion, 16)
		for lo < hi {
			n, walkEnd, e := pagemapScan(pm, lo, hi, regions)
			if e == unix.ENOTTY || e == unix.EINVAL || e == unix.EOPNOTSUPP {
				pagemapScanUnsupported = true
				break
			}
			if e != 0 {
				return false
			}
			for _, r := range regions[:min(int(n), len(regions))] {
				if r.end > r.start && !fn(r.start, min(r.end, hi)) {
					return true
				}
			}
			// The kernel stops at a full vector (or at the end): go on
			// from where its walk ended.
			if walkEnd <= lo || n < uintptr(len(regions)) {
				return true
			}
			lo = walkEnd
		}
		if !pagemapScanUnsupported {
			return true
		}
	}
	npages := (hi - lo + page - 1) / page
	ent := make([]byte, 8*npages)
	if n, err := unix.Pread(int(pm.Fd()), ent, int64(lo/page*8)); err != nil || n != len(ent) {
		return false
	}
	for i := uint64(0); i < npages; {
		if binary.LittleEndian.Uint64(ent[i*8:])&(1<<63|1<<62) == 0 {
			i++
			continue
		}
		j := i + 1
		for j < npages && binary.LittleEndian.Uint64(ent[j*8:])&(1<<63|1<<62) != 0 {
			j++
		}
		if !fn(lo+i*page, min(lo+j*page, hi)) {
			return true
		}
		i = j
	}
	return true
}
