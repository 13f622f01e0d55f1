package libcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
)

// FuzzReadEntry: whatever gob payload an entry holds (behind a valid
// checksum, so that the decoder sees it), reading it neither panics nor
// hangs, and what it accepts has the header asked for. Seeds are in
// testdata/fuzz/FuzzReadEntry: real entries' payloads and cut ones.
func FuzzReadEntry(f *testing.F) {
	var seed bytes.Buffer
	e := entry{Header: header{Schema: Schema, Tool: "t", BuildID: "b", Arch: "x86-64", StackAlign: 16, Functions: "h"},
		Frames: []record{{Addr: 1, Size: 2, Frame: frame.Frame{Size: 24, Calls: []frame.CallSite{{Addr: 3, From: &frame.Value{Addr: &frame.Value{Off: 8}}}}, Refs: []uint64{5}}}}}
	gob.NewEncoder(&seed).Encode(&e)
	f.Add(seed.Bytes())
	want := e.Header
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte) {
		sum := sha256.Sum256(payload)
		data := append([]byte(magic), sum[:]...)
		path := filepath.Join(dir, "entry.gob")
		if err := os.WriteFile(path, append(data, payload...), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, ok := readEntry(path, want); ok && got.Header != want {
			t.Fatalf("accepted an entry for %+v", got.Header)
		}
	})
}
