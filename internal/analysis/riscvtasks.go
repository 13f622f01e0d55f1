package analysis

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/threads"
)

// RISC-V RTOS tasks. A trap pushes nothing on RISC-V: what lands on the
// interrupted task's stack is what the trap handler's own code stores
// there, up to the point where it switches to its own stack (FreeRTOS's
// portASM.S saves the 31-word context, then loads SP from xISRStackTop).
// So a task's context, beside its entry's bound, is the largest part of a
// trap handler that runs on the stack it interrupts: the part before the
// handler's stack switch (Entry.AfterReset.BeforeReset), or the whole
// handler when it never switches.

// trapContext is what a trap adds on a task's stack.
type trapContext struct {
	bytes   int64
	note    string
	bounded bool   // false: bytes is only what the handler certainly reaches
	why     string // which handler is not bounded
}

// riscvTrapContext finds the context of the RISC-V image's trap
// handlers (nil when it is not RISC-V firmware with trap handlers).
func riscvTrapContext(res *Result) *trapContext {
	if res.File == nil || !res.File.Arch.IsRISCV() {
		return nil
	}
	var c *trapContext
	for _, e := range res.Entries {
		if e.Kind != "trap" {
			continue
		}
		if c == nil {
			c = &trapContext{bounded: true}
		}
		part, whole := e.AtLeast, true
		if r := e.AfterReset; r != nil {
			part, whole = r.BeforeResetAtLeast, false
			if r.BeforeReset != nil {
				part = *r.BeforeReset
			}
		} else if e.Bound != nil {
			part = *e.Bound
		}
		if e.Bound == nil {
			c.bounded = false
			c.why = fmt.Sprintf("the trap handler %s is not bounded, and what it stores on the interrupted task's stack is part of the task's need", e.Name)
		}
		if part >= c.bytes {
			c.bytes = part
			if whole {
				c.note = fmt.Sprintf("the trap handler %s, which runs on the stack it interrupts", e.Name)
			} else {
				c.note = fmt.Sprintf("what the trap handler %s stores on the interrupted task's stack (its context) before it switches to its own stack", e.Name)
			}
		}
	}
	return c
}

// withTrapContext gives an RTOS task of RISC-V firmware the trap
// handlers' context (threads.Find sets none there: it depends on the
// handlers' code, not on the RTOS alone).
func withTrapContext(c *trapContext, s threads.Site) threads.Site {
	if c == nil || s.Context != 0 || (s.Creator != "xTaskCreate" && s.Creator != "xTaskCreateStatic") {
		return s
	}
	s.Context, s.ContextNote = c.bytes, c.note
	return s
}

// judgeWithTrapContext keeps a task's verdict from saying ok when the
// context it counted is only a lower bound.
func judgeWithTrapContext(c *trapContext, s threads.Site, v threads.Verdict) threads.Verdict {
	if c == nil || c.bounded || v.Status != "ok" || (s.Creator != "xTaskCreate" && s.Creator != "xTaskCreateStatic") {
		return v
	}
	v.Status, v.Why = "unknown", c.why
	return v
}
