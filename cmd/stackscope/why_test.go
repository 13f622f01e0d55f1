package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExitOneSaysWhy: every command that can exit 1 says why, in one line
// on stderr that names the finding, whether the report went to stdout or
// to -o FILE. The inputs are the example firmware (its placement is unsafe
// on purpose) and small C programs compiled and run here.
func TestExitOneSaysWhy(t *testing.T) {
	fw := "../../examples/firmware/firmware.elf"
	prog := buildC(t, "testdata/outerr.c", "-O0")
	deep := buildC(t, "testdata/deep.c", "-O0") // recursion: main has no bound
	crash := buildC(t, "testdata/overflow.c", "-O0")
	dir := t.TempDir()
	page := filepath.Join(dir, "fw.html")
	for name, c := range map[string]struct {
		args []string
		want []string
	}{
		"analyze over budget": {[]string{"analyze", "--budget", "16", fw}, []string{"exit 1: ", " bound ", "exceeds the budget 16 B"}},
		"analyze not bounded": {[]string{"analyze", "--no-libraries", "--budget", "1000000", deep}, []string{"exit 1: main", "NOT BOUNDED", "budget 976.6 KiB"}},
		"analyze -o":          {[]string{"analyze", "--budget", "16", "-o", filepath.Join(dir, "a.txt"), fw}, []string{"wrote " + filepath.Join(dir, "a.txt") + "; exit 1: ", "exceeds the budget 16 B"}},
		"layout unsafe":       {[]string{"layout", fw}, []string{"exit 1: stack placement UNSAFE (layout)"}},
		"layout json -o":      {[]string{"layout", "--format", "json", "-o", filepath.Join(dir, "l.json"), fw}, []string{"wrote " + filepath.Join(dir, "l.json") + "; exit 1: stack placement UNSAFE (layout)"}},
		"report":              {[]string{"report", "-o", page, fw}, []string{"wrote " + page + "; exit 1: stack placement"}},
		"report over budget":  {[]string{"report", "--layout", "no", "--budget", "16", "-o", page, fw}, []string{"wrote " + page + "; exit 1: ", "exceeds the budget 16 B"}},
		"diff max growth":     {[]string{"diff", "--no-libraries", "--max-growth", "0", prog, deep}, []string{"exit 1: over --max-growth 0: main ("}},
		"minstack":            {[]string{"minstack", "--no-static", "--", crash}, []string{"exit 1: ", "fails even at the normal limit"}},
	} {
		code, _, errOut := capture(t, c.args...)
		if code != 1 {
			t.Errorf("%s: exit %d (stderr %q), want 1", name, code, errOut)
			continue
		}
		last := strings.TrimSpace(errOut)
		if i := strings.LastIndex(last, "\n"); i >= 0 {
			// minstack's progress and warnings may come first; the why is
			// the last line.
			last = last[i+1:]
		}
		if !strings.HasPrefix(last, "stackscope: ") {
			t.Errorf("%s: last stderr line %q, want stackscope: ...", name, last)
		}
		for _, w := range c.want {
			if !strings.Contains(last, w) {
				t.Errorf("%s: last stderr line %q lacks %q", name, last, w)
			}
		}
	}
}
