package analysis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestEmptyInitArrays: in a picolibc image with no constructor, the image
// has no init or preinit array, so __libc_init_array's calls through them
// are never made: _start is bounded (not "target not known"), and its
// bound is its printed path's sum of frames, each equal to the .su where
// GCC wrote one. With a constructor, the same calls go to it, and
// _start's worst path runs through it.
func TestEmptyInitArrays(t *testing.T) {
	cc := testutil.RequireTool(t, "riscv64-unknown-elf-gcc")
	src, _ := filepath.Abs(filepath.Join("testdata", "riscv", "initarrays.c"))
	for _, ctor := range []bool{false, true} {
		name := "none"
		if ctor {
			name = "ctor"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			flags := []string{"-march=rv32imac", "-mabi=ilp32", "-O2", "--specs=picolibc.specs"}
			if ctor {
				flags = append(flags, "-DCTOR")
			}
			testutil.Run(t, dir, cc, append([]string{"-g", "-fstack-usage", "-c", "-o", "initarrays.o", src}, flags...)...)
			testutil.Run(t, dir, cc, append([]string{"-o", "initarrays.elf", "initarrays.o"}, flags...)...)
			res, err := Run(filepath.Join(dir, "initarrays.elf"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			var start *Entry
			for i := range res.Entries {
				if res.Entries[i].Name == "_start" {
					start = &res.Entries[i]
				}
			}
			if start == nil {
				t.Fatalf("no _start entry: %v", res.Entries)
			}
			if !start.Bounded {
				t.Fatalf("_start not bounded: %+v", start.Reasons)
			}
			su := suFrames(testutil.ParseSU(t, dir))
			var path []string
			for _, st := range start.Steps {
				path = append(path, st.Function)
				if want, ok := su[st.Function]; ok && st.Frame != want {
					t.Errorf("%s: frame %d, .su %d", st.Function, st.Frame, want)
				}
			}
			if got := slices.Contains(path, "setup"); got != ctor {
				t.Errorf("worst path %s: through the constructor %v, want %v", strings.Join(path, " > "), got, ctor)
			}
		})
	}
}
