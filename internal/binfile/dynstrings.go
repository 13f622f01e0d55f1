package binfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
)

// dynString is f.ELF.DynString(tag): the strings of the dynamic
// section's entries of tag, read from the mapped file where it can be.
// debug/elf copies the whole of .dynstr out of the file at each call;
// node's is 5 MB (every exported C++ name), and opening it asked four
// times (DT_NEEDED, DT_RUNPATH, DT_RPATH, DT_SONAME): 15-20 MB copied
// to read a few short strings (profile, issue 19). Only the strings
// found are copied here. A file this reader does not take as it is (a
// section not mapped, or one debug/elf would decompress) is read by
// debug/elf.
func (f *File) dynString(tag elf.DynTag) ([]string, error) {
	ds := f.ELF.SectionByType(elf.SHT_DYNAMIC)
	if ds == nil {
		return f.ELF.DynString(tag)
	}
	d, ok := f.mappedSection(ds)
	if !ok || ds.Link == 0 || ds.Link >= uint32(len(f.ELF.Sections)) {
		return f.ELF.DynString(tag)
	}
	str, ok := f.mappedSection(f.ELF.Sections[ds.Link])
	if !ok {
		return f.ELF.DynString(tag)
	}
	return dynStrings(f.ELF.Class, f.ELF.ByteOrder, d, str, tag)
}

// dynStrings is debug/elf's DynString over the dynamic section's bytes d
// and its string table str, as it reads them: an entry whose string has
// no end in str, or starts outside it, is left out.
func dynStrings(class elf.Class, order binary.ByteOrder, d, str []byte, tag elf.DynTag) ([]string, error) {
	switch tag {
	case elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH:
	default:
		return nil, errors.New("non-string-valued tag " + tag.String())
	}
	size := 8
	if class == elf.ELFCLASS64 {
		size = 16
	}
	if len(d)%size != 0 {
		return nil, errors.New("length of dynamic section is not a multiple of dynamic entry size")
	}
	var all []string
	for ; len(d) > 0; d = d[size:] {
		var t elf.DynTag
		var v uint64
		if class == elf.ELFCLASS64 {
			t, v = elf.DynTag(order.Uint64(d[0:8])), order.Uint64(d[8:16])
		} else {
			t, v = elf.DynTag(order.Uint32(d[0:4])), uint64(order.Uint32(d[4:8]))
		}
		if t != tag || v >= uint64(len(str)) {
			continue
		}
		if end := bytes.IndexByte(str[v:], 0); end >= 0 {
			all = append(all, string(str[v:v+uint64(end)]))
		}
	}
	return all, nil
}
