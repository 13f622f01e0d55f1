package binfile

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// dynStringTags are the tags DynString reads.
var dynStringTags = []elf.DynTag{elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH}

// checkDynStrings opens path and checks that dynString reads from the
// mapped file what debug/elf's DynString reads, tag by tag, and returns
// what it read.
func checkDynStrings(t *testing.T, path string) map[elf.DynTag][]string {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.mapped == nil {
		t.Fatalf("%s not mapped: dynString would only call debug/elf", path)
	}
	got := map[elf.DynTag][]string{}
	for _, tag := range dynStringTags {
		vals, err := f.dynString(tag)
		want, wantErr := f.ELF.DynString(tag)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(vals, want) {
			t.Fatalf("%s, %v: %q, %v; debug/elf: %q, %v", path, tag, vals, err, want, wantErr)
		}
		got[tag] = vals
	}
	return got
}

// TestDynStringMatchesDebugELF: on real files (node's 5 MB .dynstr
// among them) the dynamic section's strings are debug/elf's.
func TestDynStringMatchesDebugELF(t *testing.T) {
	for _, path := range []string{
		"/usr/bin/node",
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
		"/usr/bin/true",
		"../../examples/firmware/firmware.elf", // no dynamic section
	} {
		t.Run(path, func(t *testing.T) {
			if _, err := os.Stat(path); err != nil {
				t.Skip(err)
			}
			checkDynStrings(t, path)
		})
	}
}

// TestDynStringOfBuiltLibraries: libraries built here with each of the
// four tags (DT_RPATH and DT_RUNPATH are made by different linker
// options), read as debug/elf reads them.
func TestDynStringOfBuiltLibraries(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.c"), []byte("int f(int x) { return x + 1; }\n"), 0o644)
	for _, c := range []struct {
		dtags string
		tag   elf.DynTag
	}{{"--enable-new-dtags", elf.DT_RUNPATH}, {"--disable-new-dtags", elf.DT_RPATH}} {
		out := filepath.Join(dir, "lib"+c.tag.String()+".so")
		testutil.Run(t, dir, gcc, "-shared", "-fPIC", "-Wl,-soname,libx.so.1", "-Wl,"+c.dtags, "-Wl,-rpath,/opt/a:/opt/b", "-o", out, "lib.c", "-Wl,--no-as-needed", "-lm")
		got := checkDynStrings(t, out)
		if !reflect.DeepEqual(got[c.tag], []string{"/opt/a:/opt/b"}) || !reflect.DeepEqual(got[elf.DT_SONAME], []string{"libx.so.1"}) || len(got[elf.DT_NEEDED]) == 0 {
			t.Errorf("%s: read %q", c.dtags, got)
		}
	}
}

// TestDynStringsAsDebugELF: an entry whose string starts outside the
// table or has no end in it is left out, as debug/elf's getString does,
// for both classes; a dynamic section of a partial entry is an error.
func TestDynStringsAsDebugELF(t *testing.T) {
	str := []byte("\x00libx.so\x00tail")
	entries := [][2]uint64{{uint64(elf.DT_NEEDED), 1}, {uint64(elf.DT_NEEDED), 9}, {uint64(elf.DT_NEEDED), 99}, {uint64(elf.DT_SONAME), 0}, {uint64(elf.DT_NEEDED), 0}}
	for _, class := range []elf.Class{elf.ELFCLASS32, elf.ELFCLASS64} {
		var d []byte
		for _, e := range entries {
			if class == elf.ELFCLASS64 {
				d = binary.LittleEndian.AppendUint64(d, e[0])
				d = binary.LittleEndian.AppendUint64(d, e[1])
			} else {
				d = binary.LittleEndian.AppendUint32(d, uint32(e[0]))
				d = binary.LittleEndian.AppendUint32(d, uint32(e[1]))
			}
		}
		got, err := dynStrings(class, binary.LittleEndian, d, str, elf.DT_NEEDED)
		if err != nil || !reflect.DeepEqual(got, []string{"libx.so", ""}) {
			t.Errorf("%v: %q, %v", class, got, err)
		}
		if _, err := dynStrings(class, binary.LittleEndian, d[:len(d)-1], str, elf.DT_NEEDED); err == nil {
			t.Errorf("%v: a partial entry read without an error", class)
		}
	}
}
