package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stackscope/stackscope/internal/testutil"
)

// sarifSchema compiles the OASIS SARIF 2.1.0 JSON schema (errata 01), as
// the go-sarif module ships it (the test reads it from the module cache:
// the schema is not copied into this repository).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg", "report", "v210", "sarif", "schema.go"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	i := strings.Index(text, "`")
	j := strings.LastIndex(text, "`")
	if i < 0 || j <= i {
		t.Fatal("no schema text in go-sarif's schema.go")
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text[i+1 : j]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text[i:j], "2.1.0") {
		t.Fatal("go-sarif's schema is not SARIF 2.1.0")
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// checkSARIF validates a log against the schema with two validators (an
// independent one, and go-sarif's own) and returns it decoded.
func checkSARIF(t *testing.T, sch *jsonschema.Schema, out string) *gosarif.Report {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("not JSON: %v\n%.400s", err, out)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	rep, err := gosarif.FromString(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Fatalf("go-sarif rejects the log: %v", err)
	}
	if rep.Version != "2.1.0" || len(rep.Runs) != 1 {
		t.Fatalf("version %q, %d runs", rep.Version, len(rep.Runs))
	}
	return rep
}

type sarifFinding struct {
	rule, level, text, file string
	line                    int
}

func findings(rep *gosarif.Report) []sarifFinding {
	var out []sarifFinding
	for _, r := range rep.Runs[0].Results {
		f := sarifFinding{rule: *r.RuleID, level: r.Level, text: *r.Message.Text}
		if len(r.Locations) > 0 && r.Locations[0].PhysicalLocation != nil {
			pl := r.Locations[0].PhysicalLocation
			if pl.ArtifactLocation != nil && pl.ArtifactLocation.URI != nil {
				f.file = *pl.ArtifactLocation.URI
			}
			if pl.Region != nil && pl.Region.StartLine != nil {
				f.line = *pl.Region.StartLine
			}
		}
		out = append(out, f)
	}
	return out
}

// TestAnalyzeSARIF: a program with an entry over budget, an entry whose
// recursion keeps it unbounded, and a clone() child whose stack is too
// small; the log validates, names each finding under its rule, and points
// at the source line; the exit status is still 1.
func TestAnalyzeSARIF(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	sch := sarifSchema(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	os.WriteFile(src, []byte(`#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) int big(int x) { volatile char b[4000]; b[x % 4000] = 1; return b[0]; }
__attribute__((noinline)) int rec(int n) {
	volatile char b[64]; b[n & 63] = 1;
	return n <= 0 ? 0 : rec(n - 1) + b[0];
}
__attribute__((noinline)) int child(void *arg) { (void)arg; return big(3); }
int main(int argc, char **argv) {
	(void)argv;
	char *stack = malloc(1024);
	clone(child, stack + 1024, CLONE_VM, 0);
	return big(argc) + rec(argc);
}
`), 0o644)
	bin := filepath.Join(dir, "prog")
	testutil.Run(t, dir, gcc, "-O1", "-g", "-Wl,-z,now", "-o", bin, src)
	code, out, errOut := capture(t, "analyze", "--format", "sarif", "--no-libraries", "--budget", "2000",
		"--entry", "big", "--entry", "rec", bin)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (findings); stderr %s", code, errOut)
	}
	rep := checkSARIF(t, sch, out)
	if n := len(rep.Runs[0].Tool.Driver.Rules); n < 9 {
		t.Errorf("%d rules, want every rule described", n)
	}
	got := map[string]sarifFinding{}
	for _, f := range findings(rep) {
		got[f.rule+":"+strings.Fields(f.text)[0]] = f
		if f.rule == "SS004" {
			got["SS004"] = f
		}
	}
	if f, ok := got["SS001:big:"]; !ok || f.level != "error" || !strings.HasSuffix(f.file, "prog.c") || f.line != 5 {
		t.Errorf("budget finding for big: %+v (all: %v)", f, got)
	}
	if f, ok := got["SS002:rec"]; !ok || f.level != "warning" || !strings.Contains(f.text, "recursion") || f.line != 8 {
		t.Errorf("unbounded finding for rec at prog.c:8: %+v (all: %v)", f, got)
	}
	if f, ok := got["SS004"]; !ok || !strings.Contains(f.text, "child") || f.line != 14 {
		t.Errorf("thread finding for child at prog.c:14: %+v (all: %v)", f, got)
	}
}

// TestLayoutSARIF: the example firmware's unsafe placement and its endless
// fault handlers are results under their rules, and the log validates.
func TestLayoutSARIF(t *testing.T) {
	sch := sarifSchema(t)
	code, out, errOut := capture(t, "layout", "--format", "sarif", "../../examples/firmware/firmware.elf")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (unsafe); stderr %s", code, errOut)
	}
	rep := checkSARIF(t, sch, out)
	rules := map[string]int{}
	for _, f := range findings(rep) {
		rules[f.rule]++
		if f.rule == "SS103" && (!strings.HasPrefix(f.file, "file:///") || !strings.HasSuffix(f.file, ".c") || f.line == 0) {
			t.Errorf("endless loop not at a source line: %+v", f)
		}
	}
	if rules["SS101"] != 1 || rules["SS103"] == 0 {
		t.Errorf("rules %v, want one SS101 (unsafe placement) and SS103 (endless loop)", rules)
	}
}
