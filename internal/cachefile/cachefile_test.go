package cachefile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriterAsWrite: an entry written in pieces (Create, Write, Commit)
// is the file Write makes of the whole payload, byte for byte, and Read
// gives the payload back; an aborted one leaves no file, nor a temporary
// one.
func TestWriterAsWrite(t *testing.T) {
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	whole, pieces := filepath.Join(dir, "a", "whole"), filepath.Join(dir, "b", "pieces")
	if err := Write(whole, "magic\n", payload); err != nil {
		t.Fatal(err)
	}
	w, err := Create(pieces, "magic\n")
	if err != nil {
		t.Fatal(err)
	}
	for p := payload; len(p) > 0; p = p[min(len(p), 999):] {
		w.Write(p[:min(len(p), 999)])
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(pieces)
	if !bytes.Equal(a, b) {
		t.Errorf("the entry written in pieces (%d bytes) differs from Write's (%d bytes)", len(b), len(a))
	}
	if got, ok := Read(pieces, "magic\n"); !ok || !bytes.Equal(got, payload) {
		t.Errorf("Read gave %v, %d bytes", ok, len(got))
	}
	aborted := filepath.Join(dir, "b", "aborted")
	w, err = Create(aborted, "magic\n")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(payload)
	w.Abort()
	if left, _ := filepath.Glob(filepath.Join(dir, "b", "*")); len(left) != 1 {
		t.Errorf("files after an abort: %v, want only %s", left, pieces)
	}
}
