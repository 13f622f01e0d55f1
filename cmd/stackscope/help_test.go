package main

import (
	"strings"
	"testing"
)

// TestHelpAndErrors: a missing argument names the command and what is
// missing (not cobra's "requires at least 1 arg(s)"); output file names
// starting with "-" are refused before anything runs; usage lines put
// [flags] before "--"; every command's --help gives its exit status.
func TestHelpAndErrors(t *testing.T) {
	fw := "../../examples/firmware/firmware.elf"
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"analyze, no file":  {[]string{"analyze"}, "analyze: give the ELF FILE to analyze"},
		"layout, no file":   {[]string{"layout"}, "layout: give the FIRMWARE.elf file"},
		"layout, two files": {[]string{"layout", fw, fw}, "layout: too many arguments"},
		"report, no file":   {[]string{"report"}, "report: give the ELF FILE to report on"},
		"diff, one file":    {[]string{"diff", fw}, "diff: give the OLD and the NEW build"},
		"run, no program":   {[]string{"run"}, "run: give the program to run after --"},
		"run, only --":      {[]string{"run", "--"}, "run: give the program to run after --"},
		"minstack, none":    {[]string{"minstack", "--"}, "minstack: give the program to run after --"},
		"analyze -o -x":     {[]string{"analyze", "-o", "--format", fw}, `-o --format: an output file name may not start with "-"`},
		"layout --svg -x":   {[]string{"layout", "--svg=-map.svg", fw}, `--svg -map.svg: an output file name may not start with "-"`},
		"report -o -":       {[]string{"report", "-o", "-", fw}, `-o -: an output file name may not start with "-"`},
		"diff -o -x":        {[]string{"diff", "-o=-d.txt", fw, fw}, `-o -d.txt: an output file name may not start with "-"`},
		"run -o -x":         {[]string{"run", "-o=-r.txt", "--", "true"}, `-o -r.txt: an output file name may not start with "-"`},
		"run --json -x":     {[]string{"run", "--json=-r.json", "--", "true"}, `--json -r.json: an output file name may not start with "-"`},
		"minstack -o -x":    {[]string{"minstack", "-o=-m.txt", "--", "true"}, `-o -m.txt: an output file name may not start with "-"`},
	} {
		code, out, errOut := capture(t, c.args...)
		if code != exitUsage || out != "" || !oneLine(errOut) || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "arg(s)") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2 and one line with %q", name, code, out, errOut, c.want)
		}
	}
	root := newRootCommand()
	for _, sub := range root.Commands() {
		if sub.Name() == "completion" || sub.Name() == "help" || sub.Name() == "version" {
			continue // cobra's own, and the version helper's
		}
		if !strings.Contains(sub.Long, "Exit status: ") || strings.Contains(sub.Long, "as analyze's") {
			t.Errorf("%s --help does not give its own exit status", sub.Name())
		}
		if line := sub.UseLine(); strings.Contains(line, "--") && strings.Index(line, "[flags]") > strings.Index(line, "--") {
			t.Errorf("%s: usage %q puts [flags] after --", sub.Name(), line)
		}
	}
}
