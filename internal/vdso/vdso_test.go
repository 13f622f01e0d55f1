package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestRunning: on Linux the running kernel's vDSO is read from this
// process: the auxiliary vector and the maps agree on where it is, the
// image is an ELF shared object for this machine that exports
// __vdso_clock_gettime, and the release is the kernel's
// (/proc/sys/kernel/osrelease).
func TestRunning(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := Running(); err == nil {
			t.Fatal("a vDSO read on " + runtime.GOOS)
		}
		t.Skip("SKIPPED: not Linux")
	}
	im, err := Running()
	if err != nil {
		t.Fatalf("no vDSO: %v", err)
	}
	auxv, _ := os.ReadFile("/proc/self/auxv")
	maps, _ := os.ReadFile("/proc/self/maps")
	base, ok := ParseAuxv(auxv)
	lo, hi, ok2 := ParseMaps(maps)
	if !ok || !ok2 || base != lo || uint64(len(im.Bytes)) != hi-lo {
		t.Errorf("AT_SYSINFO_EHDR %#x (%v), [vdso] %#x-%#x (%v), image %d bytes", base, ok, lo, hi, ok2, len(im.Bytes))
	}
	if im.File.Type != elf.ET_DYN || im.File.Path != Name {
		t.Errorf("image: type %v path %q, want a shared object named %s", im.File.Type, im.File.Path, Name)
	}
	if runtime.GOARCH == "amd64" {
		if _, ok := im.File.LookupExported("__vdso_clock_gettime"); !ok {
			t.Errorf("the x86-64 vDSO exports no __vdso_clock_gettime")
		}
	}
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err == nil && strings.TrimSpace(string(rel)) != im.Release {
		t.Errorf("release %q, /proc/sys/kernel/osrelease %q", im.Release, rel)
	}
	if id := Identity(); !strings.HasPrefix(id, "Linux "+im.Release+" ") {
		t.Errorf("identity %q does not name the release", id)
	}
}

func auxv(pairs ...uint64) []byte {
	var b []byte
	for _, v := range pairs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func TestParseAuxv(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want uint64
		ok   bool
	}{
		{"found", auxv(6, 4096, 33, 0x7fff0000, 0, 0), 0x7fff0000, true},
		{"after AT_NULL", auxv(6, 4096, 0, 0, 33, 0x7fff0000), 0, false},
		{"zero", auxv(33, 0, 0, 0), 0, false},
		{"truncated pair", auxv(6, 4096, 33)[:20], 0, false},
		{"empty", nil, 0, false},
	} {
		got, ok := ParseAuxv(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %#x %v, want %#x %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestParseMaps(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		lo, hi uint64
		ok     bool
	}{
		{"found", "7f34dd87f000-7f34dd883000 r--p 00000000 00:00 0                          [vvar]\n7f34dd883000-7f34dd885000 r-xp 00000000 00:00 0                          [vdso]\n", 0x7f34dd883000, 0x7f34dd885000, true},
		{"none", "7f34dd87f000-7f34dd883000 r--p 00000000 00:00 0 [vvar]\n", 0, 0, false},
		{"a file named so", "1000-2000 r-xp 00000000 08:01 12 /tmp/[vdso] x\n", 0, 0, false},
		{"reversed", "2000-1000 r-xp 00000000 00:00 0 [vdso]\n", 0, 0, false},
		{"not hex", "zz-1000 r-xp 00000000 00:00 0 [vdso]\n", 0, 0, false},
	} {
		lo, hi, ok := ParseMaps([]byte(c.in))
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("%s: %#x-%#x %v, want %#x-%#x %v", c.name, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

// FuzzParseAuxv: any bytes; a value found is AT_SYSINFO_EHDR's, non-zero,
// at a pair boundary before any AT_NULL.
func FuzzParseAuxv(f *testing.F) {
	f.Add(auxv(6, 4096, 33, 0x7fff0000, 0, 0))
	f.Add(auxv(0, 0, 33, 1))
	if b, err := os.ReadFile("/proc/self/auxv"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := ParseAuxv(b)
		if !ok {
			return
		}
		if v == 0 {
			t.Fatal("ok with a zero address")
		}
		for i := 0; i+16 <= len(b); i += 16 {
			typ := binary.LittleEndian.Uint64(b[i:])
			if typ == 0 {
				t.Fatal("found after AT_NULL")
			}
			if typ == auxSysinfoEHDR {
				if binary.LittleEndian.Uint64(b[i+8:]) != v {
					t.Fatal("not the first AT_SYSINFO_EHDR's value")
				}
				return
			}
		}
		t.Fatal("found without an AT_SYSINFO_EHDR pair")
	})
}

// FuzzParseMaps: any text; a range found is not empty and comes from a
// line whose last field is [vdso].
func FuzzParseMaps(f *testing.F) {
	f.Add([]byte("7f34dd883000-7f34dd885000 r-xp 00000000 00:00 0                          [vdso]\n"))
	f.Add([]byte("1000-2000 r-xp 00000000 00:00 0 [vdso]\n3000-4000 r-xp 00000000 00:00 0 [vdso]"))
	if b, err := os.ReadFile("/proc/self/maps"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lo, hi, ok := ParseMaps(b)
		if !ok {
			return
		}
		if hi <= lo {
			t.Fatalf("range %#x-%#x", lo, hi)
		}
		if !bytes.Contains(b, []byte(Name)) {
			t.Fatal("found without a [vdso] line")
		}
	})
}
