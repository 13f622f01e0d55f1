// Package emu runs Cortex-M firmware in QEMU (qemu-system-arm) under
// stackscope's control: it starts the emulator halted at reset with its
// GDB stub on a private socket, and through internal/gdbrsp paints and
// reads memory, sets breakpoints and write watchpoints, and runs the core
// to a stop (exit, breakpoint, watchpoint, timeout, endless loop, lockup,
// a fault handler, an interrupt). What a stop means for the stacks is the
// caller's business.
package emu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackscope/stackscope/internal/gdbrsp"
)

// ErrNoQEMU is returned by Start when qemu-system-arm is not installed;
// a missing RISC-V emulator is a *NoQEMUError that errors.Is matches to it.
var ErrNoQEMU = errors.New("qemu-system-arm not found: install it (Debian/Ubuntu: apt-get install qemu-system-arm)")

// NoQEMUError names the emulator a board needs and its package.
type NoQEMUError struct{ Binary, Package string }

func (e *NoQEMUError) Error() string {
	return fmt.Sprintf("%s not found: install it (Debian/Ubuntu: apt-get install %s)", e.Binary, e.Package)
}

// Is makes errors.Is(err, ErrNoQEMU) true for every missing emulator.
func (e *NoQEMUError) Is(target error) bool { return target == ErrNoQEMU }

// DefaultICount is the -icount shift used unless told otherwise: one
// instruction is 2^3 ns of virtual time (a 125 MHz core). With -icount
// virtual time follows the instructions executed, not the host's clock,
// so the same firmware runs the same way twice.
const DefaultICount = 3

// Config says how to start the emulator.
type Config struct {
	Firmware string
	Board    *Board
	// ICount is the -icount shift; negative runs without -icount (faster,
	// not repeatable).
	ICount int
	// Output receives what the firmware prints: the board's UART and
	// semihosting output. nil drops it.
	Output io.Writer
	// QEMU is the emulator's path ("" looks up qemu-system-arm in PATH).
	QEMU string
}

// Machine is a running QEMU, halted until Run. Close it whatever happens:
// it kills QEMU and removes the private directory.
type Machine struct {
	Board *Board
	// Args is QEMU's command line (for the report and the benchmark).
	Args []string

	cmd     *exec.Cmd
	dir     string
	conn    net.Conn
	rsp     *gdbrsp.Client
	stderr  *capped
	output  *capped
	exited  chan struct{} // closed when QEMU has exited and its output is read
	exitErr error

	closeOnce sync.Once
	gone      bool // the target exited: no more requests
}

// QEMUArgs is the command line that runs fw on the board, without the GDB
// stub: what Start adds to it is -S and the stub's socket.
func QEMUArgs(fw string, b *Board, icount int) []string {
	// One stdio character device for the UART and semihosting: without
	// chardev=, QEMU (7.2) writes the semihosting console to its stderr.
	args := []string{"-M", b.qemuMachine(), "-nographic", "-monitor", "none",
		"-chardev", "stdio,id=stackscope-out,mux=on", "-serial", "chardev:stackscope-out",
		"-semihosting-config", "enable=on,target=native,chardev=stackscope-out"}
	if icount >= 0 {
		// sleep=off: an idle core (WFI) jumps to its next timer instead of
		// waiting for the host's clock, which keeps runs repeatable.
		args = append(args, "-icount", "shift="+strconv.Itoa(icount)+",sleep=off")
	}
	if b.RISCV() {
		// No firmware: the ELF is the machine-mode program, and the reset
		// ROM jumps to the start of RAM.
		args = append(args, "-bios", "none")
	}
	return append(args, "-kernel", fw)
}

