//go:build linux

package trace

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// goScan follows what the Go runtime prints when a goroutine overflows its
// stack (runtime/stack.go, newstack):
//
//	runtime: goroutine stack exceeds 1000000000-byte limit
//	runtime: sp=0xc020160398 stack=[0xc020160000, 0xc040160000]
//	fatal error: stack overflow
//
//	runtime stack:
//	runtime.throw(...)            (the runtime's own frames, on g0)
//	...
//
//	goroutine 8 gp=0x... m=0 mp=0x... [running]:
//	main.dive(0x55554b?)
//		/src/main.go:10 +0xbc fp=0x... sp=0x... pc=0x49e9fc
//	...5592298 frames elided...
//	created by main.main in goroutine 1
//
// and a Rust program what its SIGSEGV handler prints when a thread runs
// into its guard page (std/src/sys/pal/unix/stack_overflow.rs):
//
//	thread 'deep' has overflowed its stack      (newer: thread 'deep' (1234) has ...)
//	fatal runtime error: stack overflow
type goScan struct {
	limit    uint64 // the goroutine stack limit in bytes
	lo, hi   uint64 // the overflowing goroutine's stack
	sp       uint64 // and its SP
	overflow bool   // "fatal error: stack overflow"
	goid     int    // the first running goroutine after it
	frames   []Frame
	elided   int
	state    int // 0 before the goroutine, 1 in its frames, 2 done

	rustThread   string // the thread name Rust printed
	rustOverflow bool
}

var (
	goLimit    = regexp.MustCompile(`^runtime: goroutine stack exceeds (\d+)-byte limit`)
	goBounds   = regexp.MustCompile(`^runtime: sp=0x([0-9a-f]+) stack=\[0x([0-9a-f]+), 0x([0-9a-f]+)\]`)
	goRoutine  = regexp.MustCompile(`^goroutine (\d+) .*\[running\]:`)
	goFileLine = regexp.MustCompile(`^\t(.+):(\d+)(?: \+0x([0-9a-f]+))?(?:.* pc=0x([0-9a-f]+))?`)
	goElided   = regexp.MustCompile(`^\.\.\.(\d+) frames elided\.\.\.`)
	rustStack  = regexp.MustCompile(`^thread '(.*)'(?: \(\d+\))? has overflowed its stack`)
)

// maxGoFrames caps the frames kept from a Go traceback (the runtime prints
// the innermost 50 and the outermost 50 of a deep one anyway).
const maxGoFrames = 512

// seeRuntime looks at one line of stderr; s.mu is held.
func (s *stderrScan) seeRuntime(line []byte) {
	g := &s.gos
	if m := rustStack.FindSubmatch(line); m != nil && !g.rustOverflow {
		g.rustOverflow, g.rustThread = true, string(m[1])
		return
	}
	if m := goLimit.FindSubmatch(line); m != nil && !g.overflow {
		g.limit, _ = strconv.ParseUint(string(m[1]), 10, 64)
		return
	}
	if m := goBounds.FindSubmatch(line); m != nil && !g.overflow {
		g.sp, _ = strconv.ParseUint(string(m[1]), 16, 64)
		g.lo, _ = strconv.ParseUint(string(m[2]), 16, 64)
		g.hi, _ = strconv.ParseUint(string(m[3]), 16, 64)
		return
	}
	if bytes.HasPrefix(line, []byte("fatal error: stack overflow")) {
		g.overflow = true
		return
	}
	if !g.overflow {
		return
	}
	switch g.state {
	case 0:
		if m := goRoutine.FindSubmatch(line); m != nil {
			g.goid, _ = strconv.Atoi(string(m[1]))
			g.state = 1
		}
	case 1:
		switch {
		case len(bytes.TrimSpace(line)) == 0, bytes.HasPrefix(line, []byte("created by ")):
			g.state = 2
		case goElided.Match(line):
			n, _ := strconv.Atoi(string(goElided.FindSubmatch(line)[1]))
			g.elided += n
		case line[0] == '\t':
			m := goFileLine.FindSubmatch(line)
			if m == nil || len(g.frames) == 0 {
				return
			}
			f := &g.frames[len(g.frames)-1]
			f.File = string(m[1])
			f.Line, _ = strconv.Atoi(string(m[2]))
			f.Offset, _ = strconv.ParseUint(string(m[3]), 16, 64)
			f.PC, _ = strconv.ParseUint(string(m[4]), 16, 64)
		default:
			if len(g.frames) >= maxGoFrames {
				return
			}
			name := string(line)
			if i := strings.LastIndexByte(name, '('); i > 0 && strings.HasSuffix(name, ")") {
				name = name[:i]
			}
			g.frames = append(g.frames, Frame{Function: name, InMain: !strings.HasPrefix(name, "runtime.")})
		}
	}
}
