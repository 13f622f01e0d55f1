package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// oldSizeForms are the size spellings the text outputs used before there
// was one style (size.Format): "69,672 bytes", "1-11 KB", "8192K=ok", a
// "16384-byte" limit. Matched after a digit, so prose ("its low bytes")
// is not a size.
var oldSizeForms = regexp.MustCompile(`\d ?bytes\b|\d ?KB\b|\dK\b|\dK=|\d-bytes?\b`)

// bigBytes is a size written in bytes; at 10 KiB and above the one style
// is KiB/MiB/GiB with one decimal.
var bigBytes = regexp.MustCompile(`\b(\d{1,3}(?:,\d{3})+) B\b`)

// TestOneSizeStyle runs analyze, layout, diff, run and minstack on the
// example firmware and on C programs compiled here, and fails on any size
// in an old form, or (but in minstack, whose exact figures are on
// purpose) on a size of 10 KiB or more written in bytes.
func TestOneSizeStyle(t *testing.T) {
	fw := "../../examples/firmware/firmware.elf"
	prog := buildC(t, "testdata/outerr.c", "-O0")
	crash := buildC(t, "testdata/overflow.c", "-O0")
	recurse := buildC(t, "../../internal/inject/testdata/recurse.c", "-O0")
	for _, c := range []struct {
		args  []string
		exact bool // exact bytes are written on purpose
	}{
		{[]string{"analyze", fw}, false},
		{[]string{"analyze", "--budget", "16", fw}, false},
		{[]string{"layout", fw}, false},
		{[]string{"diff", fw, fw}, false},
		{[]string{"analyze", crash}, false},
		{[]string{"run", "--", prog}, false},
		{[]string{"run", "--", crash}, false},
		{[]string{"minstack", "--limit", "2M", "--", recurse, "1300"}, true},
	} {
		_, out, errOut := capture(t, c.args...)
		text := out + errOut
		if strings.TrimSpace(text) == "" {
			t.Errorf("%v: no text output", c.args)
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if m := oldSizeForms.FindString(line); m != "" {
				t.Errorf("%v: %q in an old size form: %s", c.args, m, line)
			}
			if c.exact {
				continue
			}
			for _, m := range bigBytes.FindAllStringSubmatch(line, -1) {
				if n, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64); n >= 10<<10 {
					t.Errorf("%v: %q is 10 KiB or more, written in bytes: %s", c.args, m[0], line)
				}
			}
		}
	}
}
