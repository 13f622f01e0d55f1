package trace

import (
	"fmt"
	"io"
)

// Types of the Go runtime's part of a result (goruntime_linux.go reads them).

// GoInfo is what stackscope read of a Go program's goroutines.
type GoInfo struct {
	// Goroutines counted in runtime.allgs when the program ended (dead
	// ones keep their stacks for reuse and are counted); -1 when not read.
	Goroutines int `json:"goroutines"`
	// Deepest is the goroutine with the largest stack at the end: stacks
	// grow by doubling when a goroutine needs more, so its size bounds what
	// it used from above, to within a factor of two (the runtime also
	// shrinks idle stacks at GC).
	Deepest *Goroutine `json:"deepest,omitempty"`
	Note    string     `json:"note"`
}

// Goroutine is one goroutine's stack.
type Goroutine struct {
	ID        int64  `json:"id"` // -1 when DWARF does not say where goid is
	StackSize uint64 `json:"stack_size"`
	StackLo   uint64 `json:"stack_lo"`
	StackHi   uint64 `json:"stack_hi"`
}

// writeGo says what the report knows of a Go program's goroutines.
func (r *Result) writeGo(w io.Writer) {
	g := r.Go
	if g == nil {
		return
	}
	switch {
	case g.Deepest != nil:
		who := "a goroutine"
		if g.Deepest.ID >= 0 {
			who = fmt.Sprintf("goroutine %d", g.Deepest.ID)
		}
		fmt.Fprintf(w, "  go: %d goroutine(s) at the end; the largest stack was %s's, %s; %s\n",
			g.Goroutines, who, HumanBytes(g.Deepest.StackSize), g.Note)
	default:
		fmt.Fprintf(w, "  go: %s\n", g.Note)
	}
}
