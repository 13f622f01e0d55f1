package libcache

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stackscope/stackscope/internal/frame"
)

// FuzzReadEntry: whatever gob payload an entry holds (behind a valid
// checksum, so that the decoder sees it), reading it neither panics nor
// hangs, and what it accepts has the header asked for, and parts of at
// most partFrames frames. Seeds are in
// testdata/fuzz/FuzzReadEntry: real entries' payloads and cut ones.
func FuzzReadEntry(f *testing.F) {
	hdr := header{Schema: Schema, Tool: "t", BuildID: "b", Arch: "x86-64", StackAlign: 16, Functions: "h"}
	frames := []record{{Addr: 1, Size: 2, Frame: frame.Frame{Size: 24, Calls: []frame.CallSite{{Addr: 3, From: &frame.Value{Addr: &frame.Value{Off: 8}}}}, Refs: []uint64{5}}}}
	for _, n := range []int{0, 1, partFrames + 1} {
		seed, err := encodeEntry(hdr, map[string]int64{"fact": 7}, n, func(lo, hi int, buf []record) []record {
			for i := lo; i < hi; i++ {
				r := frames[0]
				r.Addr = uint64(i)
				buf = append(buf, r)
			}
			return buf
		})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed)
		f.Add(seed[:len(seed)/2])
	}
	e := entry{Header: hdr}
	want := e.Header
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte) {
		sum := sha256.Sum256(payload)
		data := append([]byte(magic), sum[:]...)
		path := filepath.Join(dir, "entry.gob")
		if err := os.WriteFile(path, append(data, payload...), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok := readEntry(path, want)
		if ok && got.Header != want {
			t.Fatalf("accepted an entry for %+v", got.Header)
		}
		for _, p := range got.Parts {
			if len(p) > partFrames {
				t.Fatalf("accepted a part of %d frames", len(p))
			}
		}
	})
}
