//go:build linux

package trace

import (
	"bytes"
	"os"
	"regexp"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// stderrScan forwards every byte of the program's stderr unchanged and
// remembers the messages that name a stack problem.
type stderrScan struct {
	out  *os.File
	r    *os.File
	done chan struct{}

	mu          sync.Mutex
	smashing    bool   // *** stack smashing detected ***
	fortify     bool   // *** buffer overflow detected ***
	asanKind    string // e.g. stack-buffer-overflow
	asanLine    string // the ERROR line
	asanSummary string // the SUMMARY line
	asanFunc    string // first "#N 0x... in FUNC" frame in the program
	asanFrame   bool

	gos goScan // Go and Rust runtime messages (scan_runtimes.go)
}

// scanAllowed says whether stderr may be replaced by a pipe without anyone
// noticing: not when it is a terminal (isatty would change). shared is true
// when stdout is the same open file (2>&1): then stdout must go through the
// same pipe, or the interleaving of the two would change.
func scanAllowed(f, stdout *os.File) (allowed, shared bool) {
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		return false, false
	}
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Fstat(int(stdout.Fd()), &b) != nil {
		return true, false
	}
	if a.Dev == b.Dev && a.Ino == b.Ino {
		// The same file; is it the same open file description? Without
		// kcmp, compare the offsets and flags as the best cheap evidence.
		fa, _ := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		fb, _ := unix.FcntlInt(stdout.Fd(), unix.F_GETFL, 0)
		return fa == fb, true
	}
	return true, false
}

func newStderrScan(out *os.File) (*stderrScan, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	s := &stderrScan{out: out, r: r, done: make(chan struct{})}
	go s.copy()
	return s, w, nil
}

var (
	asanError = regexp.MustCompile(`ERROR: AddressSanitizer: ([A-Za-z0-9_-]+)`) // SEGV, BUS, FPE, ILL: upper case
	asanFrame = regexp.MustCompile(`#\d+ 0x[0-9a-f]+ in ([^ ]+)`)
)

func (s *stderrScan) copy() {
	defer close(s.done)
	defer s.r.Close()
	buf := make([]byte, 64*1024)
	var line []byte
	broken := false
	for {
		n, err := s.r.Read(buf)
		if n > 0 {
			if !broken {
				if _, werr := s.out.Write(buf[:n]); werr != nil {
					broken = true // keep draining so the program never blocks
				}
			}
			data := buf[:n]
			for len(data) > 0 {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					if len(line) < 4096 {
						line = append(line, data...)
					}
					break
				}
				if len(line) < 4096 {
					line = append(line, data[:i]...)
				}
				s.see(line)
				line = line[:0]
				data = data[i+1:]
			}
		}
		if err != nil {
			if len(line) > 0 {
				s.see(line)
			}
			return
		}
	}
}

func (s *stderrScan) see(line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seeRuntime(line)
	switch {
	case bytes.Contains(line, []byte("*** stack smashing detected ***")):
		s.smashing = true
	case bytes.Contains(line, []byte("*** buffer overflow detected ***")):
		s.fortify = true
	}
	if i := bytes.Index(line, []byte("SUMMARY: AddressSanitizer:")); i >= 0 && s.asanSummary == "" {
		s.asanSummary = string(bytes.TrimSpace(line[i:]))
	}
	if m := asanError.FindSubmatch(line); m != nil && s.asanKind == "" {
		s.asanKind = string(m[1])
		s.asanLine = string(bytes.TrimSpace(line))
		return
	}
	if s.asanKind != "" && s.asanFunc == "" {
		if m := asanFrame.FindSubmatch(line); m != nil {
			fn := string(m[1])
			if !bytes.HasPrefix(m[1], []byte("__asan")) && !bytes.HasPrefix(m[1], []byte("__interceptor")) && !bytes.HasPrefix(m[1], []byte("__sanitizer")) {
				s.asanFunc = fn
			}
		}
	}
}

func (s *stderrScan) wait(d time.Duration) {
	select {
	case <-s.done:
	case <-time.After(d):
	}
}
