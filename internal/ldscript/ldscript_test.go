package ldscript

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// ldRegion is a row of the "Memory Configuration" table GNU ld writes into
// its map file: the reference every parsed script is compared with.
type ldRegion struct {
	name           string
	origin, length uint64
	attrs          string // ld's spelling, e.g. "xrw" or "rw!x"
}

// ldMemory links a one-object program with the script and reads the
// regions back from the map file arm-none-eabi-ld writes.
func ldMemory(t *testing.T, script string) []ldRegion {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	ld := testutil.RequireTool(t, "arm-none-eabi-ld")
	dir := t.TempDir()
	src := filepath.Join(dir, "a.c")
	os.WriteFile(src, []byte("int x = 1;\nvoid Reset_Handler(void) {}\n"), 0o644)
	testutil.Run(t, dir, cc, "-c", "-mthumb", "-mcpu=cortex-m3", "-o", "a.o", src)
	testutil.Run(t, dir, ld, "-T", script, "a.o", "-o", "a.elf", "-Map", "a.map")
	data, err := os.ReadFile(filepath.Join(dir, "a.map"))
	if err != nil {
		t.Fatal(err)
	}
	var out []ldRegion
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Name ") && strings.Contains(line, "Origin"):
			in = true
		case !in || len(f) == 0:
		case f[0] == "*default*":
			return out
		case len(f) >= 3:
			o, err1 := strconv.ParseUint(f[1], 0, 64)
			l, err2 := strconv.ParseUint(f[2], 0, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("map line %q", line)
			}
			r := ldRegion{name: f[0], origin: o, length: l}
			if len(f) > 3 {
				r.attrs = f[3]
			}
			out = append(out, r)
		}
	}
	t.Fatalf("no Memory Configuration in the map file:\n%s", data)
	return nil
}

// attrSets reduces attributes to what ld keeps: the set of letters, and
// the set after '!', with i and l one flag (ld prints it as l).
func attrSets(s string) string {
	var pos, neg []string
	negated := false
	for _, c := range strings.ToLower(s) {
		if c == '!' {
			negated = true
			continue
		}
		if c == 'i' {
			c = 'l'
		}
		if negated {
			neg = append(neg, string(c))
		} else {
			pos = append(pos, string(c))
		}
	}
	set := func(s []string) string {
		sort.Strings(s)
		var out []string
		for i, x := range s {
			if i == 0 || s[i-1] != x {
				out = append(out, x)
			}
		}
		return strings.Join(out, "")
	}
	return set(pos) + "!" + set(neg)
}

// TestAgainstLD: every script in testdata gives exactly the regions GNU ld
// reports for it: names, origins, lengths and attributes, in order.
func TestAgainstLD(t *testing.T) {
	scripts, _ := filepath.Glob("testdata/*.ld")
	if len(scripts) < 5 {
		t.Fatalf("testdata has %d scripts", len(scripts))
	}
	for _, script := range scripts {
		t.Run(filepath.Base(script), func(t *testing.T) {
			abs, _ := filepath.Abs(script)
			want := ldMemory(t, abs)
			got, err := ParseFile(script)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d regions %+v, ld has %d %+v", len(got), got, len(want), want)
			}
			for i, w := range want {
				g := got[i]
				if g.Name != w.name || g.Origin != w.origin || g.Length != w.length || attrSets(g.Attributes) != attrSets(w.attrs) {
					t.Errorf("region %d: %s %#x %#x %q; ld: %s %#x %#x %q", i, g.Name, g.Origin, g.Length, g.Attributes, w.name, w.origin, w.length, w.attrs)
				}
			}
		})
	}
}

