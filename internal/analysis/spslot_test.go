package analysis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestX86SPSlot: GCC frees a VLA at the end of its scope by loading SP
// from the frame slot it saved it in (testdata/x86/vlaslot.c: a VLA in a
// loop body, one whose scope has a call with stack arguments (the saved
// SP is not in that call's argument area, frame/argarea.go), in a block,
// two scopes nested, a VLA of a size known after inlining). Every function is what .su says: dynamic ones dynamic for
// the VLA (the only reason), with .su's bytes besides it; the one .su
// calls bounded, static with .su's bytes. None is unknown (the load of SP
// was "SP written in a way not modelled"). objdump confirms the -O1 and
// -O2 builds have the shape (-O0 keeps SP in a register, -Os either).
func TestX86SPSlot(t *testing.T) {
	objdump := testutil.RequireTool(t, "objdump")
	for _, opt := range []string{"-O0", "-O1", "-O2", "-Os"} {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := buildX86(t, dir, []string{opt}, true, "vlaslot.c")
			dis := testutil.Run(t, dir, objdump, "-d", "-M", "intel", "--no-show-raw-insn", filepath.Join(dir, "vlaslot.o"))
			if opt != "-O0" && (!strings.Contains(dis, "],rsp") || !strings.Contains(dis, "mov    rsp,QWORD PTR [rbp-")) {
				t.Fatalf("the fixture does not save SP in a frame slot:\n%s", dis)
			}
			res, err := Run(bin, Options{NoLibraries: true})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			su := testutil.ParseSU(t, dir)
			requireAllEqual(t, compareWithSU(res, su))
			if len(su) != 5 {
				t.Fatalf(".su has %d functions, want 5", len(su))
			}
			for _, line := range su {
				fn := function(t, res, line.Function)
				switch line.Kind {
				case "dynamic":
					if fn.FrameKind != "dynamic" || !strings.Contains(fn.Reason, "run-time amount") || fn.FrameAtLeast != line.Bytes {
						t.Errorf("%s: .su says dynamic %d, analyzer says %s %d (%s)", line.Function, line.Bytes, fn.FrameKind, fn.FrameAtLeast, fn.Reason)
					}
				case "static", "dynamic,bounded":
					if fn.FrameKind != "static" {
						t.Errorf("%s: .su says %s %d, analyzer says %s (%s)", line.Function, line.Kind, line.Bytes, fn.FrameKind, fn.Reason)
					}
				default:
					t.Errorf("%s: .su says %s", line.Function, line.Kind)
				}
			}
		})
	}
}

// TestX86SPSlotAsm checks hand-written shapes (testdata/x86/spslot.S): SP
// loaded from the slot it was saved in is followed (the frame is dynamic
// for the VLA only, 48 bytes besides it), also with a read of the slot and
// a store into the VLA in between; a slot overwritten, partly overwritten,
// whose address is passed to a callee, written on two paths with
// different values, or never written, leaves the load unknown.
func TestX86SPSlotAsm(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "spslot.so")
	src, _ := filepath.Abs("testdata/x86/spslot.S")
	testutil.Run(t, dir, testutil.RequireTool(t, "gcc"), "-shared", "-fPIC", "-Wl,-z,now", "-o", bin, src)
	res, err := Run(bin, Options{NoLibraries: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"slot_kept", "slot_rsp_saved"} {
		fn := function(t, res, name)
		if fn.FrameKind != "dynamic" || fn.FrameAtLeast != 48 || !strings.Contains(fn.Reason, "run-time amount") {
			t.Errorf("%s: %s %d (%s), want dynamic 48 for the VLA", name, fn.FrameKind, fn.FrameAtLeast, fn.Reason)
		}
	}
	for _, name := range []string{"slot_overwritten", "slot_half_overwritten", "slot_escaped", "slot_join", "slot_never_saved"} {
		if fn := function(t, res, name); fn.FrameKind != "unknown" {
			t.Errorf("%s: %s %d (%s), want unknown", name, fn.FrameKind, fn.FrameAtLeast, fn.Reason)
		}
	}
	if fn := function(t, res, "slot_escaped"); !strings.Contains(fn.Reason, "address") {
		t.Errorf("slot_escaped: %q, want the reason to say the slot's address is taken", fn.Reason)
	}
}
