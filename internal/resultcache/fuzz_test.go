package resultcache

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzEntryPayload: whatever a stored entry's payload holds (its checksum
// made right, so that gob decodes it), Get neither panics nor returns an
// entry stored under another key. The seeds are an entry as Put writes it
// and pieces of one.
func FuzzEntryPayload(f *testing.F) {
	key := strings.Repeat("5a", 32)
	good, _ := encodeTail(stored{Key: key, Pieces: Entry{"report": []byte("text\n"), "whys": []byte("a\nb")}})
	f.Add(good)
	f.Add(good[:len(good)/2])
	streamed, _ := encodeTail(stored{Key: key, Pieces: Entry{"whys": []byte("a")}, Streamed: "report"})
	f.Add(append([]byte("text\n"), streamed...))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte) {
		c := &Cache{tool: "fuzz", base: dir, dir: filepath.Join(dir, "results")}
		p := c.path(key)
		os.MkdirAll(filepath.Dir(p), 0o755)
		sum := sha256.Sum256(payload)
		data := append(append([]byte(magic), sum[:]...), payload...)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		e, ok := c.Get(key)
		if ok && e == nil && len(payload) == 0 {
			t.Error("an empty payload read as an entry")
		}
		if s, _ := decodeEntry(payload); ok && s.Key != key {
			t.Error("an entry for another key was returned")
		}
	})
}

// FuzzReadModule: whatever bytes a library file holds, reading its
// dynamic section and build ID for a key neither panics nor hangs; it is
// an error or a module. Seeds: the example firmware and a cut of it.
func FuzzReadModule(f *testing.F) {
	if data, err := os.ReadFile("../../examples/firmware/firmware.elf"); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "lib.so")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if m, err := readModule(p); err == nil && m == nil {
			t.Error("no module and no error")
		}
	})
}
