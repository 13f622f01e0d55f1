package emu

// --task NAME --stack BYTES: overflow one FreeRTOS task's stack.
//
// How the stack is shrunk: the depth argument (r2) of the xTaskCreate or
// xTaskCreateStatic call that creates the task is patched at the call's
// entry, so the kernel itself builds the task with the smaller stack. A
// dynamic task's stack is then allocated at that size from the heap, and
// the heap blocks below it are the real victims; a static task keeps its
// buffer, of which the kernel uses the lowest BYTES (pxStack is the
// buffer's start either way), so the overflow runs out of the buffer into
// the object the linker put below it, as with a buffer that small. The
// other way, moving a created TCB's pxStack up, would leave the task's own
// unused stack below the new limit: the overflow would "corrupt" memory
// nobody owns. How it differs from a task really built with that size: a
// dynamic task's heap blocks after it sit lower in the heap than they
// would (the heap gave it fewer bytes), which is where a smaller stack
// puts them too; a static task's buffer keeps its unused upper part,
// which nothing else can use.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cfi"
	"github.com/stackscope/stackscope/internal/rtos"
)

// HookCall is FreeRTOS's vApplicationStackOverflowHook being entered.
type HookCall struct {
	Function string `json:"function"`
	// Task is the name the kernel passed it (pcTaskName).
	Task string `json:"task"`
	SP   uint64 `json:"sp"`
}

// taskCreators are the kernel's functions whose third argument (r2) is a
// new task's stack depth in words and whose second (r1) its name.
var taskCreators = []string{"xTaskCreate", "xTaskCreateStatic"}

// stackOverflowHook is the function the kernel calls when its own check
// (configCHECK_FOR_STACK_OVERFLOW) finds a task's stack overflowed.
const stackOverflowHook = "vApplicationStackOverflowHook"

// taskWatchSpan is how far below a task's stack writes are watched:
// less than below the main stack, because there the memory is other
// tasks' live TCBs and stacks, every store to which stops the core. A
// 1 KiB watch over the idle task's stack changed the run (TestInjectTask:
// the worker never ran before the program's end, where without the watch
// it overflows); 256 bytes did not.
const taskWatchSpan = 256

