//go:build linux && amd64

package trace

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end, off uint64
	perms           string
	path            string
}

func (m mapping) contains(a uint64) bool { return a >= m.start && a < m.end }
func (m mapping) exec() bool             { return len(m.perms) > 2 && m.perms[2] == 'x' }
func (m mapping) none() bool             { return strings.HasPrefix(m.perms, "---") }

// readMaps parses /proc/PID/maps (PID may be a thread id).
func readMaps(pid int) []mapping {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out
}

func parseMapsLine(line string) (mapping, bool) {
	// 7ffd1000-7ffd2000 rw-p 00000000 00:00 0    [stack]
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return mapping{}, false
	}
	lohi := strings.SplitN(fields[0], "-", 2)
	if len(lohi) != 2 {
		return mapping{}, false
	}
	lo, err1 := strconv.ParseUint(lohi[0], 16, 64)
	hi, err2 := strconv.ParseUint(lohi[1], 16, 64)
	off, err3 := strconv.ParseUint(fields[2], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || hi < lo {
		return mapping{}, false
	}
	m := mapping{start: lo, end: hi, off: off, perms: fields[1]}
	if len(fields) >= 6 {
		// The path may contain spaces: take everything after the inode.
		idx := 0
		for i := 0; i < 5; i++ {
			j := strings.Index(line[idx:], fields[i])
			idx += j + len(fields[i])
		}
		m.path = strings.TrimSpace(line[idx:])
	}
	return m, true
}

func findMapping(maps []mapping, a uint64) (mapping, int, bool) {
	for i, m := range maps {
		if m.contains(a) {
			return m, i, true
		}
	}
	return mapping{}, -1, false
}

// memReader reads a stopped tracee's memory: with process_vm_readv (one
// system call, no file to open: opening /proc/PID/mem took a third of the
// supervisor's time per thread), and through /proc/PID/mem, opened on
// first need, for what process_vm_readv refuses (pages without read
// permission, which /proc/PID/mem reads as a debugger does).
type memReader struct {
	pid    int
	f      *os.File
	opened bool
}

func openMem(pid int) *memReader {
	return &memReader{pid: pid}
}

func (m *memReader) close() {
	if m.f != nil {
		m.f.Close()
		m.f = nil
	}
}

func (m *memReader) read(addr uint64, buf []byte) bool {
	if addr > 1<<63 || m.pid <= 0 {
		return false
	}
	if len(buf) == 0 {
		return true
	}
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	if n, err := unix.ProcessVMReadv(m.pid, local, remote, 0); err == nil && n == len(buf) {
		return true
	}
	if !m.opened {
		m.opened = true
		if f, err := os.Open(fmt.Sprintf("/proc/%d/mem", m.pid)); err == nil {
			m.f = f
		}
	}
	if m.f == nil {
		return false
	}
	n, err := unix.Pread(int(m.f.Fd()), buf, int64(addr))
	return err == nil && n == len(buf)
}

