package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/emu"
	"github.com/stackscope/stackscope/internal/size"
	"github.com/stackscope/stackscope/internal/testutil"
)

// reportDOM loads url in headless Chromium and returns the DOM after the
// page's script ran, failing on any console message (an error, an
// uncaught exception).
func reportDOM(t *testing.T, url string) string {
	t.Helper()
	bin := testutil.RequireTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--disable-gpu", "--no-sandbox", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--dump-dom", url)
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			t.Errorf("console: %s", l)
		}
	}
	return string(out)
}

var (
	trRE  = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	tdRE  = regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
	tagRE = regexp.MustCompile(`<[^>]*>`)
)

// htmlText is an element's text: tags dropped, entities decoded.
func htmlText(s string) string {
	return strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(s, "")))
}

// tableRows are the rows of the first table in s, each a list of cell texts.
func tableRows(s string) [][]string {
	end := strings.Index(s, "</table>")
	if end < 0 {
		return nil
	}
	var rows [][]string
	for _, tr := range trRE.FindAllStringSubmatch(s[:end], -1) {
		var row []string
		for _, td := range tdRE.FindAllStringSubmatch(tr[1], -1) {
			row = append(row, htmlText(td[1]))
		}
		rows = append(rows, row)
	}
	return rows
}

// between is the part of s from the first start to the next end after it.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("no %q in the page", start)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, start)
	}
	return s[i : i+j]
}

// pageData is the page's JSON data (the function rows), to resolve links.
func pageFunctions(t *testing.T, page string) map[string]bool {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script id="data" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no data in the page")
	}
	var data struct {
		Functions []struct {
			Name string `json:"name"`
		} `json:"functions"`
	}
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range data.Functions {
		out[f.Name] = true
	}
	return out
}

// checkFnLinks: every #fn=NAME link in part names a row of the table.
func checkFnLinks(t *testing.T, part string, rows map[string]bool) int {
	t.Helper()
	links := regexp.MustCompile(`href="#fn=([^"]*)"`).FindAllStringSubmatch(part, -1)
	for _, l := range links {
		name := html.UnescapeString(l[1])
		if !rows[name] {
			t.Errorf("link #fn=%s: no such row", name)
		}
	}
	return len(links)
}

