package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// TestVersionFrom: the module version wins; a checkout build names its
// commit, its time and whether the tree had changes; nothing stamped is devel.
func TestVersionFrom(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}, Settings: vcs("vcs.revision", "abc")}, "v0.3.1"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(
			"vcs.revision", "7a8444f1b2c3d4e5f60718293a4b5c6d7e8f9012", "vcs.time", "2026-11-26T15:36:06Z", "vcs.modified", "false")},
			"devel-7a8444f1b2c3 (2026-11-26T15:36:06Z)"},
		{&debug.BuildInfo{Settings: vcs("vcs.revision", "7a8444f1b2c3d4e5", "vcs.modified", "true")}, "devel-7a8444f1b2c3-dirty"},
	} {
		if got := versionFrom(c.bi); got != c.want {
			t.Errorf("versionFrom(%+v) = %q, want %q", c.bi, got, c.want)
		}
	}
}

// TestVersionEverywhere builds the real command, asks it its version (the
// subcommand and --version agree), and finds exactly that string in the
// JSON, SARIF and HTML it writes for a small compiled program.
func TestVersionEverywhere(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	ss := filepath.Join(dir, "stackscope")
	if out, err := exec.Command("go", "build", "-o", ss, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src := filepath.Join(dir, "prog.c")
	os.WriteFile(src, []byte("int main(void) { volatile char b[100]; b[0] = 1; return b[0] - 1; }\n"), 0o644)
	prog := filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-O1", "-o", prog, src)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(ss, args...).Output()
		if err != nil {
			t.Fatalf("stackscope %v: %v", args, err)
		}
		return string(out)
	}
	line := strings.TrimSpace(run("version"))
	v, ok := strings.CutPrefix(line, "stackscope ")
	if !ok || v == "" {
		t.Fatalf("version printed %q, want \"stackscope VERSION\"", line)
	}
	if got := strings.TrimSpace(run("--version")); got != line {
		t.Errorf("--version printed %q, version printed %q", got, line)
	}
	key := func(name, doc string) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m["stackscope_version"] != v {
			t.Errorf("%s: stackscope_version %v, want %q", name, m["stackscope_version"], v)
		}
	}
	analyzed := run("analyze", "--no-libraries", "--format", "json", prog)
	key("analyze json", analyzed)
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte(analyzed), 0o644)
	key("diff json", run("diff", "--format", "json", old, old))
	key("layout json", run("layout", "--format", "json", prog))
	rec := filepath.Join(dir, "run.json")
	run("run", "--format", "json", "-o", rec, "--", prog)
	data, _ := os.ReadFile(rec)
	key("run json", string(data))

	var sarif struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Version string `json:"version"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(run("analyze", "--no-libraries", "--format", "sarif", prog)), &sarif); err != nil || len(sarif.Runs) != 1 {
		t.Fatalf("sarif: %v, %d runs", err, len(sarif.Runs))
	}
	if got := sarif.Runs[0].Tool.Driver.Version; got != v {
		t.Errorf("SARIF driver.version %q, want %q", got, v)
	}
	if page := run("analyze", "--no-libraries", "--format", "html", prog); !strings.Contains(page, v) {
		t.Errorf("HTML page does not carry %q", v)
	}
}
