package size

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string // a part of the error; "" when it parses
	}{
		{"4096", 4096, ""},
		{"4096B", 4096, ""},
		{"4096 b", 4096, ""},
		{"4K", 4096, ""},
		{"4k", 4096, ""},
		{"4KiB", 4096, ""},
		{"4kib", 4096, ""},
		{"4KIB", 4096, ""},
		{" 64 KiB ", 65536, ""},
		{"1M", 1 << 20, ""},
		{"8MiB", 8 << 20, ""},
		{"2G", 2 << 30, ""},
		{"2gib", 2 << 30, ""},
		{"0", 0, ""},
		{"0K", 0, ""},
		// Fractions: defined when they make whole bytes, refused when not.
		{"1.5M", 1572864, ""},
		{"0.5K", 512, ""},
		{"1.25k", 1280, ""},
		{"1.0", 1, ""},
		{"1.3K", 0, "whole number of bytes"},
		{"1.5", 0, "whole number of bytes"},
		{"4KB", 0, "ambiguous"},
		{"10kb", 0, "ambiguous"},
		{"1MB", 0, "ambiguous"},
		{"-1", 0, "negative"},
		{"-4K", 0, "negative"},
		{"", 0, "empty"},
		{"K", 0, "not a size"},
		{".5K", 0, "not a size"},
		{"4.K", 0, "not a size"},
		{"4T", 0, "not a size"},
		{"0x1000", 0, "not a size"},
		{"4 K B", 0, "not a size"},
		{"1e3", 0, "not a size"},
		{"+4K", 0, "not a size"},
		{"9223372036854775807", 9223372036854775807, ""},
		{"9223372036854775808", 0, "too large"},
		{"8G8", 0, "not a size"},
		{"9000000000G", 0, "too large"},
		{"99999999999999999999999999999999", 0, "too large"},
	} {
		got, err := Parse(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Parse(%q) = %d, %v; want an error about %q", c.in, got, err, c.err)
		case err != nil && !strings.Contains(err.Error(), `"`+c.in+`"`):
			t.Errorf("Parse(%q): error %q does not name the text", c.in, err)
		}
	}
}

// TestFlag: a size flag parses through Parse, refuses 0 when given, and
// carries the annotation the command test walks for.
func TestFlag(t *testing.T) {
	f := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var n int64
	Var(f, &n, "budget", "b")
	if err := f.Parse([]string{"--budget", "4KiB"}); err != nil || n != 4096 {
		t.Fatalf("--budget 4KiB: %d, %v", n, err)
	}
	var se *Error
	if err := f.Set("budget", "0"); !errors.As(err, &se) || n != 4096 {
		t.Errorf("--budget 0: %v (value now %d); want refused", err, n)
	}
	if a := f.Lookup("budget").Annotations[Annotation]; len(a) != 1 {
		t.Errorf("annotations %v", f.Lookup("budget").Annotations)
	}
}

// The one text style: exact bytes below 10 KiB, one decimal (rounded up,
// never below the real size) above, the next unit when a size rounds up
// to 1024 of one.
// TestFormatCapacity: a capacity is rounded down where a need is rounded up.
func TestFormatCapacity(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{9999, "9,999 B"}, {10240, "10.0 KiB"}, {65560, "64.0 KiB"}, {61312, "59.8 KiB"}, {1<<20 - 1, "1,023.9 KiB"}} {
		if got := FormatCapacity(c.n); got != c.want {
			t.Errorf("FormatCapacity(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	if Format(65560) != "64.1 KiB" {
		t.Errorf("Format(65560) = %q, want the need rounded up, 64.1 KiB", Format(65560))
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{999, "999 B"},
		{3040, "3,040 B"},
		{9999, "9,999 B"},
		{10239, "10,239 B"},
		{10240, "10.0 KiB"},
		{10241, "10.1 KiB"},  // rounded up: never below the real size
		{65560, "64.1 KiB"},  // 64.02 KiB: not "64.0", which a 64 KiB stack would seem to hold
		{79257, "77.4 KiB"},  // 77.3994 KiB rounds up to 77.4
		{79258, "77.5 KiB"},  // 77.4004 KiB: up, not to the nearest
		{1048575, "1.0 MiB"}, // 1023.999 KiB rounds up into MiB, not "1024.0 KiB"
		{1048576, "1.0 MiB"},
		{1887437, "1.9 MiB"}, // 1.80000019 MiB rounds up
		{1887436, "1.8 MiB"}, // exactly 1.8 MiB
		{8 << 20, "8.0 MiB"},
		{3 << 30, "3.0 GiB"},
		{5 << 40, "5.0 TiB"},
		{-312, "-312 B"},
		{-(8 << 20), "-8.0 MiB"},
		{math.MaxInt64, "8.0 EiB"},
		{math.MinInt64, "-8.0 EiB"},
	} {
		if got := Format(c.in); got != c.want {
			t.Errorf("Format(%d) = %q; want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   int64
		want string
	}{
		{1355776, "1,324 KiB"},
		{8 << 20, "8,192 KiB"},
		{4096, "4 KiB"},
		{1355777, "1,355,777 B"},
	} {
		if got := FormatKiB(c.in); got != c.want {
			t.Errorf("FormatKiB(%d) = %q; want %q", c.in, got, c.want)
		}
	}
}

// TestFormatFastIsExact: format's 64-bit path gives formatBig's text
// (exact arithmetic of any size) at every boundary of every unit, around
// it, and at random sizes, rounded up and down.
func TestFormatFastIsExact(t *testing.T) {
	var ns []int64
	for shift := 10; shift <= 62; shift++ {
		for _, m := range []int64{1, 10, 10239, 10240} {
			base := m << (shift - 10)
			for d := int64(-3); d <= 3; d++ {
				if n := base + d; n >= 10<<10 && n <= math.MaxInt64/10 {
					ns = append(ns, n)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		ns = append(ns, 10<<10+r.Int64N(math.MaxInt64/10-10<<10))
		ns = append(ns, 10<<10+r.Int64N(1<<40))
	}
	for _, n := range ns {
		for _, up := range []bool{true, false} {
			if got, want := format(n, up), formatBig(n, up); got != want {
				t.Fatalf("format(%d, %v) = %q, exact arithmetic says %q", n, up, got, want)
			}
		}
	}
}
