package callgraph

import (
	"os"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
)

// noReturnNameScanned is NoReturnName as it was, without the early
// answer for long names.
func noReturnNameScanned(name string) bool {
	if i := strings.IndexByte(name, '@'); i > 0 {
		name = name[:i]
	}
	return noReturnNames[name] || strings.HasPrefix(name, "_ZSt") && strings.Contains(name, "__throw_")
}

// TestNoReturnNameLongNames: NoReturnName's early answer for names
// longer than every listed one (with no '@' where a listed name could
// end) is what reading the whole name answers: on every listed name
// with and without a version, names around the longest's length with
// the '@' on either side of it, and every link name and alias of libc,
// libstdc++ and node.
func TestNoReturnNameLongNames(t *testing.T) {
	long := strings.Repeat("x", maxNoReturnName)
	names := []string{"", "@", "@abort", "abort@", "_ZSt", "_ZSt@__throw_", "_ZSt__throw_", long, long + "x", long + "@v",
		long[1:] + "@v", "_ZSt" + long + "__throw_x", "_ZSt" + long + "@__throw_", "_ZSt20__throw_length_errorPKc",
		"_ZSt20__throw_length_errorPKc@@GLIBCXX_3.4", "__cxa_throw_bad_array_new_length@@CXXABI_1.3.8"}
	for name := range noReturnNames {
		names = append(names, name, name+"@GLIBC_2.2.5", name+"x", "x"+name, name+strings.Repeat("y", maxNoReturnName))
	}
	for _, path := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/node"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := binfile.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Functions {
			names = append(names, f.Functions[i].LinkName)
			names = append(names, f.Functions[i].Aliases...)
		}
		f.Close()
	}
	yes := 0
	for _, n := range names {
		got, want := NoReturnName(n), noReturnNameScanned(n)
		if got != want {
			t.Errorf("NoReturnName(%q) = %v, want %v", n, got, want)
		}
		if got {
			yes++
		}
	}
	if yes == 0 {
		t.Error("no name never returns: the test compares nothing")
	}
}
