package binfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRejectsAllocatedCompressedSection: the example firmware with its
// .text marked compressed (SHF_COMPRESSED, and a zlib compression header
// claiming 2 GB in place of its first instructions) is a corrupted file
// (the gABI forbids compressing a section that is loaded); Open says so in
// one line naming the section, where it used to open it and inflate the
// section at each read. The file as built opens.
func TestOpenRejectsAllocatedCompressedSection(t *testing.T) {
	good, err := os.ReadFile("../../examples/firmware/firmware.elf")
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	text := -1
	for i, s := range ef.Sections {
		if s.Name == ".text" {
			text = i
		}
	}
	if ef.Class != elf.ELFCLASS32 || text < 0 || ef.Sections[text].Flags&elf.SHF_ALLOC == 0 || ef.Sections[text].Size < 12 {
		t.Fatalf("firmware.elf: want an ELF32 file with an allocated .text of 12 bytes or more")
	}
	dir := t.TempDir()
	if f, err := Open(writeFile(t, dir, "good.elf", good)); err != nil {
		t.Fatalf("the file as built: %v", err)
	} else {
		f.Close()
	}

	bad := append([]byte(nil), good...)
	le := binary.LittleEndian
	shoff, shentsize := le.Uint32(bad[0x20:]), uint32(le.Uint16(bad[0x2e:]))
	flags := bad[shoff+uint32(text)*shentsize+8:] // Elf32_Shdr.sh_flags
	le.PutUint32(flags, le.Uint32(flags)|uint32(elf.SHF_COMPRESSED))
	chdr := bad[ef.Sections[text].Offset:] // Elf32_Chdr: type, size, alignment
	le.PutUint32(chdr[0:], uint32(elf.COMPRESS_ZLIB))
	le.PutUint32(chdr[4:], 1<<31)
	le.PutUint32(chdr[8:], 4)
	path := writeFile(t, dir, "compressed-text.elf", bad)
	f, err := Open(path)
	if err == nil {
		f.Close()
		t.Fatal("opened a file whose .text is compressed")
	}
	var ie *InputError
	if !errors.As(err, &ie) || ie.Path != path || !strings.Contains(ie.Problem, ".text") || !strings.Contains(ie.Problem, "compressed") {
		t.Errorf("error %T %q: want an InputError naming %s and its compressed .text", err, err, path)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error of more than one line: %q", err)
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
