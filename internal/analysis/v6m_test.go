package analysis

import (
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestThumbV6MLargeFrames: on ARMv6-M (Cortex-M0), frames over 508 bytes
// are allocated with ldr rX, =-N; add sp, rX and released with movs/lsls
// or another literal and add sp, rX. The walk takes the register's value
// from the straight-line code before the add: the frames of
// testdata/v6m/frames.c are static and equal .su at -O0, -O2 and -Os; a
// VLA stays dynamic, and an add whose register two paths set to different
// constants (join.s) is not static.
func TestThumbV6MLargeFrames(t *testing.T) {
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	td, _ := filepath.Abs(filepath.Join("testdata", "v6m"))
	for _, opt := range []string{"-O0", "-O2", "-Os"} {
		opt := opt
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out := filepath.Join(dir, "frames.elf")
			testutil.Run(t, dir, cc, "-mcpu=cortex-m0", "-mthumb", opt, "-g", "-fstack-usage", "--specs=nosys.specs",
				"-o", out, filepath.Join(td, "frames.c"), filepath.Join(td, "join.s"))
			res, err := Run(out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			su := testutil.ParseSU(t, dir)
			requireAllEqual(t, compareWithSU(res, su))
			frames := suFrames(su)
			for _, name := range []string{"kib", "odd", "huge", "mixed"} {
				if frames[name] <= 508 {
					t.Fatalf("fixture: %s's frame is %d B in .su, want over 508", name, frames[name])
				}
			}
			for _, f := range res.Functions {
				switch f.Name {
				case "kib", "odd", "huge", "mixed":
					if f.Frame == nil || *f.Frame != frames[f.Name] {
						t.Errorf("%s: %s frame %s (%s), want static %d from .su", f.Name, f.FrameKind, show(f.Frame), f.Reason, frames[f.Name])
					}
				case "vla", "join_add":
					if f.FrameKind == "static" {
						t.Errorf("%s: static %d, want dynamic or unknown", f.Name, *f.Frame)
					}
				}
			}
		})
	}
}
