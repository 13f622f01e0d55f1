// Package scripts holds no code: its test checks scripts/asan-kind.sh, the
// AddressSanitizer classifier that the Juliet comparison scripts share, on
// the reports of real ASan builds.
package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// asanCases are tiny C programs, one per ASan report kind that the
// comparison must recognise, and the "KIND CLASS" line the classifier must
// print for their stderr. The caught signals (SEGV, BUS, FPE, ILL) are in
// upper case: a classifier that reads them as "no report" undercounts ASan.
var asanCases = []struct {
	name    string
	options string // added to ASAN_OPTIONS
	src     string
	want    string
}{
	{"stack-buffer-overflow", "", `
int main(void) { char a[8]; volatile int i = 8; a[i] = 1; return a[0]; }`,
		"stack-buffer-overflow stack-buffer-overrun"},
	{"stack-buffer-underflow", "", `
volatile int i = -1; /* a global, so that a is the frame's first variable */
int main(void) { char a[8]; a[i] = 1; return a[0]; }`,
		"stack-buffer-underflow stack-buffer-overrun"},
	{"dynamic-stack-buffer-overflow", "", `
#include <alloca.h>
int main(void) { volatile int n = 16; char *p = alloca(n); p[n] = 1; return p[0]; }`,
		"dynamic-stack-buffer-overflow stack-buffer-overrun"},
	{"stack-overflow", "", `
int down(volatile int n) { volatile char pad[256]; pad[0] = (char)n; return down(n + 1) + pad[0]; }
int main(void) { return down(0); }`,
		"stack-overflow stack-overflow"},
	{"SEGV", "", `
int main(void) { volatile int *p = 0; return *p; }`,
		"SEGV other"},
	{"BUS", "", `
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void) {
	FILE *f = tmpfile();
	ftruncate(fileno(f), 4096);
	volatile char *p = mmap(0, 4096, PROT_READ, MAP_SHARED, fileno(f), 0);
	ftruncate(fileno(f), 0); /* the page is past the file's end now */
	return p[0];
}`,
		"BUS other"},
	{"FPE", "", `
int main(void) { volatile int n = 7, z = 0; return n / z; }`,
		"FPE other"},
	{"ILL", "handle_sigill=1", `
int main(void) { __builtin_trap(); }`,
		"ILL other"},
	{"ABRT", "handle_abort=1", `
#include <stdlib.h>
int main(void) { abort(); }`,
		"ABRT other"},
	{"memcpy-param-overlap", "", `
#include <string.h>
int main(void) {
	char b[32] = "abcdefghijklmnop";
	volatile size_t n = 16; /* not a constant: GCC would inline the copy */
	memcpy(b + 1, b, n);
	return b[3];
}`,
		"memcpy-param-overlap other"},
	// The ERROR line says "attempting double-free": the kind is the
	// SUMMARY's, not the ERROR line's first word.
	{"double-free", "", `
#include <stdlib.h>
int main(void) { char *volatile p = malloc(8); free(p); free(p); return 0; }`,
		"double-free other"},
	{"heap-buffer-overflow", "", `
#include <stdlib.h>
int main(void) { volatile int i = 8; char *p = malloc(8); p[i] = 1; return p[0]; }`,
		"heap-buffer-overflow other"},
	{"stack-use-after-scope", "", `
int main(void) {
	volatile char *p;
	{ char a[8]; p = a; }
	p[0] = 1;
	return 0;
}`,
		"stack-use-after-scope other"},
	// A crash ASan does not handle by default is no ASan report.
	{"abort-unhandled", "", `
#include <stdlib.h>
int main(void) { abort(); }`,
		"none none"},
	{"clean", "", `
#include <stdio.h>
int main(void) { fprintf(stderr, "ERROR: nothing wrong\n"); return 0; }`,
		"none none"},
}

var summaryLine = regexp.MustCompile(`(?m)^SUMMARY: AddressSanitizer: .*\n`)

func TestASanKind(t *testing.T) {
	cc := testutil.RequireTool(t, "gcc")
	testutil.RequireTool(t, "awk")
	script, err := filepath.Abs("asan-kind.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range asanCases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(dir, c.name+".c")
			bin := filepath.Join(dir, c.name)
			if err := os.WriteFile(src, []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			testutil.Run(t, dir, cc, "-O0", "-g", "-w", "-fsanitize=address", "-o", bin, src)
			stderr := runASan(t, bin, c.options)
			if got := classify(t, script, stderr); got != c.want {
				t.Errorf("asan-kind.sh says %q, want %q; the program's stderr:\n%s", got, c.want, stderr)
			}
			// A report cut short before its SUMMARY still names the kind on
			// the ERROR line, except where that line's first word is not the
			// kind (double-free's "attempting").
			if !strings.HasPrefix(c.want, "none") && c.name != "double-free" {
				cut := summaryLine.ReplaceAll(stderr, nil)
				if bytes.Equal(cut, stderr) {
					t.Fatalf("no SUMMARY line in the report:\n%s", stderr)
				}
				if got := classify(t, script, cut); got != c.want {
					t.Errorf("without the SUMMARY line, asan-kind.sh says %q, want %q", got, c.want)
				}
			}
		})
	}
}

// runASan runs an ASan build and returns its stderr. Every case but the
// clean one must end with a non-zero status (ASan exits 1 after a report).
func runASan(t *testing.T, bin, options string) []byte {
	t.Helper()
	cmd := exec.Command(bin)
	opts := "detect_leaks=0"
	if options != "" {
		opts += ":" + options
	}
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS="+opts)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", bin, err)
	}
	clean := strings.HasSuffix(bin, "clean")
	if clean != (err == nil) {
		t.Fatalf("%s: ended with %v; stderr:\n%s", bin, err, stderr.Bytes())
	}
	return stderr.Bytes()
}

func classify(t *testing.T, script string, stderr []byte) string {
	t.Helper()
	cmd := exec.Command("sh", script)
	cmd.Stdin = bytes.NewReader(stderr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("asan-kind.sh: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}
