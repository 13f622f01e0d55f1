// Package srcloc maps code addresses to source file and line through the
// DWARF line table (.debug_line) of an ELF file, or of its separate debug
// file found by build ID under /usr/lib/debug. Reports use it to put a
// file:line on every function, worst-path frame and reason.
//
// Only the line table is read, not .debug_info's DIE tree: it is the one
// structure that covers every code address, and reading it is a small part
// of the cost of walking all DIEs of a big C++ program.
package srcloc

import (
	"bytes"
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/stackscope/stackscope/internal/dieread"
)

// Location is a place in the source.
type Location struct {
	File string
	Line int
}

// String gives "file:line", or "" for an unknown location.
func (l Location) String() string {
	if l.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", l.File, l.Line)
}

// row is one line-table row: code from addr up to the next row's address
// belongs to file:line; file -1 marks the end of a sequence (a gap).
type row struct {
	addr uint64
	file int32
	line int32
}

// Table answers address-to-line queries. A nil *Table answers nothing, so
// callers need not check whether a file had debug information.
type Table struct {
	rows  []row
	files []string
	// funcs maps a function's entry address to where it is declared
	// (DW_AT_decl_file/decl_line of its DW_TAG_subprogram).
	funcs map[uint64]Location
	// Source says where the line table came from (the file itself or its
	// separate debug file).
	Source string
	// compDirs maps a file name to the DW_AT_comp_dir of the first unit
	// that names it (see CompDir).
	compDirs map[string]string
}

// DebugRoots are the directories searched for separate debug files
// (.build-id/xx/rest.debug), in order. Tests may change it.
var DebugRoots = []string{"/usr/lib/debug"}

// Load reads the line table of f (whose path is path), or of its separate
// debug file. It returns nil and no error when there is no line table; an
// error when one is present but cannot be read, so the caller can warn.
func Load(f *elf.File, path string) (*Table, error) {
	if f.Section(".debug_line") != nil {
		return load(f, path)
	}
	dbgPath := separateDebugFile(f)
	if dbgPath == "" {
		return nil, nil
	}
	df, err := elf.Open(dbgPath)
	if err != nil {
		return nil, nil // an unusable debug file is the same as none
	}
	defer df.Close()
	if df.Section(".debug_line") == nil {
		return nil, nil
	}
	return load(df, dbgPath)
}

func load(f *elf.File, source string) (*Table, error) { return read(f, source, true) }

// read is load; cTopLevel reads only the top-level entries of C units
// (see readUnit) and decodes the entries with package dieread; false
// reads every unit's entries, all with debug/dwarf, as before (tests
// compare the two).
func read(f *elf.File, source string, cTopLevel bool) (t *Table, err error) {
	// debug/dwarf reports some malformed input by panicking deep inside;
	// a corrupt line table must cost the locations, not the analysis.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%s: malformed DWARF line table: %v", source, r)
		}
	}()
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("%s: DWARF: %v", source, err)
	}
	t = &Table{Source: source, funcs: map[uint64]Location{}, compDirs: map[string]string{}}
	fileIndex := map[string]int32{}
	decls := declarations{byOffset: map[dwarf.Offset]decl{}}
	var sections dieread.Sections
	if cTopLevel {
		sections = dieread.Sections{Info: sectionData(f, ".debug_info"), Abbrev: sectionData(f, ".debug_abbrev"),
			Str: sectionData(f, ".debug_str"), LineStr: sectionData(f, ".debug_line_str")}
	}
	r := dieread.New(d, sections)
	for {
		top, ok, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: DWARF: %v", source, err)
		}
		if !ok {
			break
		}
		if top.Tag != dwarf.TagCompileUnit && top.Tag != dwarf.TagPartialUnit {
			r.SkipChildren()
			continue
		}
		cu, err := r.Full(top)
		if err != nil || cu == nil {
			return nil, fmt.Errorf("%s: DWARF: unit at %#x: %v", source, top.Offset, err)
		}
		lr, err := d.LineReader(cu)
		if err != nil {
			return nil, fmt.Errorf("%s: DWARF line table: %v", source, err)
		}
		var files []*dwarf.LineFile
		if lr != nil {
			files = lr.Files()
		}
		if dir, _ := cu.Val(dwarf.AttrCompDir).(string); dir != "" {
			for _, lf := range files {
				if lf != nil {
					if _, seen := t.compDirs[lf.Name]; !seen {
						t.compDirs[lf.Name] = dir
					}
				}
			}
		}
		if cu.Children {
			lang, _ := cu.Val(dwarf.AttrLanguage).(int64)
			if err := decls.readUnit(d, r, files, cTopLevel && dieread.IsC(lang)); err != nil {
				return nil, fmt.Errorf("%s: DWARF: %v", source, err)
			}
		}
		if lr == nil {
			continue
		}
		var e dwarf.LineEntry
		var lastFile *dwarf.LineFile
		var lastIndex int32
		for {
			if err := lr.Next(&e); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: DWARF line table: %v", source, err)
			}
			if e.EndSequence {
				t.rows = append(t.rows, row{addr: e.Address, file: -1})
				continue
			}
			if e.File == nil || e.Line <= 0 {
				continue
			}
			// Rows of one file come in runs: the file of the last row
			// saves a lookup by name (8% of reading node's table).
			if e.File != lastFile {
				fi, ok := fileIndex[e.File.Name]
				if !ok {
					fi = int32(len(t.files))
					t.files = append(t.files, e.File.Name)
					fileIndex[e.File.Name] = fi
				}
				lastFile, lastIndex = e.File, fi
			}
			fi := lastIndex
			t.rows = append(t.rows, row{addr: e.Address, file: fi, line: int32(e.Line)})
		}
	}
	// Sequences come in any order; at one address, an end of sequence
	// must come before the row that starts the next one.
	// (slices' sort, not sort.SliceStable: its swaps through reflection
	// were 17% of reading node's table.)
	slices.SortStableFunc(t.rows, compareRows)
	decls.resolve(t.funcs)
	if len(t.rows) == 0 && len(t.funcs) == 0 {
		return nil, nil
	}
	return t, nil
}

