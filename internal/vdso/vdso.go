// Package vdso reads the running kernel's vDSO (the small shared object
// Linux maps into every process, which glibc's clock_gettime calls into)
// from this process, and opens it as an ELF file the analysis can walk.
//
// The image is the one of the kernel stackscope runs on: an analysis that
// uses it rests on the program running on the same kernel, and says so.
package vdso

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
)

// Name is the vDSO's module name in reports (the name /proc/PID/maps
// gives its mapping).
const Name = "[vdso]"

// Image is the running kernel's vDSO.
type Image struct {
	// Bytes are the image as mapped: an ELF shared object whose file
	// offsets are its addresses (the kernel links it so), padded with
	// zeros to a page.
	Bytes []byte
	// Release and Machine are the kernel's uname -r and -m.
	Release, Machine string
	// File is the image opened with binfile; its Path is Name.
	File *binfile.File
}

var (
	once    sync.Once
	running *Image
	errRun  error
)

// Running returns the running kernel's vDSO, read once per process. An
// error says why there is none to read (not Linux, no [vdso] mapping,
// /proc not mounted, an image binfile cannot open).
func Running() (*Image, error) {
	once.Do(func() { running, errRun = read() })
	return running, errRun
}

// Identity names the image for a cache key: the kernel release and the
// SHA-256 of the bytes ("" when there is no image: no vDSO is used).
func Identity() string {
	im, err := Running()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(im.Bytes)
	return "Linux " + im.Release + " " + im.Machine + " " + hex.EncodeToString(sum[:])
}

// auxSysinfoEHDR is AT_SYSINFO_EHDR: the auxiliary vector's entry that
// holds the address of the vDSO's ELF header.
const auxSysinfoEHDR = 33

// ParseAuxv returns the value of AT_SYSINFO_EHDR in an auxiliary vector
// of 64-bit little-endian (type, value) pairs, as /proc/self/auxv gives it
// on x86-64 and AArch64; ok false when the vector has none before AT_NULL.
func ParseAuxv(b []byte) (uint64, bool) {
	for len(b) >= 16 {
		typ, val := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		switch typ {
		case 0: // AT_NULL ends the vector
			return 0, false
		case auxSysinfoEHDR:
			return val, val != 0
		}
		b = b[16:]
	}
	return 0, false
}

// ParseMaps returns the address range of the [vdso] mapping in the text
// of /proc/PID/maps ("7f34dd883000-7f34dd885000 r-xp 00000000 00:00 0
// [vdso]"); ok false when there is none or its line is malformed.
func ParseMaps(text []byte) (lo, hi uint64, ok bool) {
	for _, line := range bytes.Split(text, []byte("\n")) {
		fields := bytes.Fields(line)
		if len(fields) < 6 || string(fields[len(fields)-1]) != Name {
			continue
		}
		a, b, found := bytes.Cut(fields[0], []byte("-"))
		if !found {
			return 0, 0, false
		}
		lo, err1 := strconv.ParseUint(string(a), 16, 64)
		hi, err2 := strconv.ParseUint(string(b), 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			return 0, 0, false
		}
		return lo, hi, true
	}
	return 0, 0, false
}

// maxImage bounds the mapping read: a vDSO is a few pages (8 KiB on
// x86-64 Linux 6.x); anything larger is not one.
const maxImage = 1 << 20

// readImage reads the vDSO's bytes from this process: the address from
// the auxiliary vector, the length from the mapping that starts there,
// the bytes from /proc/self/mem (no unsafe pointer to memory Go does not
// own).
func readImage() ([]byte, error) {
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return nil, err
	}
	base, ok := ParseAuxv(auxv)
	if !ok {
		return nil, fmt.Errorf("/proc/self/auxv: no AT_SYSINFO_EHDR (the kernel maps no vDSO)")
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	lo, hi, ok := ParseMaps(maps)
	if !ok || lo != base {
		return nil, fmt.Errorf("/proc/self/maps: no [vdso] mapping at AT_SYSINFO_EHDR %#x", base)
	}
	if hi-lo > maxImage || lo > 1<<63-1 {
		return nil, fmt.Errorf("/proc/self/maps: [vdso] mapping %#x-%#x is not a vDSO's size", lo, hi)
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	b := make([]byte, hi-lo)
	if _, err := mem.ReadAt(b, int64(lo)); err != nil {
		return nil, fmt.Errorf("/proc/self/mem at %#x: %v", lo, err)
	}
	if !bytes.HasPrefix(b, []byte(elf.ELFMAG)) {
		return nil, fmt.Errorf("[vdso] at %#x: not an ELF image", lo)
	}
	return b, nil
}

// openImage opens the bytes with binfile, which reads files: through a
// temporary file, removed once open (binfile keeps its descriptor and
// mapping). binfile's Open is the fuzzed reader of ELF files; the image
// goes through it like any library.
func openImage(b []byte) (*binfile.File, error) {
	tmp, err := os.CreateTemp("", "stackscope-vdso-*.so")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	f, err := binfile.Open(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", Name, err)
	}
	f.Path = Name
	return f, nil
}
