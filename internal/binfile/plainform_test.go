package binfile

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMayDemanglePlainAsTrimmed: mayDemanglePlain, with its trims
// written as loops, says what it said with strings.TrimLeft and
// strings.Trim, on node's and libstdc++'s link names and on names of
// every shape loneIdentifier cuts.
func TestMayDemanglePlainAsTrimmed(t *testing.T) {
	names := append([]string(nil), plainFormCases...)
	for _, path := range []string{"/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/node"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Functions {
			names = append(names, f.Functions[i].LinkName)
		}
		f.Close()
	}
	for _, n := range names {
		if got, want := mayDemanglePlain(n), mayDemanglePlainTrimmed(n); got != want {
			t.Errorf("mayDemanglePlain(%q) = %v, want %v", n, got, want)
		}
	}
}

var plainFormCases = []string{
	"", "_Z", "_Z3foo", "_Z3foov", "_ZN3fooE", "_ZNK3fooE", "_ZL3foo", "_ZNVKrRO3foo", "_ZNLHKVrROx",
	"_Z3foo17h0123456789abcdefE", "_ZN3foo17h0123456789abcdefE", "_Zv1xy", "_Zv", "_Zdt", "_Zd",
	"_Z0foo", "_Z99foo", "_Z3fo", "_Z3foo_n12E", "_Z3foo_n12Ex", "_R", "_RC", "_R12C3foo", "_R12x",
	"__Z3foo", "__Zx", "_Z3foo@plt", "_ZW3modfoo", "_ZWP3mod", "_ZN$SP$E", "plain", "_Z18446744073709551616x",
}

func FuzzMayDemanglePlainAsTrimmed(f *testing.F) {
	for _, n := range plainFormCases {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := mayDemanglePlain(n), mayDemanglePlainTrimmed(n); got != want {
			t.Errorf("mayDemanglePlain(%q) = %v, want %v", n, got, want)
		}
	})
}

// mayDemanglePlainTrimmed, loneIdentifierTrimmed and
// cutSourceNameTrimmed are mayDemanglePlain, loneIdentifier and
// cutSourceName as they were, with strings.TrimLeft and strings.Trim.
func mayDemanglePlainTrimmed(link string) bool {
	if moduleAttached(link) || strings.Contains(link, "$SP$") || strings.Contains(link, "@") {
		return true // an '@' of the demangled name (Rust's legacy symbols write it $SP$)
	}
	rest, ok := strings.CutPrefix(link, "_R")
	if ok {
		rest = strings.TrimLeft(rest, "0123456789")
		return strings.HasPrefix(rest, "C")
	}
	rest, ok = strings.CutPrefix(link, "_Z")
	if !ok {
		rest, ok = strings.CutPrefix(link, "__Z")
	}
	return ok && loneIdentifierTrimmed(rest)
}

func loneIdentifierTrimmed(s string) bool {
	s = strings.TrimLeft(s, "NLHKVrRO") // nesting, linkage, qualifiers
	if len(s) > 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9' {
		s = s[2:] // a vendor's operator: "operator" and its name
	}
	_, tail, ok := cutSourceNameTrimmed(s)
	if !ok {
		if len(s) < 2 {
			return false
		}
		tail = s[2:] // an operator's code: "dt" is "operator."
	}
	if hash, rest, ok := cutSourceNameTrimmed(tail); ok && len(hash) == 17 && hash[0] == 'h' {
		tail = rest
	}
	return strings.Trim(tail, "0123456789_nE") == ""
}

func cutSourceNameTrimmed(s string) (id, rest string, ok bool) {
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return "", s, false
	}
	n, err := strconv.Atoi(s[:digits])
	if err != nil || n <= 0 || digits+n > len(s) {
		return "", s, false
	}
	return s[digits : digits+n], s[digits+n:], true
}
