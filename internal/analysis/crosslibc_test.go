package analysis

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

var notModelledRE = regexp.MustCompile(`not modelled at (0x[0-9a-f]+)`)

// TestCrossLibc analyses Debian's cross glibc for AArch64 and RV64 as a
// user would (stackscope analyze /usr/<triplet>/lib/libc.so.6): a library
// that also runs (it has an interpreter), whose entries are its exported
// functions. The analysis finishes, every entry that is not bounded says
// why with the function and address, the printed paths sum to their
// bounds, and no frame is left unknown at an epilogue restoring a large
// frame from the frame pointer plus a register (RISC-V add sp,s0,t0),
// which objdump shows at each remaining "not modelled" address.
func TestCrossLibc(t *testing.T) {
	for _, tg := range []struct{ name, libc, objdump string }{
		{"arm64", "/usr/aarch64-linux-gnu/lib/libc.so.6", "aarch64-linux-gnu-objdump"},
		{"rv64", "/usr/riscv64-linux-gnu/lib/libc.so.6", "riscv64-linux-gnu-objdump"},
	} {
		t.Run(tg.name, func(t *testing.T) {
			testutil.RequireTool(t, tg.libc)
			objdump := testutil.RequireTool(t, tg.objdump)
			res, err := Run(tg.libc, Options{LibPaths: []string{filepath.Dir(tg.libc)}})
			if err != nil {
				t.Fatal(err)
			}
			requirePathSums(t, res)
			if len(res.Entries) < 1000 {
				t.Fatalf("%d entries, want libc's exported functions", len(res.Entries))
			}
			bounded, unknown := 0, 0
			for _, e := range res.Entries {
				if e.Kind != "export" {
					t.Errorf("%s: entry kind %q, want export", e.Name, e.Kind)
				}
				if e.Bounded {
					bounded++
					continue
				}
				if len(e.Reasons) == 0 {
					t.Errorf("%s: not bounded and no reason", e.Name)
				}
				for _, r := range e.Reasons {
					// (lazy binding names its GOT slot in the detail)
					if r.Function == "" || r.Addr == 0 && r.Kind != "external" && !strings.Contains(r.Detail, " 0x") {
						t.Errorf("%s: reason %+v does not say where", e.Name, r)
					}
				}
			}
			dir := t.TempDir()
			for _, f := range res.Functions {
				if f.FrameKind != "unknown" {
					continue
				}
				unknown++
				m := notModelledRE.FindStringSubmatch(f.Reason)
				if m == nil {
					continue
				}
				var at uint64
				fmt.Sscanf(m[1], "0x%x", &at)
				dis := testutil.Run(t, dir, objdump, "-d", fmt.Sprintf("--start-address=%#x", at), fmt.Sprintf("--stop-address=%#x", at+4), tg.libc)
				if strings.Contains(dis, "\tadd\tsp,s0,") || strings.Contains(dis, "\tsub\tsp,s0,") {
					t.Errorf("%s: %s, an SP restore from s0 plus a register", f.Name, f.Reason)
				}
			}
			t.Logf("%d entries, %d bounded; %d of %d frames unknown", len(res.Entries), bounded, unknown, len(res.Functions))
		})
	}
}