// TestErrors: what the parser does not understand is one error naming the
// file and the line, never a guess.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		problem   string
	}{
		{"no memory", "SECTIONS { .text : { *(.text) } }\n", 0, "no MEMORY block"},
		{"include", "INCLUDE board_mem.ld\nSECTIONS { }\n", 0, "INCLUDEs board_mem.ld"},
		{"unknown suffix", "MEMORY {\n RAM (rw) : ORIGIN = 0x20000000, LENGTH = 4G\n}\n", 2, "number 4G not understood"},
		{"bad octal", "MEMORY {\n RAM : ORIGIN = 09, LENGTH = 1K\n}\n", 2, "number 09 not understood"},
		{"bad attribute", "MEMORY {\n\n RAM (rwz) : ORIGIN = 0, LENGTH = 1K\n}\n", 3, "attribute 'z' not understood"},
		{"ORG", "MEMORY {\n RAM : ORG = 0, LENGTH = 1K\n}\n", 2, `"ORG" where ORIGIN belongs`},
		{"no colon", "MEMORY {\n RAM (rw) ORIGIN = 0, LENGTH = 1K\n}\n", 2, "where a ':' belongs"},
		{"no length", "MEMORY {\n RAM : ORIGIN = 0\n}\n", 3, `"}" where LENGTH belongs`},
		{"unclosed", "MEMORY {\n RAM : ORIGIN = 0, LENGTH = 1K\n", 3, "not closed with }"},
		{"comment", "MEMORY {\n /* RAM : ORIGIN = 0, LENGTH = 1K\n}\n", 2, "comment /* is never closed"},
		{"undefined symbol", "MEMORY {\n RAM : ORIGIN = __ram_base, LENGTH = 1K\n}\n", 2, "symbol __ram_base is not assigned"},
		{"later region", "MEMORY {\n A : ORIGIN = ORIGIN(B), LENGTH = 1K\n B : ORIGIN = 0, LENGTH = 1K\n}\n", 2, "no region B is declared before"},
		{"twice", "MEMORY {\n RAM : ORIGIN = 0, LENGTH = 1K\n RAM : ORIGIN = 4K, LENGTH = 1K\n}\n", 3, "declared twice (first at line 2)"},
		{"ternary", "SIZE = DEFINED(X) ? X : 1K;\nMEMORY {\n RAM : ORIGIN = 0, LENGTH = SIZE\n}\n", 3, "symbol SIZE (line 1) is not followed: DEFINED(...) is not understood"},
		{"assigned twice", "S = 1K;\nS = 2K;\nMEMORY {\n RAM : ORIGIN = 0, LENGTH = S\n}\n", 4, "assigned more than once (lines 1 and 2)"},
		{"compound", "S = 1K;\nS += 1K;\nMEMORY {\n RAM : ORIGIN = 0, LENGTH = S\n}\n", 4, "assigned more than once"},
		{"cycle", "A = B;\nB = A + 1;\nMEMORY {\n RAM : ORIGIN = 0, LENGTH = A\n}\n", 2, "symbol A: its assignment refers back to itself"},
		{"shift", "MEMORY {\n RAM : ORIGIN = 1 << 29, LENGTH = 1K\n}\n", 2, `"<" in the ORIGIN expression is not understood`},
		{"negative", "MEMORY {\n RAM : ORIGIN = 0x100 - 0x200, LENGTH = 1K\n}\n", 2, "outside 0 to 2^64-1"},
		{"division by zero", "MEMORY {\n RAM : ORIGIN = 1 / (2 - 2), LENGTH = 1K\n}\n", 2, "division by zero"},
		{"wraps", "MEMORY {\n RAM : ORIGIN = 0xffffffffffffff00, LENGTH = 1K\n}\n", 2, "past the end of a 64-bit address space"},
		{"include inside", "MEMORY {\n INCLUDE more.ld\n}\n", 2, "INCLUDE inside MEMORY is not followed"},
		{"junk", "MEMORY {\n RAM : ORIGIN = 0, LENGTH = 1K;\n}\n", 2, `";" in the LENGTH expression is not understood`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			regions, err := Parse("board.ld", []byte(c.src))
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("got %+v, %v; want an error", regions, err)
			}
			want := "board.ld: "
			if c.line > 0 {
				want = fmt.Sprintf("board.ld:%d: ", c.line)
			}
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.problem) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want %q...%q on one line", err, want, c.problem)
			}
		})
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "none.ld")); err == nil || !strings.HasSuffix(err.Error(), "none.ld: no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWritable(t *testing.T) {
	cases := map[string]Writability{
		"": WritableUnknown, "rwx": Writable, "xrw": Writable, "rw!x": Writable, "rx": NotWritable,
		"r": NotWritable, "x!w": NotWritable, "!rx": WritableUnknown, "a": WritableUnknown, "rxa": WritableUnknown, "!w": WritableUnknown,
	}
	for attrs, want := range cases {
		if got := (Region{Attributes: attrs}).Writable(); got != want {
			t.Errorf("(%s): %v, want %v", attrs, got, want)
		}
	}
}

func TestEvalNumber(t *testing.T) {
	for expr, want := range map[string]uint64{"4M": 4 << 20, "0x20000000": 0x20000000, "256K - 8K": 248 << 10, "010": 8, "(2+3)*1k": 5 << 10, "7 % 4": 3} {
		if got, err := EvalNumber(expr); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", expr, got, err, want)
		}
	}
	for _, bad := range []string{"", "4Q", "RAM", "ORIGIN(RAM)", "1 2", "-1", "1/0"} {
		if v, err := EvalNumber(bad); err == nil || strings.Contains(err.Error(), ":1:") {
			t.Errorf("%q: %d, %v; want an error without a position", bad, v, err)
		}
	}
}
