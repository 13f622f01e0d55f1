package analysis

import (
	"fmt"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
	"github.com/stackscope/stackscope/internal/isa"
)

// refNoReturn is noReturn as it was before its walks kept their scratch
// between functions and decoded without the registers' description: a
// map per question, every instruction decoded in full and its constants
// noted as it goes. The test's reference.
type refNoReturn struct {
	nr      *noReturn // for the graph and the DWARF noreturn set
	memo    map[int]string
	pending map[int]bool
}

func (ref *refNoReturn) why(id int) string {
	if w, ok := ref.memo[id]; ok {
		return w
	}
	if ref.pending[id] {
		return ""
	}
	ref.pending[id] = true
	w := ref.walk(id)
	delete(ref.pending, id)
	ref.memo[id] = w
	return w
}

func (ref *refNoReturn) callee(calls map[uint64]int, pc uint64) string {
	to, ok := calls[pc]
	if !ok {
		return ""
	}
	if ref.why(to) == "" {
		return ""
	}
	return fmt.Sprintf("calls %s, which never returns", ref.nr.g.QualifiedName(to))
}

func (ref *refNoReturn) walk(id int) string {
	nr := ref.nr
	n := nr.g.Nodes[id]
	if n.Func == nil || n.Module == nil || n.External || n.Hub {
		return ""
	}
	f := n.Module.File
	fn := n.Func
	code, err := f.Code(fn.Addr, fn.Size)
	if err != nil || len(code) == 0 {
		return ""
	}
	end := fn.Addr + uint64(len(code))
	calls := map[uint64]int{} // call site -> callee node
	for _, e := range n.Edges {
		calls[e.Site] = e.To
	}
	// Calls to case helpers go to their table's cases, never to the
	// bytes after them (frame.CaseTable).
	tables := map[uint64]frame.CaseTable{}
	for _, t := range n.Frame.CaseTables {
		tables[t.Call] = t
	}
	consts := map[int64]bool{}
	evidence := ""
	seen := map[uint64]bool{}
	conditional := map[uint64]bool{}
	work := []uint64{fn.Addr}
	for len(work) > 0 {
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		if pc < fn.Addr || pc >= end || seen[pc] || inData(f, pc) {
			continue
		}
		seen[pc] = true
		ef, err := nr.g.Decoder.Decode(code[pc-fn.Addr:], pc)
		if err != nil || ef.Len <= 0 {
			return ""
		}
		next := pc + uint64(ef.Len)
		noteConstant(ef, consts)
		if ef.CondNext > 0 {
			markConditional(nr.g.Decoder, code, fn.Addr, next, ef.CondNext, conditional)
		}
		if conditional[pc] {
			// In a Thumb IT block: whatever it does, it may also not.
			work = append(work, next)
		}
		switch ef.Flow {
		case isa.FlowReturn:
			return ""
		case isa.FlowIndirectJump:
			if !ef.JumpTable {
				return "" // an indirect tail call may return
			}
		case isa.FlowStop:
		case isa.FlowJump:
			switch {
			case ef.HasTarget && ef.Target == pc:
				evidence = fmt.Sprintf("ends in an endless loop at %#x", pc)
			case ef.HasTarget && ef.Target >= fn.Addr && ef.Target < end:
				work = append(work, ef.Target)
			default:
				w := ref.callee(calls, pc)
				if w == "" {
					return ""
				}
				evidence = w
			}
		case isa.FlowCondJump:
			if ef.HasTarget && ef.Target >= fn.Addr && ef.Target < end {
				work = append(work, ef.Target)
			} else if ref.callee(calls, pc) == "" {
				return ""
			}
			work = append(work, next)
		case isa.FlowCall, isa.FlowIndirectCall:
			if t, ok := tables[pc]; ok {
				if t.Entries == 0 {
					return "" // its cases are not known: they may return
				}
				for _, to := range t.Targets {
					work = append(work, to)
				}
				continue
			}
			if w := ref.callee(calls, pc); w != "" {
				evidence = w
				continue
			}
			if next >= end && ef.Flow == isa.FlowCall {
				// The compiler put nothing after this call: it knew
				// the callee does not come back.
				if to, ok := calls[pc]; ok {
					evidence = fmt.Sprintf("its last instruction calls %s, which does not come back", nr.g.QualifiedName(to))
				}
				continue
			}
			work = append(work, next)
		default:
			work = append(work, next)
		}
	}
	if resets(consts) {
		return "resets the processor (writes 0x05FA0004 to AIRCR)"
	}
	if evidence == "" && nr.declaredNoReturn(f, fn.Addr) {
		evidence = "declared noreturn"
	}
	return evidence
}

// TestNoReturnIsReference: the never-returns answer of every function of
// a program followed into libc and ld.so (x86-64) and of the example
// firmware and a Cortex-M3 image with a software reset and an assert
// loop (Thumb), asked in node order, is the reference walk's (the
// walk before its scratch was kept and its decoding made lighter), and
// so is each answer the questions left in the memo.
func TestNoReturnIsReference(t *testing.T) {
	dir := t.TempDir()
	programs := map[string]string{
		"x86-64 program":      buildX86(t, dir, []string{"-O1"}, false, "actionable.c"),
		"example firmware":    "../../examples/firmware/firmware.elf",
		"annotated Cortex-M3": buildAnnotFirmware(t, dir, "-mcpu=cortex-m3", "-O2"),
	}
	for name, path := range programs {
		res, err := Run(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		g := res.Graph
		nr := newNoReturn(g, nil)
		ref := &refNoReturn{nr: newNoReturn(g, nil), memo: map[int]string{}, pending: map[int]bool{}}
		never := 0
		for id := range g.Nodes {
			got, want := nr.why(id), ref.why(id)
			if got != want {
				t.Errorf("%s: %s: never returns %q, reference %q", name, g.Nodes[id].Name(), got, want)
			}
			if got != "" {
				never++
			}
		}
		for id, want := range ref.memo {
			if got, ok := nr.known(id); !ok || got != want {
				t.Errorf("%s: %s: memo %q (%v), reference %q", name, g.Nodes[id].Name(), got, ok, want)
			}
		}
		if never == 0 || nr.depth != 0 {
			t.Errorf("%s: %d functions never return (want some), walk level %d after the questions (want 0)", name, never, nr.depth)
		}
		t.Logf("%s: %d functions, %d never return", name, len(g.Nodes), never)
	}
}

// answers are noReturn's memo as a map: the answer of each node whose
// walk has ended.
func (nr *noReturn) answers() map[int]string {
	out := map[int]string{}
	for id := range nr.state {
		if w, ok := nr.known(id); ok {
			out[id] = w
		}
	}
	return out
}
