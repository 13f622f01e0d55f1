// Package cachefile is the file format and the file handling shared by
// stackscope's caches (libcache, resultcache): an entry is a magic line,
// the SHA-256 of the payload and the payload, written through a temporary
// file and a rename, so that a reader, or another process writing the same
// entry, sees a whole entry or none, and a truncated or corrupted one is a
// miss.
package cachefile

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"os"
	"path/filepath"
	"time"
)

// Read returns the payload of the entry at path; false when it is missing,
// unreadable, of another format (magic) or does not match its checksum.
func Read(path, magic string) ([]byte, bool) {
	data, err := os.ReadFile(path)
	if err != nil || len(data) < len(magic)+sha256.Size || string(data[:len(magic)]) != magic {
		return nil, false
	}
	sum, payload := data[len(magic):len(magic)+sha256.Size], data[len(magic)+sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, false
	}
	return payload, true
}

// Write stores payload at path (creating its directory) through a
// temporary file in the same directory and a rename.
func Write(path, magic string, payload []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(payload)
	_, err = tmp.WriteString(magic)
	if err == nil {
		_, err = tmp.Write(sum[:])
	}
	if err == nil {
		_, err = tmp.Write(payload)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// MarkUsed sets an entry's modification time to now when it is a day old
// or more: eviction removes entries by it, so the entries still read
// stay; once a day keeps a warm run from rewriting the inode of every
// entry it reads.
func MarkUsed(path string) {
	st, err := os.Stat(path)
	if err != nil || time.Since(st.ModTime()) < 24*time.Hour {
		return
	}
	now := time.Now()
	os.Chtimes(path, now, now)
}

// Writer writes an entry whose payload is never whole in memory (a
// large report, written as it is rendered): Write appends to the
// payload, Commit puts the checksum in its place and renames the file
// to its path, Abort removes it. The file is the one Write makes, read
// by Read alike.
type Writer struct {
	f     *os.File
	sum   hash.Hash
	path  string
	magic string
	err   error
}

// Create starts the entry at path (creating its directory) in a
// temporary file beside it.
func Create(path, magic string) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, sum: sha256.New(), path: path, magic: magic}
	// The checksum's room, filled by Commit.
	if _, err := f.WriteString(magic + string(make([]byte, sha256.Size))); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Write appends p to the payload. It never fails: a failure to write the
// file (a full disk) is kept for Commit, so that the writer beside which
// it is written (the report's destination) goes on.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err == nil {
		_, w.err = w.f.Write(p)
		w.sum.Write(p)
	}
	return len(p), nil
}

// Commit completes the entry and puts it at its path; after a failure the
// temporary file is removed.
func (w *Writer) Commit() error {
	err := w.err
	if err == nil {
		_, err = w.f.WriteAt(w.sum.Sum(nil), int64(len(w.magic)))
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.f.Name())
	}
	return err
}

// Abort drops the entry.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}