// injectTask fires --task NAME --stack BYTES.
func injectTask(ctx context.Context, path string, opts InjectOptions) (*Injection, error) {
	if opts.Stack <= 0 || opts.At != "" {
		return nil, &InputError{Path: path, Problem: "--task NAME needs --stack BYTES (and not --at)"}
	}
	if opts.Stack < 8 {
		return nil, &InputError{Path: path, Problem: "--stack must be at least 8 bytes"}
	}
	f, res, lay, err := openFirmwareFor(path, opts.Analysis, opts.Memory, "inject")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	k, err := rtos.LoadFreeRTOS(f.ELF)
	if err != nil {
		return nil, &InputError{Path: path, Problem: "--task: " + err.Error()}
	}
	im := ImageOf(f)
	if st := lay.Stack; st != nil && st.LimitFound {
		im.Stack = &Range{st.Limit, st.Top}
	}
	var board *Board
	if opts.Machine != "" {
		board, err = BoardByName(opts.Machine)
	} else {
		board, err = PickBoard(im)
	}
	if err != nil {
		return nil, &InputError{Path: path, Problem: err.Error()}
	}
	words := uint64(opts.Stack) / 4
	r := &Injection{Kind: "firmware-injection", Firmware: path, Machine: board.Name, CPU: board.CPU, Fired: "task", FiredAt: opts.Task,
		StackSize: int64(words * 4), Writes: []Write{}, Corrupted: []string{}, Warnings: []string{}, Task: opts.Task}
	// A task's stack lies in RAM among other objects: the part writes
	// below it without a fault, as QEMU does; only the kernel's own check
	// can notice.
	r.Guard = Guard{Mechanism: GuardNone, Note: "a task's stack lies in RAM among other objects: the part writes below it without a fault, as here; only the kernel's check (configCHECK_FOR_STACK_OVERFLOW) can notice",
		Differs: "the kernel checks a task's stack when it switches tasks; here the tick runs on the host's clock (no -icount: QEMU 7.2 aborts when a watchpoint hits under it) and every watched store costs host time, so a preempting tick, and the check with it, can come earlier in the overflow than on the part; a store of the value a word already holds is not seen"}

	bps := map[uint64]string{}
	for _, name := range taskCreators {
		if fn, ok := f.Lookup(name); ok {
			bps[fn.Addr&^1] = "create"
		}
	}
	if len(bps) == 0 {
		return nil, &InputError{Path: path, Problem: "--task: the image has neither xTaskCreate nor xTaskCreateStatic"}
	}
	// The scheduler's start: the tasks created so far are the ones --task
	// can name.
	for _, name := range []string{"xPortStartScheduler"} {
		if fn, ok := f.Lookup(name); ok {
			bps[fn.Addr&^1] = "scheduler"
		}
	}
	hook, hasHook := f.Lookup(stackOverflowHook)
	if hasHook {
		bps[hook.Addr&^1] = "hook"
	}
	faultVec := map[uint64]string{}
	if vt := f.VectorTable(); vt != nil {
		for _, v := range vt.Vectors {
			if v.Index >= 3 && v.Index <= 7 && v.Handler != 0 {
				faultVec[v.Handler] = binfile.ExceptionName(v.Index)
				bps[v.Handler] = "fault"
			}
		}
	}
	if opts.Safe != "" {
		fn, ok := f.Lookup(opts.Safe)
		if !ok {
			return nil, &InputError{Path: path, Problem: fmt.Sprintf("no function named %q (--safe)", opts.Safe)}
		}
		bps[fn.Addr&^1] = "safe"
	}
	handlers := handlerRanges(f, faultVec)
	if hasHook {
		handlers = append(handlers, fnRange{hook.Addr &^ 1, (hook.Addr &^ 1) + hook.Size})
	}
	objs := dataObjects(f)
	frames, _ := cfi.Load(f.ELF)

	m, err := Start(Config{Firmware: path, Board: board, ICount: opts.ICount, Output: opts.Output, QEMU: opts.QEMU})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	r.QEMU = m.Args
	if opts.Started != nil {
		opts.Started(m)
	}
	for a := range bps {
		if err := m.SetBreakpoint(a); err != nil {
			return nil, fmt.Errorf("breakpoint at %#x: %v", a, err)
		}
	}
	deadline := time.Now().Add(opts.Timeout)
	if opts.Timeout <= 0 {
		deadline = time.Now().Add(20 * time.Second)
	}
	runOn := opts.RunOn
	if runOn <= 0 {
		runOn = 2 * time.Second
	}
	var created []string
	var tcb, ret uint64
	patched, armed := false, false
	seen := map[string]bool{}
	var wc *writeCatcher
	var stop *Stop
loop:
	for {
		stop, err = m.Run(ctx, RunOptions{Deadline: deadline, LoopCheck: true})
		if err != nil {
			return nil, err
		}
		switch stop.Kind {
		case StopWatch:
			if wc == nil {
				continue
			}
			if err := wc.catch(stop); err != nil {
				return nil, err
			}
			continue
		case StopBreakpoint:
			pc := uint64(stop.Regs.PC())
			switch bps[pc] {
			case "create":
				name, err := cString(m, uint64(stop.Regs.R[1]), 32)
				if err != nil {
					return nil, err
				}
				created = append(created, name)
				if name != opts.Task {
					// The breakpoint stays for the next creation.
					if err := stepOver(m, pc); err != nil {
						return nil, err
					}
					continue
				}
				depth := uint64(stop.Regs.R[2])
				if words >= depth {
					return nil, &InputError{Path: path, Problem: fmt.Sprintf("--stack %d is not smaller than task %s's stack (%d words, %d bytes): inject makes the stack smaller", opts.Stack, name, depth, depth*4)}
				}
				if err := m.WriteRegister(2, uint32(words)); err != nil {
					return nil, err
				}
				patched = true
				for a, what := range bps {
					if what == "create" {
						delete(bps, a)
						if err := m.RemoveBreakpoint(a); err != nil {
							return nil, err
						}
					}
				}
				ret = uint64(stop.Regs.LR()) &^ 1
				if _, taken := bps[ret]; !taken {
					bps[ret] = "created"
					if err := m.SetBreakpoint(ret); err != nil {
						return nil, err
					}
				}
				continue
			case "created":
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				tasks, err := k.Tasks(m)
				if err != nil {
					return nil, fmt.Errorf("reading FreeRTOS's tasks after creating %s: %v", opts.Task, err)
				}
				for _, tk := range tasks {
					if tk.Name == opts.Task {
						tcb, r.StackLimit, r.StackTop = tk.TCB, tk.Stack, tk.Stack+words*4
					}
				}
				if tcb == 0 {
					return nil, fmt.Errorf("task %s was created but is in none of the kernel's lists", opts.Task)
				}
				r.FiredSP = r.StackTop
				lo, hi := watchRange(lay, r.StackLimit)
				lo = max(lo, hi-min(hi, taskWatchSpan))
				wc = &writeCatcher{m: m, f: f, res: res, frames: frames, objs: objs, lay: lay, r: r, seen: seen, lo: lo, hi: hi, plainDiff: true,
					counts: func(addr, sp uint64) bool {
						// Only the shrunk task's own stores: another task
						// whose stack lies below this one pushes there too.
						cur, err := k.Current(m)
						return err == nil && cur == tcb
					}}
				armed = true
				if d := time.Now().Add(runOn); d.Before(deadline) {
					// The task runs soon after the scheduler starts; the
					// time to run on counts from its creation.
					deadline = d
				}
				if hi > lo {
					if err := m.SetWriteWatch(lo, int(hi-lo)); err != nil {
						return nil, fmt.Errorf("watching %#x-%#x: %v", lo, hi, err)
					}
				}
				continue
			case "scheduler":
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				if !patched {
					return nil, &InputError{Path: path, Problem: fmt.Sprintf("--task %s: no such task; the tasks created before the scheduler started: %s", opts.Task, strings.Join(created, ", "))}
				}
				continue
			case "hook":
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				name, _ := cString(m, uint64(stop.Regs.R[1]), 32)
				r.Hook = &HookCall{Function: stackOverflowHook, Task: name, SP: uint64(stop.Regs.SP())}
				continue
			case "fault":
				if err := r.recordFault(m, f, stop.Regs, pc, armed); err != nil {
					return nil, err
				}
				delete(bps, pc)
				m.RemoveBreakpoint(pc)
				continue
			case "safe":
				r.Handler, r.HandlerDetail = "safe-end", opts.Safe+" reached (--safe)"
			default:
				r.Handler, r.HandlerDetail = "stopped", stop.Detail
			}
			break loop
		case StopCancelled:
			return nil, ErrInterrupted
		default:
			r.endedBy(stop, f, res, handlers, armed, fmt.Sprintf("%v after the task was created", runOn))
		}
		break
	}
	if !patched {
		return nil, &InputError{Path: path, Problem: fmt.Sprintf("--task %s: no such task; the tasks created before the run ended (%s): %s", opts.Task, stop.Detail, strings.Join(created, ", "))}
	}
	if !hasHook {
		r.Warnings = append(r.Warnings, "the image has no "+stackOverflowHook+": the kernel's stack check is off (configCHECK_FOR_STACK_OVERFLOW 0)")
	}
	out, _ := m.Output()
	r.Output = out
	r.Verdict = verdict(r, handlers)
	return r, nil
}

// cString reads a NUL-terminated string of at most n bytes.
func cString(m *Machine, addr uint64, n int) (string, error) {
	b, err := m.ReadMemory(addr, n)
	if err != nil {
		return "", fmt.Errorf("reading a task name at %#x: %v", addr, err)
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}
