package resultcache

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// TestHashPieces: a file's hash, made on several goroutines, is the
// SHA-256 of its size and its pieces' SHA-256s in order, for sizes around
// the piece boundaries; one byte changed anywhere changes it, and a file
// shorter than the size it was hashed under is an error, not a hash.
func TestHashPieces(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int64{0, 1, pieceSize - 1, pieceSize, pieceSize + 1, 3*pieceSize + 17} {
		data := make([]byte, size)
		rand.Read(data)
		path := filepath.Join(dir, "f")
		os.WriteFile(path, data, 0o644)
		hash := func() (string, error) {
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			return hashPieces(fh, size)
		}
		want := sha256.New()
		binary.Write(want, binary.LittleEndian, uint64(size))
		for off := int64(0); off < size; off += pieceSize {
			s := sha256.Sum256(data[off:min(off+pieceSize, size)])
			want.Write(s[:])
		}
		got, err := hash()
		if err != nil || got != hex.EncodeToString(want.Sum(nil)) {
			t.Errorf("size %d: %s %v, want %x", size, got, err, want.Sum(nil))
		}
		if size == 0 {
			continue
		}
		for _, at := range []int64{0, size / 2, size - 1} {
			data[at] ^= 1
			os.WriteFile(path, data, 0o644)
			if other, _ := hash(); other == got {
				t.Errorf("size %d: byte %d changed, same hash", size, at)
			}
			data[at] ^= 1
		}
		os.WriteFile(path, data[:size-1], 0o644)
		if h, err := hash(); err == nil {
			t.Errorf("size %d: a file cut short hashed as %s", size, h)
		}
	}
}