// TestReportFirmwareRun: a FreeRTOS firmware run with --deepest, its
// record written by the real command, shown by report --run: in
// Chromium, one row per stack whose peak, size, static bound and check
// are the record's (as run's text writes them), and per stack the deepest
// path beside the static worst path, frame by frame as the record has
// them, every function linked to a row of the table; following a link
// shows that row alone.
func TestReportFirmwareRun(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	testutil.RequireTool(t, "chromium")
	dir := t.TempDir()
	app, _ := filepath.Abs("../../internal/emu/testdata/rtos/app.c")
	fw := testutil.BuildFreeRTOS(t, dir, testutil.FreeRTOSApp{Port: "cm3", App: []string{app}, Defines: []string{"INCLUDE_xTaskGetIdleTaskHandle=1"}})
	js := filepath.Join(dir, "run.json")
	if code, _, errOut := capture(t, "run", "--deepest", "--format", "json", "-o", js, fw); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rec emu.Result
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if e := rec.Executable; e == nil || e.Path != fw || e.Size != fileSize(t, fw) {
		t.Errorf("the record names %+v, want %s", e, fw)
	}
	page := filepath.Join(dir, "fw.html")
	if code, _, errOut := capture(t, "report", "--run", js, "-o", page, fw); code > 1 || strings.Contains(errOut, "warning") {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	raw, _ := os.ReadFile(page)
	rows := pageFunctions(t, string(raw))
	if !strings.Contains(string(raw), html.EscapeString(rec.Verdict())) {
		t.Errorf("the page lacks the run's verdict %q", rec.Verdict())
	}
	dom := reportDOM(t, "file://"+page)
	if d := os.Getenv("STACKSCOPE_SCREENSHOTS"); d != "" {
		exec.Command("cp", page, filepath.Join(d, "fwrun.html")).Run()
		exec.Command("cp", js, filepath.Join(d, "fwrun.json")).Run()
	}
	part := between(t, dom, `<div id="fw-stacks">`, `<section id="functions-section">`)
	got := tableRows(part)
	if len(got) != len(rec.Stacks)+1 {
		t.Fatalf("%d rows for %d stacks: %v", len(got)-1, len(rec.Stacks), got)
	}
	tasks, deepest := 0, 0
	for i, s := range rec.Stacks {
		row := got[i+1]
		if s.Kind == "task" {
			tasks++
		}
		if s.Peak == nil || s.Overflowed {
			t.Errorf("%s: peak %v overflowed %v: the fixture's stacks are all measured and within", s.Name, s.Peak, s.Overflowed)
			continue
		}
		// The bound and check as run's own table writes them.
		bound, check := "not bounded", "no static bound"
		switch {
		case s.StaticBound != nil && *s.Peak > *s.StaticBound:
			bound, check = size.Format(*s.StaticBound), "ANALYSIS BUG"
		case s.StaticBound != nil:
			bound, check = size.Format(*s.StaticBound), "bound holds"
		case s.StaticAtLeast > 0:
			bound = "≥ " + size.Format(s.StaticAtLeast)
		}
		want := []string{s.Name, s.Kind, size.Format(*s.Peak), size.FormatCapacity(s.Size), size.FormatCapacity(s.Size - *s.Peak), bound, check}
		if len(row) != 7 || row[0] != want[0] || row[1] != want[1] || row[2] != want[2] || row[3] != want[3] ||
			!strings.HasPrefix(row[4], want[4]+" (") || row[5] != want[5] || !strings.HasPrefix(row[6], want[6]) {
			t.Errorf("stack %s: row %q, want %q", s.Name, row, want)
		}
		d := s.Deepest
		if d == nil {
			continue
		}
		deepest++
		// The stack's path table, in the DOM as the script built it.
		box := between(t, part, `data-stack="`+html.EscapeString(s.Name)+`"`, `</table>`) + "</table>"
		if !strings.Contains(htmlText(box), fmt.Sprintf("deepest write %s at %#x in %s", size.Format(d.Depth), d.PC, d.Function)) {
			t.Errorf("%s: the deepest write is not shown: %s", s.Name, htmlText(box))
		}
		prows := tableRows(box)[1:]
		if len(prows) != max(len(d.Backtrace), len(s.StaticPath)) {
			t.Errorf("%s: %d path rows for %d measured frames and %d static", s.Name, len(prows), len(d.Backtrace), len(s.StaticPath))
			continue
		}
		for k, pr := range prows {
			var m, fr, st string
			if k < len(d.Backtrace) {
				f := d.Backtrace[len(d.Backtrace)-1-k]
				m, fr = f.Function, size.Format(f.Size)
			}
			if k < len(s.StaticPath) {
				st = s.StaticPath[k]
			}
			if pr[0] != m || pr[1] != fr || pr[3] != st {
				t.Errorf("%s: path row %d %q, want measured %q frame %q static %q", s.Name, k, pr, m, fr, st)
			}
		}
		if n := checkFnLinks(t, box, rows); n == 0 {
			t.Errorf("%s: no function of the path is linked", s.Name)
		}
	}
	if tasks < 4 || deepest < 2 {
		t.Errorf("%d tasks, %d deepest paths: the fixture has the main stack and its tasks, with --deepest", tasks, deepest)
	}
	// A link followed: the table shows that function's row alone.
	leaf := rec.Stacks[0].StaticPath[len(rec.Stacks[0].StaticPath)-1]
	linked := reportDOM(t, "file://"+page+"#fn="+leaf)
	trs := tableRows(between(t, linked, `<table id="functions"`, `</table>`) + "</table>")
	if len(trs) != 2 || trs[1][0] != leaf {
		t.Errorf("#fn=%s shows %d rows: %v", leaf, len(trs)-1, trs)
	}
}

// TestReportInjection: two injections written by the real command (one
// detected by a HardFault whose handler ends safely, one that corrupts
// .bss silently) shown by report --inject: the timeline's steps in the
// order they happened, each equal to the record (the first store's
// address, object, PC and where; every object written, with its word
// count and who wrote it first; the fault's vector, handler, CFSR and
// HFSR; what the handler did; the verdict beside layout's prediction),
// and every function link naming a row of the table.
func TestReportInjection(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	testutil.RequireTool(t, "chromium")
	cases := []struct {
		ld, handler string
		fire        []string
	}{
		{"start", "naked", []string{"--at", "work"}},
		{"after_bss", "c", []string{"--stack", "32"}},
	}
	for _, c := range cases {
		t.Run(c.ld+"-"+c.handler, func(t *testing.T) {
			fw, ld := buildInjectFixture(t, c.ld, c.handler)
			dir := filepath.Dir(fw)
			js := filepath.Join(dir, "inject.json")
			args := append(append([]string{"inject"}, c.fire...), "--ld", ld, "--format", "json", "-o", js, fw)
			if code, _, errOut := capture(t, args...); code > 1 {
				t.Fatalf("inject: exit %d\n%s", code, errOut)
			}
			data, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var rec emu.Injection
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			if e := rec.Executable; e == nil || e.Path != fw || e.Size != fileSize(t, fw) {
				t.Errorf("the record names %+v, want %s", e, fw)
			}
			page := filepath.Join(dir, "inject.html")
			if code, _, errOut := capture(t, "report", "--inject", js, "-o", page, fw); code > 1 || strings.Contains(errOut, "warning") {
				t.Fatalf("report: exit %d\n%s", code, errOut)
			}
			if d := os.Getenv("STACKSCOPE_SCREENSHOTS"); d != "" {
				exec.Command("cp", page, filepath.Join(d, "inject-"+c.ld+".html")).Run()
			}
			raw, _ := os.ReadFile(page)
			rows := pageFunctions(t, string(raw))
			dom := reportDOM(t, "file://"+page)
			if !strings.Contains(dom, html.EscapeString(rec.Headline())) {
				t.Errorf("the verdict section lacks %q", rec.Headline())
			}
			tl := between(t, dom, `<ol class="timeline">`, `</ol>
  `)
			var order []string
			steps := map[string]string{}
			parts := strings.Split(tl, `<li data-step="`)[1:]
			for _, p := range parts {
				name, body, _ := strings.Cut(p, `"`)
				order = append(order, name)
				steps[name] = body[strings.Index(body, ">")+1:]
			}
			want := []string{"fired", "first-write", "objects", "fault", "handler", "end", "verdict"}
			if len(rec.Writes) == 0 {
				want = []string{"fired", "first-write", "fault", "handler", "end", "verdict"}
			}
			if strings.Join(order, " ") != strings.Join(want, " ") {
				t.Fatalf("timeline steps %v, want %v", order, want)
			}
			text := func(step string) string { return htmlText(steps[step]) }
			if rec.Fired == "at" {
				if !strings.Contains(text("fired"), fmt.Sprintf("--at %s: SP moved to %#x", rec.FiredAt, rec.FiredSP)) {
					t.Errorf("fired: %q", text("fired"))
				}
			} else if !strings.Contains(text("fired"), fmt.Sprintf("--stack %d: the initial SP lowered to %#x", rec.StackSize, rec.FiredSP)) {
				t.Errorf("fired: %q", text("fired"))
			}
			if len(rec.Writes) > 0 {
				w := rec.Writes[0]
				if !strings.Contains(text("first-write"), fmt.Sprintf("%#x in %s, by %s (PC %#x), SP %#x", w.Addr, w.Object, w.Where, w.PC, w.SP)) {
					t.Errorf("first write: %q, record %+v", text("first-write"), w)
				}
				objs := tableRows(steps["objects"])[1:]
				if len(objs) != len(rec.Corrupted) {
					t.Fatalf("%d objects shown, the record has %v", len(objs), rec.Corrupted)
				}
				for i, o := range rec.Corrupted {
					words, by := 0, ""
					for _, wr := range rec.Writes {
						if wr.Object == o {
							if words == 0 {
								by = wr.Where
							}
							words++
						}
					}
					if objs[i][0] != o || objs[i][1] != fmt.Sprint(words) || objs[i][2] != by {
						t.Errorf("object %d: %q, want %s %d %s", i, objs[i], o, words, by)
					}
				}
			}
			if f := rec.Fault; f != nil {
				ft := text("fault")
				if !strings.Contains(ft, fmt.Sprintf("%s: %s entered, SP %#x", f.Vector, f.Handler, f.SP)) {
					t.Errorf("fault: %q, record %+v", ft, f)
				}
				if f.Status != nil && (!strings.Contains(ft, fmt.Sprintf("CFSR %#08x, HFSR %#08x: %s", f.Status.CFSR, f.Status.HFSR, strings.Join(f.Status.Bits, " "))) || len(f.Status.Bits) == 0) {
					t.Errorf("fault status: %q, record %+v", ft, f.Status)
				}
			} else if !strings.Contains(text("fault"), "none") {
				t.Errorf("fault: %q, the record has none", text("fault"))
			}
			if text("handler") != "then: "+rec.Handler || text("end") != "end: "+rec.HandlerDetail {
				t.Errorf("handler %q end %q, record %q %q", text("handler"), text("end"), rec.Handler, rec.HandlerDetail)
			}
			if v := text("verdict"); v != "verdict: "+rec.Verdict+"; layout predicted "+rec.Predicted || rec.Predicted == "" {
				t.Errorf("verdict %q, record %q predicted %q", v, rec.Verdict, rec.Predicted)
			}
			if checkFnLinks(t, tl, rows) == 0 {
				t.Error("no function in the timeline is linked to its row")
			}
		})
	}
}

// TestReportRecordRefusals: a firmware run's record given for a Linux
// program, a Linux run's record given for firmware, and a run record given
// as an injection are refused in one line, exit 2, no page written; a
// firmware run's record of another build is warned about in one line, and
// refused with --strict.
func TestReportRecordRefusals(t *testing.T) {
	testutil.RequireTool(t, "qemu-system-arm")
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	fw := buildEmuFirmware(t, dir, "0x20000000")
	fwJSON := filepath.Join(dir, "fw-run.json")
	if code, _, errOut := capture(t, "run", "--format", "json", "-o", fwJSON, fw); code != 0 {
		t.Fatalf("run %s: exit %d\n%s", fw, code, errOut)
	}
	src := filepath.Join(dir, "prog.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	prog := filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-O1", "-o", prog, src)
	linuxJSON := filepath.Join(dir, "linux-run.json")
	if code, _, errOut := capture(t, "run", "--format", "json", "-o", linuxJSON, prog); code != 0 {
		t.Fatalf("run %s: exit %d\n%s", prog, code, errOut)
	}
	otherDir := filepath.Join(dir, "other")
	os.Mkdir(otherDir, 0o755)
	other := buildEmuFirmware(t, otherDir, "0x20000000", "EXIT_CODE=3")
	page := filepath.Join(dir, "page.html")
	oneLine := func(errOut string) bool {
		return strings.HasPrefix(errOut, "stackscope: ") && !strings.Contains(strings.TrimSuffix(errOut, "\n"), "\n")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--run", fwJSON, prog}, "a record of firmware run in the emulator, and " + prog + " is not firmware"},
		{[]string{"--run", linuxJSON, fw}, "a run record of a Linux program, and " + fw + " is firmware"},
		{[]string{"--inject", fwJSON, fw}, "a firmware run record (stackscope run --format json FIRMWARE.elf), not an injection record"},
		{[]string{"--inject", linuxJSON, fw}, "not an injection record"},
		{[]string{"--strict", "--run", fwJSON, other}, "it is a run of "},
	} {
		code, _, errOut := capture(t, append([]string{"report", "-o", page}, c.args...)...)
		if code != 2 || !oneLine(errOut) || !strings.Contains(errOut, c.want) {
			t.Errorf("report %v: exit %d, want 2 and one line with %q:\n%s", c.args, code, c.want, errOut)
		}
		if _, err := os.Stat(page); err == nil {
			t.Errorf("report %v: a page was written", c.args)
			os.Remove(page)
		}
	}
	// Without --strict, the record of another build is a one-line warning
	// and the page is made.
	code, _, errOut := capture(t, "report", "-o", page, "--run", fwJSON, other)
	if code > 1 || !strings.HasPrefix(errOut, "stackscope: warning: --run "+fwJSON+": it is a run of ") || strings.Count(errOut, "warning") != 1 {
		t.Errorf("another build: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(page); err != nil {
		t.Errorf("another build: no page: %v", err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