// Func returns where the function starting at addr is declared, from its
// DW_TAG_subprogram; without one, the line of its first instruction.
func (t *Table) Func(addr uint64) (Location, bool) {
	if t == nil {
		return Location{}, false
	}
	if l, ok := t.funcs[addr]; ok {
		return l, true
	}
	return t.At(addr)
}

// At returns the source line of the instruction at pc.
func (t *Table) At(pc uint64) (Location, bool) {
	if t == nil {
		return Location{}, false
	}
	// The last row at or below pc.
	i := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].addr > pc }) - 1
	if i < 0 {
		return Location{}, false
	}
	// Of several rows at one address the last wins, as in gdb: an inlined
	// body's line comes after its call site's.
	rw := t.rows[i]
	if rw.file < 0 {
		return Location{}, false
	}
	return Location{File: t.files[rw.file], Line: int(rw.line)}, true
}

// CompDir returns the compilation directory (DW_AT_comp_dir) of the unit
// that names file, "" when unknown: a report that finds no file at that
// name can look for it relative to this directory's place elsewhere (a
// build made in another checkout of the same tree).
func (t *Table) CompDir(file string) string {
	if t == nil {
		return ""
	}
	return t.compDirs[file]
}

// Rows is the number of line-table rows read (for benchmarks and tests).
func (t *Table) Rows() int {
	if t == nil {
		return 0
	}
	return len(t.rows)
}

// separateDebugFile finds the debug file of f by its GNU build ID, as gdb
// does: <root>/.build-id/<first byte>/<rest>.debug.
func separateDebugFile(f *elf.File) string {
	id := buildID(f)
	if len(id) < 2 {
		return ""
	}
	h := hex.EncodeToString(id)
	for _, root := range DebugRoots {
		p := filepath.Join(root, ".build-id", h[:2], h[2:]+".debug")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// buildID reads the NT_GNU_BUILD_ID note.
func buildID(f *elf.File) []byte {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		order := f.ByteOrder
		for len(data) >= 12 {
			namesz := order.Uint32(data[0:4])
			descsz := order.Uint32(data[4:8])
			typ := order.Uint32(data[8:12])
			data = data[12:]
			nameEnd := align4(uint64(namesz))
			descEnd := nameEnd + align4(uint64(descsz))
			if uint64(len(data)) < descEnd {
				break
			}
			name := data[:namesz]
			desc := data[nameEnd : nameEnd+uint64(descsz)]
			if typ == 3 && bytes.Equal(bytes.TrimRight(name, "\x00"), []byte("GNU")) {
				return desc
			}
			data = data[descEnd:]
		}
	}
	return nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// compareRows orders rows by address; at one address, an end of
// sequence comes first.
func compareRows(a, b row) int {
	if a.addr != b.addr {
		return cmp.Compare(a.addr, b.addr)
	}
	aEnd, bEnd := a.file == -1, b.file == -1
	switch {
	case aEnd && !bEnd:
		return -1
	case bEnd && !aEnd:
		return 1
	}
	return 0
}

// sectionData returns the bytes of f's section name, nil if none (or
// they do not read: dieread then leaves the entries to debug/dwarf).
func sectionData(f *elf.File, name string) []byte {
	if s := f.Section(name); s != nil {
		if b, err := s.Data(); err == nil {
			return b
		}
	}
	return nil
}