func (m *memReader) u64(addr uint64) (uint64, bool) {
	var b [8]byte
	if !m.read(addr, b[:]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// lowestTouched finds the lowest non-zero byte in [lo, hi) among the pages
// that /proc/PID/pagemap says are present or swapped. Fresh stack pages are
// zero-filled, so that byte is the deepest the stack reached.
func lowestTouched(pid int, mem *memReader, lo, hi uint64) (uint64, bool) {
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return lowestNonZero(mem, lo&^4095, hi)
	}
	defer pm.Close()
	return lowestTouchedIn(pm, mem, lo, hi)
}

// lowestTouchedIn is lowestTouched with the address space's pagemap open.
func lowestTouchedIn(pm *os.File, mem *memReader, lo, hi uint64) (uint64, bool) {
	const page = 4096
	lo &^= page - 1
	if hi <= lo {
		return 0, false
	}
	if low, ok, supported := scanPresent(pm, mem, lo, hi); supported {
		return low, ok
	}
	npages := (hi - lo + page - 1) / page
	ent := make([]byte, 8*npages)
	n, err := unix.Pread(int(pm.Fd()), ent, int64(lo/page*8))
	if err != nil || n != len(ent) {
		return lowestNonZero(mem, lo, hi)
	}
	buf := make([]byte, page)
	for i := uint64(0); i < npages; i++ {
		e := binary.LittleEndian.Uint64(ent[i*8:])
		if e&(1<<63|1<<62) == 0 {
			continue
		}
		a := lo + i*page
		if !mem.read(a, buf) {
			continue
		}
		for j, b := range buf {
			if b != 0 && a+uint64(j) < hi {
				return a + uint64(j), true
			}
		}
	}
	return 0, false
}

// lowestNonZero scans [lo, hi) for its lowest non-zero byte.
func lowestNonZero(mem *memReader, lo, hi uint64) (uint64, bool) {
	const chunk = 64 * 1024
	buf := make([]byte, chunk)
	for a := lo; a < hi; a += chunk {
		n := min(uint64(chunk), hi-a)
		if !mem.read(a, buf[:n]) {
			// Read page by page so one hole does not hide the rest.
			for p := a; p < a+n; p += 4096 {
				m := min(4096, a+n-p)
				if mem.read(p, buf[:m]) {
					for j := uint64(0); j < m; j++ {
						if buf[j] != 0 {
							return p + j, true
						}
					}
				}
			}
			continue
		}
		for j := uint64(0); j < n; j++ {
			if buf[j] != 0 {
				return a + j, true
			}
		}
	}
	return 0, false
}

// findMallocChunk finds the glibc malloc chunk whose user area holds top, by
// searching down from top for a size word (8 bytes before a 16-byte aligned
// user pointer; low 3 bits are flags) that describes a chunk reaching top and
// is followed by a plausible next chunk with PREV_INUSE set. It returns the
// user pointer.
func findMallocChunk(mem *memReader, top, heapLo, heapHi uint64) (uint64, bool) {
	const block = 64 * 1024
	const maxSearch = 256 << 20
	limit := heapLo + 16
	if top > maxSearch && top-maxSearch > limit {
		limit = top - maxSearch
	}
	buf := make([]byte, block)
	p := (top - 1) &^ 15
	for p >= limit && p >= heapLo+16 {
		// Read the size words below p: [blo, p).
		blo := heapLo
		if p-heapLo > block {
			blo = p - block
		}
		if !mem.read(blo, buf[:p-blo]) {
			return 0, false
		}
		for ; p >= limit && p-8 >= blo; p -= 16 {
			w := binary.LittleEndian.Uint64(buf[p-8-blo:])
			if plausibleChunk(mem, p, w, top, heapHi) {
				return p, true
			}
		}
	}
	return 0, false
}

func plausibleChunk(mem *memReader, p, w, top, heapHi uint64) bool {
	if w&2 != 0 { // IS_MMAPPED: not a heap chunk
		return false
	}
	size := w &^ 7
	if size < 32 || size%16 != 0 || size > heapHi-p+16 {
		return false
	}
	end := p - 16 + size // next chunk
	if top > end+8 || top <= p || end+16 > heapHi {
		return false
	}
	nw, ok := mem.u64(end + 8)
	if !ok || nw&1 == 0 || nw&2 != 0 {
		return false
	}
	nsize := nw &^ 7
	return nsize >= 16 && nsize%16 == 0 && end+nsize <= heapHi
}

// stackLimit reads the soft RLIMIT_STACK of a process from /proc/PID/limits.
func stackLimit(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Max stack size") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max stack size"))
		if len(f) == 0 || f[0] == "unlimited" {
			return 0, false
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		return v, err == nil
	}
	return 0, false
}

// sigcontPending reports whether SIGCONT is pending for the process.
func sigcontPending(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true // gone: nothing to hold any more
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "ShdPnd:") || strings.HasPrefix(line, "SigPnd:") {
			v, err := strconv.ParseUint(strings.TrimSpace(line[7:]), 16, 64)
			if err == nil && v&(1<<(unix.SIGCONT-1)) != 0 {
				return true
			}
		}
	}
	return false
}

// exePath is the program a process runs.
func exePath(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return ""
	}
	return p
}
