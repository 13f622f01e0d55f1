// Package budget decides when an analysis result is a finding: an entry
// (or a firmware image's main-stack total) over its stack budget, an entry
// with no bound at all when a budget is set, or a thread or task whose
// stack certainly overflows. The exit status of analyze and the results of
// every report that lists findings (SARIF) come from here, so that they
// can never disagree.
package budget

import (
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/config"
)

// MainStack is the budget name of a firmware image's main-stack total
// (the reset path plus the nested interrupts), as in stackscope.toml.
const MainStack = "main_stack"

// Policy is where budgets come from and how strict they are.
type Policy struct {
	// Config gives per-entry budgets and a default ([budgets] in
	// stackscope.toml); nil for none.
	Config *config.Config
	// Flag is --budget: when positive it applies to every entry.
	Flag int64
	// AllowUnbounded (--allow-unbounded) forgives an entry with no bound
	// unless the depth it certainly reaches is already over the budget.
	AllowUnbounded bool
}

// Of is the budget of an entry (or MainStack) in bytes: --budget, else the
// configuration's for that name, else its default; 0 for none.
func (p Policy) Of(name string) int64 {
	if p.Flag > 0 {
		return p.Flag
	}
	if p.Config == nil {
		return 0
	}
	return p.Config.Budget(name)
}

// Overrun is one entry (or the main-stack total) over its budget.
type Overrun struct {
	// Name is the entry's name, or MainStack.
	Name   string
	Budget int64
	// Bounded is false when the entry has no bound: Depth is then the
	// depth it certainly reaches, else its bound.
	Bounded bool
	Depth   int64
}

// exceeds reports whether a bound (or, unbounded, the depth certainly
// reached) breaks a budget. No budget, no finding.
func (p Policy) exceeds(bounded bool, bound *int64, atLeast, budget int64) bool {
	if budget <= 0 {
		return false
	}
	if bounded {
		return *bound > budget
	}
	return !p.AllowUnbounded || atLeast > budget
}

// Overruns lists what breaks its budget in r: the main-stack total first,
// then the entries in r's order.
func (p Policy) Overruns(r *analysis.Result) []Overrun {
	var out []Overrun
	add := func(name string, bounded bool, bound *int64, atLeast int64) {
		b := p.Of(name)
		if !p.exceeds(bounded, bound, atLeast, b) {
			return
		}
		o := Overrun{Name: name, Budget: b, Bounded: bounded, Depth: atLeast}
		if bounded {
			o.Depth = *bound
		}
		out = append(out, o)
	}
	if in := r.Interrupts; in != nil {
		add(MainStack, in.Bounded, in.Total, in.TotalAtLeast)
	}
	for _, e := range r.Entries {
		add(e.Name, e.Bounded, e.Bound, e.AtLeast)
	}
	return out
}

// Failing reports whether r is a finding (exit status 1): an overrun, or a
// thread or task whose stack certainly overflows (with or without a budget).
func (p Policy) Failing(r *analysis.Result) bool {
	if len(p.Overruns(r)) > 0 {
		return true
	}
	for _, t := range r.Threads {
		if t.Status == "overflow" {
			return true
		}
	}
	return r.Interrupts.TrapStackOverflows()
}
