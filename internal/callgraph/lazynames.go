package callgraph

import (
	"strings"

	"github.com/stackscope/stackscope/internal/binfile"
)

// noReturnFunction is NoReturnName(fn.Name()), without demangling a name
// that cannot be one NoReturnName knows: those are C names (with a
// version maybe) or libstdc++'s link names (_ZSt...). A mangled link name
// not yet demangled is its own name when the demangler fails on it (then
// NoReturnName of it says), and else demangles to a C name only in the
// forms binfile's MayDemangleToCName accepts, and to a name that starts
// with "_Z" only when that is copied from it, past its own "_Z", or made
// of Rust's '$' escapes (binfile.FuzzDemangledCNames checks both).
func noReturnFunction(fn *binfile.Function) bool {
	if fn.NotYetDemangled() && !fn.MayDemangleToCName() && !NoReturnName(fn.LinkName) &&
		!strings.Contains(fn.LinkName[1:], "_Z") && !strings.Contains(fn.LinkName, "$") {
		return false
	}
	return NoReturnName(fn.Name())
}
