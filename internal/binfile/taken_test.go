package binfile

import (
	"debug/elf"
	"os"
	"slices"
	"sort"
	"testing"
)

// TestAddressTakenMatchesMapVersion: the address-taken entries, the
// init arrays' and the pool words, found marking function indexes and
// reading little-endian words directly, are those the version that kept
// them in maps and read every word through the byte order's interface
// found, on an x86-64 PIE, libraries and a Cortex-M firmware (Thumb
// bit, vector table, literal pools).
func TestAddressTakenMatchesMapVersion(t *testing.T) {
	paths := []string{"/usr/bin/gzip", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
		"/usr/bin/node", "../../examples/firmware/firmware.elf"}
	tested, compared := 0, 0
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			t.Logf("%s: %v", path, err)
			continue
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		wantTaken, wantInits, wantPool := takenByMap(f)
		gotTaken, gotInits := f.AddressTaken(), f.InitArrays()
		gotPool := f.PoolWords()
		if !slices.Equal(gotTaken, wantTaken) || !slices.Equal(gotInits, wantInits) || !slices.Equal(gotPool, wantPool) {
			t.Errorf("%s: %d taken, %d inits, %d pool words; the map version: %d, %d, %d",
				path, len(gotTaken), len(gotInits), len(gotPool), len(wantTaken), len(wantInits), len(wantPool))
		}
		compared += len(wantTaken)
		t.Logf("%s: %d taken, %d inits, %d pool words", path, len(gotTaken), len(gotInits), len(gotPool))
		f.Close()
		tested++
	}
	if tested < 2 {
		t.Skip("fewer than two of the files are here")
	}
	if compared == 0 {
		t.Error("nothing address-taken in any file: the test compares nothing")
	}
}

// takenByMap is findAddressTaken as it was: the entries kept in maps,
// every word read through the byte order's interface.
func takenByMap(f *File) (takenOut, initsOut []uint64, pool []PoolWord) {
	found := map[uint64]bool{}
	inits := map[uint64]bool{}
	into := found
	// entry says whether v is a function pointer: a function's entry
	// (with the Thumb bit on ARM).
	//
	// Every word of every data section is asked (millions in a large
	// program), and most are small numbers or data addresses: a word
	// outside the span of the function entries is not looked up.
	lowest, highest := ^uint64(0), uint64(0)
	for i := range f.Functions {
		a := f.Functions[i].Addr
		lowest, highest = min(lowest, a), max(highest, a)
	}
	entry := func(v uint64) (uint64, bool) {
		if f.Arch == ArchThumb {
			if v&1 == 0 {
				return 0, false
			}
			v &^= 1
		}
		if v < lowest || v > highest {
			return 0, false
		}
		_, ok := f.byAddr.get(v)
		return v, ok
	}
	check := func(v uint64) {
		if a, ok := entry(v); ok {
			into[a] = true
		}
	}
	word := 8
	if f.Arch == ArchThumb || f.Arch == ArchRISCV32 {
		word = 4
	}
	vectors := f.VectorWords()
	scan := func(data []byte, addr uint64) {
		for i := 0; i+word <= len(data); i += word {
			if a := addr + uint64(i); a >= vectors.Begin && a < vectors.End {
				continue
			}
			if word == 8 {
				check(f.ELF.ByteOrder.Uint64(data[i:]))
			} else {
				check(uint64(f.ELF.ByteOrder.Uint32(data[i:])))
			}
		}
	}
	for _, s := range f.ELF.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_EXECINSTR != 0 {
			continue
		}
		if s.Type == elf.SHT_RELA || s.Type == elf.SHT_REL || s.Type == elf.SHT_DYNSYM || s.Type == elf.SHT_STRTAB ||
			s.Type == elf.SHT_HASH || s.Type == elf.SHT_GNU_HASH || s.Type == elf.SHT_NOTE || s.Name == ".eh_frame" || s.Name == ".eh_frame_hdr" {
			continue
		}
		into = found
		if isInitArray(s) {
			into = inits
		}
		if data, err := f.Code(s.Addr, s.Size); err == nil {
			scan(data, s.Addr)
		}
	}
	// Arrays known only by their bounding symbols (picolibc merges them
	// into another output section): their words are constructors too.
	if ranges, _ := f.arrayRanges(); len(ranges) > 0 {
		into = inits
		for _, r := range ranges {
			if r[1] > r[0] {
				if data, err := f.Code(r[0], r[1]-r[0]); err == nil {
					scan(data, r[0])
				}
			}
		}
		into = found
	}
	for _, r := range f.DataInCode {
		data, err := f.Code(r.Begin, r.End-r.Begin)
		if err != nil {
			continue
		}
		for i := 0; i+word <= len(data); i += word {
			at := r.Begin + uint64(i)
			if at >= vectors.Begin && at < vectors.End {
				continue
			}
			v := uint64(f.ELF.ByteOrder.Uint32(data[i:]))
			if word == 8 {
				v = f.ELF.ByteOrder.Uint64(data[i:])
			}
			if fn, ok := entry(v); ok {
				pool = append(pool, PoolWord{At: at, Func: fn})
			}
		}
	}
	if f.Arch == ArchX86_64 {
		dyn, _ := f.DynamicSymbols()
		f.eachRela(func(off uint64, typ elf.R_X86_64, sym int, addend uint64) {
			into = found
			if s := f.sectionAt(off); s != nil && isInitArray(s) {
				into = inits
			}
			switch typ {
			case elf.R_X86_64_RELATIVE:
				check(addend)
			case elf.R_X86_64_64, elf.R_X86_64_GLOB_DAT:
				// A pointer to a function of this module that may be
				// interposed (vtables and function pointers in a
				// shared object) goes through its symbol.
				if sym-1 >= 0 && sym-1 < len(dyn) && dyn[sym-1].Section != elf.SHN_UNDEF {
					check(dyn[sym-1].Value)
				}
			}
		})
	}
	return sortedKeys(found), sortedKeys(inits), pool
}

func sortedKeys(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// BenchmarkAddressTaken: node's address-taken scan, as it is and as it
// was (the map version).
func BenchmarkAddressTaken(b *testing.B) {
	f, err := Open("/usr/bin/node")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	b.Run("marks", func(b *testing.B) {
		for b.Loop() {
			f.poolWords = nil
			f.findAddressTaken()
		}
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			takenByMap(f)
		}
	})
}
