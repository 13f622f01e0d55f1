package binfile

import (
	"regexp"
	"testing"
)

// TestColdSuffixMatchesRegexp: coldSuffix finds the suffix the regular
// expression it replaces finds, at the same place, on the names of this
// table (FuzzColdSuffix goes on from its own seeds).
func TestColdSuffixMatchesRegexp(t *testing.T) {
	names := []string{"", "f", "f.cold", "f.cold.1", "f.cold.12", ".cold", ".cold.0", "f.cold.", "f.cold.x",
		"f.cold1", "f.cold.1.cold", "f.cold.cold", "f.cold.1.2", "f.part.0.cold", "f.colder", "fcold", "f..cold.3",
		"_ZN2v88internal4Heap7CollectEv.cold", "f.cold.١"}
	for _, n := range names {
		checkColdSuffix(t, n)
	}
}

func FuzzColdSuffix(f *testing.F) {
	for _, n := range []string{"f.cold", "f.cold.17", "f.cold.", "f.cold.1.cold.2", "x.cold٣"} {
		f.Add(n)
	}
	f.Fuzz(checkColdSuffix)
}

var coldSuffixRegexp = regexp.MustCompile(`\.cold(\.\d+)?$`)

func checkColdSuffix(t *testing.T, name string) {
	want := -1
	if m := coldSuffixRegexp.FindStringIndex(name); m != nil {
		want = m[0]
	}
	if got := coldSuffix(name); got != want {
		t.Errorf("coldSuffix(%q) = %d, the regular expression says %d", name, got, want)
	}
}
