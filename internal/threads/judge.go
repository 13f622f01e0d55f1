package threads

import (
	"fmt"

	"github.com/stackscope/stackscope/internal/bound"
	sz "github.com/stackscope/stackscope/internal/size"
)

// Verdict is a thread's stack judged against its entry's bound.
type Verdict struct {
	// Status is "ok", "overflow" or "unknown".
	Status string
	// Over is by how many bytes the stack overflows; AtLeast says it is a
	// lower bound (the entry has no full bound, but what it certainly
	// reaches is already too much).
	Over    int64
	AtLeast bool
	// Need is the bound plus the platform's context (when bounded) or the
	// lower bound plus it.
	Need int64
	// Why says why the status is unknown, or qualifies ok.
	Why string
}

// Text is the verdict as the report prints it: "ok", "overflow by 312 B",
// "overflow by at least 12.5 KiB" (size.Format), "unknown".
func (v Verdict) Text() string {
	switch v.Status {
	case "overflow":
		if v.AtLeast {
			return "overflow by at least " + sz.Format(v.Over)
		}
		return "overflow by " + sz.Format(v.Over)
	}
	return v.Status
}

// Judge compares the stack size (the site's, or size when override > 0)
// with the entry's bound. b is ignored when the entry is not known.
func Judge(s Site, b bound.Entry, override int64) Verdict {
	size, known := s.Size, s.SizeKnown
	if override > 0 {
		size, known = override, true
	}
	if s.EntryNode < 0 {
		return Verdict{Status: "unknown", Why: s.EntryWhy}
	}
	if !known {
		return Verdict{Status: "unknown", Why: "stack size not found: " + s.SizeWhy, Need: b.AtLeast + s.Context}
	}
	minOnly := s.SizeMin && override <= 0
	if b.Bounded {
		need := b.Bound + s.Context
		if need > size && minOnly {
			return Verdict{Status: "unknown", Need: need, Why: fmt.Sprintf("needs %s; the stack is only known to be at least %s", sz.Format(need), sz.Format(size))}
		}
		if need > size {
			return Verdict{Status: "overflow", Over: need - size, Need: need}
		}
		return Verdict{Status: "ok", Need: need}
	}
	need := b.AtLeast + s.Context
	if need > size && minOnly {
		return Verdict{Status: "unknown", Need: need, Why: fmt.Sprintf("needs at least %s; the stack is only known to be at least %s", sz.Format(need), sz.Format(size))}
	}
	if need > size {
		return Verdict{Status: "overflow", Over: need - size, AtLeast: true, Need: need}
	}
	why := "the entry has no bound"
	if len(b.Reasons) > 0 {
		r := b.Reasons[0]
		why = fmt.Sprintf("no bound: %s in %s", r.Kind, r.Function)
		if r.Detail != "" {
			why += " (" + r.Detail + ")"
		}
		if len(b.Reasons) > 1 {
			why += fmt.Sprintf(" and %d more", len(b.Reasons)-1)
		}
	}
	why += fmt.Sprintf("; it reaches at least %s of %s", sz.Format(need), sz.Format(size))
	return Verdict{Status: "unknown", Need: need, Why: why}
}
