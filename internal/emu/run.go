package emu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/gdbrsp"
)

// Stop kinds.
const (
	StopExit       = "exit"         // the firmware exited through semihosting
	StopBreakpoint = "breakpoint"   // a breakpoint the caller set (PC)
	StopWatch      = "watchpoint"   // a write watchpoint the caller set (WatchAddr)
	StopTimeout    = "timeout"      // the wall-clock limit passed
	StopLoop       = "endless-loop" // the core sits on a branch to itself
	StopLockup     = "lockup"       // the core locked up (QEMU ends)
	StopCancelled  = "interrupted"  // the context ended (Ctrl-C, SIGTERM)
	StopQEMUDied   = "qemu-died"    // QEMU ended without an exit
)

// Stop is why Run returned.
type Stop struct {
	Kind   string
	Detail string
	// ExitStatus is the firmware's semihosting exit status (StopExit).
	ExitStatus int
	// Regs are the registers at the stop; nil when QEMU is gone (exit,
	// lockup: Lockup then has QEMU's own register dump).
	Regs *Registers
	// WatchAddr is the address a watchpoint reported.
	WatchAddr uint64
	// Alive: QEMU is still there and memory can be read.
	Alive bool
}

// RunOptions bound a run.
type RunOptions struct {
	// Deadline is the wall-clock limit (zero: none).
	Deadline time.Time
	// LoopCheck: now and then stop the core, and end the run when it sits
	// on a branch to itself (b . , the usual "hang here" of firmware).
	LoopCheck bool
}

// loopCheckFirst and loopCheckMax space the endless-loop checks: each
// costs a stop and a few requests (well under a millisecond), and the
// interval doubles up to a second so a long run pays almost nothing.
const (
	loopCheckFirst = 50 * time.Millisecond
	loopCheckMax   = time.Second
)

// Run resumes the core until a stop. Breakpoints and watchpoints set
// before are reported as StopBreakpoint and StopWatch, with the core
// halted: the caller may read memory, move a watchpoint and Run again.
// ctx ending (Ctrl-C) stops the core and returns StopCancelled.
func (m *Machine) Run(ctx context.Context, opts RunOptions) (*Stop, error) {
	if m.gone {
		return nil, errors.New("the firmware has ended")
	}
	var deadline <-chan time.Time
	if !opts.Deadline.IsZero() {
		t := time.NewTimer(time.Until(opts.Deadline))
		defer t.Stop()
		deadline = t.C
	}
	interval := loopCheckFirst
	for {
		if err := m.rsp.Resume(); err != nil {
			return m.lost(err)
		}
		stops := make(chan waitResult, 1)
		go func() {
			st, err := m.rsp.Wait()
			stops <- waitResult{st, err}
		}()
		var check <-chan time.Time
		var checkTimer *time.Timer
		if opts.LoopCheck {
			checkTimer = time.NewTimer(interval)
			check = checkTimer.C
		}
		why := ""
		select {
		case r := <-stops:
			if checkTimer != nil {
				checkTimer.Stop()
			}
			return m.classify(r)
		case <-deadline:
			why = StopTimeout
		case <-ctx.Done():
			why = StopCancelled
		case <-check:
			why = "check"
			interval = min(2*interval, loopCheckMax)
		}
		if checkTimer != nil {
			checkTimer.Stop()
		}
		if err := m.rsp.Interrupt(); err != nil {
			return m.lost(err)
		}
		var r waitResult
		select {
		case r = <-stops:
		case <-time.After(10 * time.Second):
			m.conn.Close()
			<-stops
			return nil, errors.New("QEMU did not stop within 10 s of an interrupt")
		}
		if r.err != nil || r.stop.Kind != gdbrsp.Signal || r.stop.Signal != gdbrsp.SIGINT {
			// Something else stopped it first (an exit, a breakpoint):
			// that is the stop. An interrupt that arrives while it is
			// already halted is dropped by the stub.
			return m.classify(r)
		}
		regs, err := m.Registers()
		if err != nil {
			return m.lost(err)
		}
		switch why {
		case StopTimeout:
			return &Stop{Kind: StopTimeout, Regs: regs, Alive: true, Detail: "the wall-clock limit passed"}, nil
		case StopCancelled:
			return &Stop{Kind: StopCancelled, Regs: regs, Alive: true, Detail: fmt.Sprint(ctxErr(ctx))}, nil
		}
		if loop, err := m.branchToSelf(regs.PC()); err == nil && loop {
			return &Stop{Kind: StopLoop, Regs: regs, Alive: true, Detail: fmt.Sprintf("the core sits on a branch to itself at %#x", regs.PC())}, nil
		}
		if m.Board.RISCV() {
			if st := m.riscvStuck(regs); st != nil {
				return st, nil
			}
			continue
		}
		if regs.PC() == lockupPC {
			return &Stop{Kind: StopLockup, Regs: regs, Alive: true, Detail: "the core is locked up (PC 0xeffffffe)"}, nil
		}
	}
}

