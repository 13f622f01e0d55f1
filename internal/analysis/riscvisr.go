package analysis

import (
	"debug/elf"

	"github.com/stackscope/stackscope/internal/bound"
)

// A RISC-V trap handler that loads SP from a word of read-only data (the
// frame walk's switch to another stack: FreeRTOS's lw sp, xISRStackTop)
// runs the rest of its code on that stack: its after-reset part is
// measured from the word's value, the top. That stack is judged here
// against its size: the data object the top ends (xISRStack), or, for a
// top the linker script defines without an object
// (__freertos_irq_stack_top), unknown.

// TrapStack is the stack a trap handler switches to, and its verdict.
type TrapStack struct {
	// Function loads SP at Addr with Top.
	Function string `json:"function"`
	Addr     uint64 `json:"addr"`
	Top      uint64 `json:"top"`
	// Symbol names the stack (the object Top ends, or a symbol at Top);
	// Size is the bytes of the object below Top, null when not known.
	Symbol string `json:"symbol,omitempty"`
	Size   *int64 `json:"size"`
	// Need is what the handler uses there (a lower bound when
	// NeedAtLeast: the handler is not bounded).
	Need        int64 `json:"need"`
	NeedAtLeast bool  `json:"need_at_least,omitempty"`
	// Status is "ok", "overflow" or "unknown"; Over the bytes over.
	Status string `json:"status"`
	Over   int64  `json:"over,omitempty"`
}

// trapStack judges the stack the handler's entry e switches to, nil
// when its after-reset part (if any) is on the main stack.
func trapStack(res *Result, e bound.Entry) *TrapStack {
	r := e.AfterReset
	if r == nil {
		return nil
	}
	fn, ok := res.File.Lookup(r.Function)
	if !ok {
		return nil
	}
	fi, ok := res.File.FunctionIndex(fn.Addr)
	if !ok {
		return nil
	}
	var top uint64
	for _, rs := range res.Graph.Nodes[res.Graph.Node(res.Graph.Modules[0], fi)].Frame.Resets {
		if rs.Addr == r.Addr {
			top = rs.Stack
		}
	}
	if top == 0 {
		return nil
	}
	ts := &TrapStack{Function: r.Function, Addr: r.Addr, Top: top, Need: r.AtLeast, NeedAtLeast: !e.Bounded, Status: "unknown"}
	for _, s := range res.File.Symbols() {
		if s.Section == elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size > 0 && s.Value < top && top <= s.Value+s.Size {
			size := int64(top - s.Value)
			ts.Symbol, ts.Size = s.Name, &size
			break
		}
		if s.Value == top && ts.Symbol == "" {
			ts.Symbol = s.Name
		}
	}
	switch {
	case ts.Size == nil:
	case ts.Need > *ts.Size:
		ts.Status, ts.Over = "overflow", ts.Need-*ts.Size
	case e.Bounded:
		ts.Status = "ok"
	}
	return ts
}

// TrapStackOverflows reports whether a trap handler's own stack is
// certainly too small (a finding, as a task's overflow is).
func (in *Interrupts) TrapStackOverflows() bool {
	if in == nil {
		return false
	}
	for _, h := range in.Handlers {
		if h.OwnStack != nil && h.OwnStack.Status == "overflow" {
			return true
		}
	}
	return false
}