// Start launches QEMU for cfg, halted at reset, and connects to its GDB
// stub. Errors: ErrNoQEMU; QEMU failing to start (its own message); the
// stub not answering.
func Start(cfg Config) (m *Machine, err error) {
	qemu := cfg.QEMU
	if qemu == "" {
		bin, pkg := cfg.Board.qemuBinary()
		p, err := exec.LookPath(bin)
		if err != nil {
			if !cfg.Board.RISCV() {
				return nil, ErrNoQEMU
			}
			return nil, &NoQEMUError{Binary: bin, Package: pkg}
		}
		qemu = p
	}
	fw, err := filepath.Abs(cfg.Firmware)
	if err != nil {
		return nil, err
	}
	// A private directory for the socket (two runs never collide, and no
	// one else can connect) and QEMU's working directory (a core file from
	// a QEMU abort lands there and goes with it).
	dir, err := os.MkdirTemp("", "stackscope-emu-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "gdb.sock")
	args := QEMUArgs(fw, cfg.Board, cfg.ICount)
	full := append([]string{"-S", "-chardev", "socket,id=stackscope-gdb,path=" + sock + ",server=on,wait=off",
		"-gdb", "chardev:stackscope-gdb"}, args...)
	m = &Machine{Board: cfg.Board, Args: append([]string{qemu}, args...), dir: dir,
		stderr: &capped{max: 64 << 10}, output: &capped{max: 256 << 10}, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	cmd := exec.Command(qemu, full...)
	cmd.Dir = dir
	cmd.Stdin = nil // /dev/null: QEMU must not take the terminal
	var out io.Writer = m.output
	if cfg.Output != nil {
		out = io.MultiWriter(cfg.Output, m.output)
	}
	cmd.Stdout = out
	cmd.Stderr = m.stderr
	cmd.SysProcAttr = qemuProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", qemu, err)
	}
	m.cmd = cmd
	go func() {
		m.exitErr = cmd.Wait()
		close(m.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, derr := net.Dial("unix", sock)
		if derr == nil {
			m.conn = conn
			break
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("QEMU (-M %s) ended before it started: %s", cfg.Board.Name, m.stderr.lastLine("no message"))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("QEMU's GDB stub did not open %s within 15 s", sock)
		}
	}
	m.rsp = gdbrsp.NewClient(m.conn)
	m.rsp.Console = cfg.Output
	if err := m.guard(10*time.Second, m.rsp.Handshake); err != nil {
		return nil, fmt.Errorf("QEMU's GDB stub: %v", err)
	}
	if cfg.Board.RISCV() {
		if err := m.checkRISCVTarget(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// guard runs a request with a deadline on the connection: a stub that
// stops answering is an error, not a hang.
func (m *Machine) guard(d time.Duration, f func() error) error {
	m.conn.SetDeadline(time.Now().Add(d))
	defer m.conn.SetDeadline(time.Time{})
	return f()
}

const requestTimeout = 30 * time.Second

// Close kills QEMU (its whole process group), waits for it, and removes
// the private directory. Safe to call more than once.
func (m *Machine) Close() error {
	m.closeOnce.Do(func() {
		if m.conn != nil {
			m.conn.Close()
		}
		if m.cmd != nil && m.cmd.Process != nil {
			killGroup(m.cmd.Process.Pid)
			m.cmd.Process.Kill()
			<-m.exited
		}
		os.RemoveAll(m.dir)
	})
	return nil
}

// Dir is the machine's private directory (its socket is there).
func (m *Machine) Dir() string { return m.dir }

// PID is QEMU's process id.
func (m *Machine) PID() int { return m.cmd.Process.Pid }

// Output is what the firmware printed so far (the first 256 KiB).
func (m *Machine) Output() (string, bool) { return m.output.String(), m.output.truncated }

// ReadMemory reads n bytes at addr.
func (m *Machine) ReadMemory(addr uint64, n int) ([]byte, error) {
	var b []byte
	err := m.guard(requestTimeout, func() (err error) { b, err = m.rsp.ReadMemory(addr, n); return })
	if err != nil {
		return nil, fmt.Errorf("reading %d bytes at %#x: %v", n, addr, err)
	}
	return b, nil
}

// WriteMemory writes data at addr.
func (m *Machine) WriteMemory(addr uint64, data []byte) error {
	err := m.guard(requestTimeout, func() error { return m.rsp.WriteMemory(addr, data) })
	if err != nil {
		return fmt.Errorf("writing %d bytes at %#x: %v", len(data), addr, err)
	}
	return nil
}

// Paint fills [start, end) with word (little-endian; start and end
// word-aligned).
func (m *Machine) Paint(start, end uint64, word uint32) error {
	if start%4 != 0 || end%4 != 0 || end < start {
		return fmt.Errorf("paint range %#x-%#x is not word-aligned", start, end)
	}
	buf := make([]byte, end-start)
	for i := 0; i < len(buf); i += 4 {
		binary.LittleEndian.PutUint32(buf[i:], word)
	}
	return m.WriteMemory(start, buf)
}

// LowestDisturbed scans [start, end) upward and returns the address of the
// first word that no longer holds the paint; ok is false when every word
// does.
func (m *Machine) LowestDisturbed(start, end uint64, word uint32) (addr uint64, ok bool, err error) {
	const chunk = 4096
	for a := start; a < end; a += chunk {
		n := min(chunk, end-a)
		b, err := m.ReadMemory(a, int(n))
		if err != nil {
			return 0, false, err
		}
		for i := 0; i+4 <= len(b); i += 4 {
			if binary.LittleEndian.Uint32(b[i:]) != word {
				return a + uint64(i), true, nil
			}
		}
	}
	return 0, false, nil
}

// Registers are the core registers: r0-r15 and xPSR of a Cortex-M, or
// x0-x31 and pc of a RISC-V core (RISCV set; R and XPSR unused).
type Registers struct {
	R    [16]uint32
	XPSR uint32

	RISCV bool
	X     [32]uint64
	XPC   uint64
}

// SP, LR and PC name r13-r15 (Cortex-M) or sp, ra and pc (RISC-V).
func (r *Registers) SP() uint64 {
	if r.RISCV {
		return r.X[2]
	}
	return uint64(r.R[13])
}
func (r *Registers) LR() uint64 {
	if r.RISCV {
		return r.X[1]
	}
	return uint64(r.R[14])
}
func (r *Registers) PC() uint64 {
	if r.RISCV {
		return r.XPC
	}
	return uint64(r.R[15])
}

// Arg is the i-th argument register (r0-r3, a0-a7): a semihosting
// call's operation and parameter are Arg(0) and Arg(1).
func (r *Registers) Arg(i int) uint64 {
	if r.RISCV {
		return r.X[10+i]
	}
	return uint64(r.R[i])
}

// Registers reads the core registers. QEMU's "g" reply starts with r0-r15;
// xPSR follows at 64 once a target description was read, and at 164
// (after eight 12-byte FPA registers and the FPA status) before: this
// client never reads the description, but both are accepted.
func (m *Machine) Registers() (*Registers, error) {
	var b []byte
	err := m.guard(requestTimeout, func() (err error) { b, err = m.rsp.ReadRegisters(); return })
	if err != nil {
		return nil, fmt.Errorf("reading registers: %v", err)
	}
	if m.Board.RISCV() {
		return riscvRegisters(b, m.Board.XLEN)
	}
	if len(b) < 64 {
		return nil, fmt.Errorf("reading registers: %d bytes, want at least 64", len(b))
	}
	r := &Registers{}
	for i := range r.R {
		r.R[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	switch {
	case len(b) >= 168:
		r.XPSR = binary.LittleEndian.Uint32(b[164:])
	case len(b) >= 68:
		r.XPSR = binary.LittleEndian.Uint32(b[64:])
	}
	return r, nil
}

// SetBreakpoint stops the core when it reaches addr (a Thumb address; bit
// 0 is ignored).
func (m *Machine) SetBreakpoint(addr uint64) error {
	return m.guard(requestTimeout, func() error { return m.rsp.SetBreakpoint(addr&^1, m.breakpointKind()) })
}

// RemoveBreakpoint removes it.
func (m *Machine) RemoveBreakpoint(addr uint64) error {
	return m.guard(requestTimeout, func() error { return m.rsp.RemoveBreakpoint(addr&^1, m.breakpointKind()) })
}

// breakpointKind is the Z0 packet's kind: the breakpoint instruction's
// size (a Thumb bkpt; RISC-V's ebreak, which QEMU's software breakpoints
// never write anyway).
func (m *Machine) breakpointKind() int {
	if m.Board != nil && m.Board.RISCV() {
		return 4
	}
	return 2
}

// SetWriteWatch stops the core after a store into [addr, addr+n).
func (m *Machine) SetWriteWatch(addr uint64, n int) error {
	return m.guard(requestTimeout, func() error { return m.rsp.SetWatchpoint(gdbrsp.WriteWatchpoint, addr, n) })
}

// RemoveWriteWatch removes it.
func (m *Machine) RemoveWriteWatch(addr uint64, n int) error {
	return m.guard(requestTimeout, func() error { return m.rsp.RemoveWatchpoint(gdbrsp.WriteWatchpoint, addr, n) })
}

// capped keeps the first max bytes written to it.
type capped struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - c.buf.Len()
	if room < len(p) {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *capped) lastLine(none string) string {
	s := strings.TrimSpace(c.String())
	if s == "" {
		return none
	}
	lines := strings.Split(s, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ctxErr is the reason a context ended, for a stop's detail.
func ctxErr(ctx context.Context) error { return context.Cause(ctx) }