// lockupPC is the PC of an ARMv7-M/v8-M core in lockup.
const lockupPC = 0xeffffffe

type waitResult struct {
	stop *gdbrsp.Stop
	err  error
}

// branchToSelf reports whether the instruction at pc jumps to itself: the
// 16-bit "b ." (0xe7fe) or the 32-bit "b.w ." (0xf7ff 0xbffe), or
// RISC-V's "j ." (riscvEndless).
func (m *Machine) branchToSelf(pc uint64) (bool, error) {
	b, err := m.ReadMemory(pc, 4)
	if err != nil {
		return false, err
	}
	if m.Board.RISCV() {
		return riscvEndless(b), nil
	}
	h0 := binary.LittleEndian.Uint16(b)
	h1 := binary.LittleEndian.Uint16(b[2:])
	return h0 == 0xe7fe || h0 == 0xf7ff && h1 == 0xbffe, nil
}

func (m *Machine) classify(r waitResult) (*Stop, error) {
	if r.err != nil {
		return m.lost(r.err)
	}
	st := r.stop
	switch st.Kind {
	case gdbrsp.Exited:
		m.gone = true
		return &Stop{Kind: StopExit, ExitStatus: st.ExitStatus, Detail: fmt.Sprintf("semihosting exit, status %d", st.ExitStatus)}, nil
	case gdbrsp.Terminated:
		m.gone = true
		return &Stop{Kind: StopQEMUDied, Detail: fmt.Sprintf("QEMU reported the target killed by signal %d", st.Signal)}, nil
	}
	regs, err := m.Registers()
	if err != nil {
		return m.lost(err)
	}
	if st.Watch != "" {
		return &Stop{Kind: StopWatch, Regs: regs, WatchAddr: st.WatchAddr, Alive: true, Detail: fmt.Sprintf("write to %#x", st.WatchAddr)}, nil
	}
	if st.Signal == gdbrsp.SIGTRAP {
		return &Stop{Kind: StopBreakpoint, Regs: regs, Alive: true, Detail: fmt.Sprintf("breakpoint at %#x", regs.PC())}, nil
	}
	return &Stop{Kind: StopBreakpoint, Regs: regs, Alive: true, Detail: fmt.Sprintf("stopped with signal %d at %#x", st.Signal, regs.PC())}, nil
}

// lost: the connection failed. QEMU has ended, or is about to: say why,
// from its exit and its last words on stderr.
func (m *Machine) lost(cause error) (*Stop, error) {
	m.gone = true
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("lost QEMU's GDB stub (%v) and QEMU did not end", cause)
	}
	msg := m.stderr.String()
	if i := strings.Index(msg, "Lockup"); i >= 0 {
		line := msg[i:]
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		return &Stop{Kind: StopLockup, Detail: strings.TrimSpace(line), Regs: parseRegDump(msg)}, nil
	}
	status := "no exit status"
	if m.exitErr != nil {
		status = m.exitErr.Error()
	}
	return &Stop{Kind: StopQEMUDied, Detail: fmt.Sprintf("QEMU ended (%s): %s", status, m.stderr.lastLine("no message"))}, nil
}

var regDump = regexp.MustCompile(`R(\d\d)=([0-9a-f]{8})`)
var xpsrDump = regexp.MustCompile(`XPSR=([0-9a-f]{8})`)

// parseRegDump reads the registers of QEMU's fatal-error dump
// ("R00=00000000 R01=... XPSR=41000003"); nil when there is none.
func parseRegDump(s string) *Registers {
	ms := regDump.FindAllStringSubmatch(s, 16)
	if len(ms) < 16 {
		return nil
	}
	r := &Registers{}
	for _, m := range ms {
		i, _ := strconv.Atoi(m[1])
		v, _ := strconv.ParseUint(m[2], 16, 32)
		if i < 16 {
			r.R[i] = uint32(v)
		}
	}
	if x := xpsrDump.FindStringSubmatch(s); x != nil {
		v, _ := strconv.ParseUint(x[1], 16, 32)
		r.XPSR = uint32(v)
	}
	return r
}
