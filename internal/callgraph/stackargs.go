package callgraph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/frame"
)

// The stack-argument rule, as a premise (x86-64).
//
// A callee owns its incoming stack arguments under the System V ABI and
// may write them, so a stack word the proofs trust across a call (SP
// saved in a frame slot and loaded back, frame/spslot.go; a loop's
// counter spilled to the frame, loopcount.go) is safe only if it is not
// among that call's stack arguments. How many the callee takes, the code
// does not say. The frame walk and the counted-loop pass take the
// arguments to be the words the caller wrote through rsp or pushed since
// SP last moved down and since the previous call (frame/argarea.go): how
// GCC and Clang pass them. That is an assumption about the caller, not a
// proof: a hand-written caller that saves SP through rbp at [rsp],
// pushes one argument and calls a callee that writes its second stack
// argument gets past it, and SP loaded back is then deeper than the walk
// says (red-team fixture internal/analysis/testdata/x86/
// redteam_argrule.S). So each place where a trusted word was at or above
// SP at a call, and kept only by the rule (frame.Frame.StackArgs,
// loopCount.ArgKept), is a premise of kind stack-args on its node, which
// every entry reaching it lists. GCC's VLA scopes rest on it where they
// call inside the scope with the saved SP in a slot (ld.so's _dl_fini,
// _dl_sort_maps): their saved SP sits among the locals, above the
// outgoing arguments, which is what the rule says of compiled code.
// --strict turns the rule off: every such word is dropped at a call, so
// SP loaded from it is unknown (naming the call) and the counter is not
// trusted (loopcount.go).

// PremiseStackArgs is the kind of the premise that a call's callee does
// not write a stack word its caller did not set up as a stack argument
// through rsp (frame/argarea.go).
const PremiseStackArgs = "stack-args"

// strictStackArgs walks fn again with the rule off (frame.Input.
// StrictArgs) under --strict, when its frame fr rests on the rule. The
// cached frame is always the walk without --strict, which also says
// whether the rule was needed: the two answers never share a cache entry.
func (g *Graph) strictStackArgs(f *binfile.File, fn *binfile.Function, fr frame.Frame) frame.Frame {
	if !g.opts.Strict || len(fr.StackArgs) == 0 {
		return fr
	}
	return g.walkFunctionWith(f, fn, func(*frame.Input) {}) // (which follows --strict)
}

// maxStackArgsNamed caps the restores one premise names.
const maxStackArgsNamed = 3

// ListStackArgs gives every node whose frame rests on the stack-argument
// rule (frame.Frame.StackArgs) the stack-args premise, once: run after
// the models that replace frames (modelCountedLoop, ModelRuntime).
func (g *Graph) ListStackArgs() {
	for _, n := range g.Nodes {
		sa := n.Frame.StackArgs
		if len(sa) == 0 || n.Func == nil {
			continue
		}
		if slices.ContainsFunc(n.Premises, func(p Premise) bool { return p.Kind == PremiseStackArgs && p.Site == sa[0].Call }) {
			continue
		}
		var each []string
		for _, a := range sa[:min(len(sa), maxStackArgsNamed)] {
			where := "above an alloca"
			if a.FromSP >= 0 {
				where = fmt.Sprintf("[rsp+%#x]", a.FromSP)
			}
			each = append(each, fmt.Sprintf("SP saved in the word at CFA-%#x, %s at the call at %#x, SP restored from it at %#x", a.Slot, where, a.Call, a.Restore))
		}
		if len(sa) > maxStackArgsNamed {
			each = append(each, fmt.Sprintf("and %d more", len(sa)-maxStackArgsNamed))
		}
		n.Premises = append(n.Premises, Premise{Kind: PremiseStackArgs, Site: sa[0].Call, Detail: fmt.Sprintf(
			"the callee does not write a stack word its caller passed no stack argument in: %s: %s; "+
				"nothing was stored through rsp or pushed up to that word for the call (how compilers pass stack arguments); "+
				"a caller passing one it wrote through rbp, or before SP last moved down, is outside this; --strict drops the word at the call",
			n.Name(), strings.Join(each, "; "))})
	}
}

// noteCounterStackArgs gives node n, whose counted loop lc proved, the
// stack-args premise when the counter's slots were kept across a call by
// the rule alone (loopCount.ArgKept).
func (g *Graph) noteCounterStackArgs(n *Node, lc *loopCount) {
	if len(lc.ArgKept) == 0 {
		return
	}
	var each []string
	for _, k := range lc.ArgKept[:min(len(lc.ArgKept), maxStackArgsNamed)] {
		var slots []string
		for _, d := range k.Slots {
			slots = append(slots, fmt.Sprintf("%#x(%%rbp)", d))
		}
		each = append(each, fmt.Sprintf("the call at %#x keeps %s", k.Call, strings.Join(slots, ", ")))
	}
	if len(lc.ArgKept) > maxStackArgsNamed {
		each = append(each, fmt.Sprintf("and %d more", len(lc.ArgKept)-maxStackArgsNamed))
	}
	n.Premises = append(n.Premises, Premise{Kind: PremiseStackArgs, Site: lc.ArgKept[0].Call, Detail: fmt.Sprintf(
		"the callee does not write a stack word its caller passed no stack argument in: %s's loop counter (set at %#x) may be in a frame slot across calls: %s; "+
			"nothing was stored through rsp or pushed since SP last moved down for them (how compilers pass stack arguments); "+
			"a caller passing one it wrote through rbp is outside this; --strict drops the slots at every call",
		n.Name(), lc.Birth, strings.Join(each, "; "))})
}
