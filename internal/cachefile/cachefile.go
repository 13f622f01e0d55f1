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
	"os"
	"path/filepath"
	"time"

	"github.com/stackscope/stackscope/internal/beside"
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
// by Read alike. The payload is hashed and written on another goroutine,
// a megabyte at a time: the writer of the report (libLLVM-15's text:
// 240 MB, 0.3 s of SHA-256 and writes) does not wait for it.
type Writer struct {
	f     *os.File
	path  string
	magic string
	buf   []byte
	full  chan []byte // buffers to hash and write
	free  chan []byte // buffers written
	done  *beside.Result[writeResult]
}

// writerBuffer is the size of the buffers Writer hands on.
const writerBuffer = 1 << 20

type writeResult struct {
	sum []byte
	err error
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
	// The checksum's room, filled by Commit.
	if _, err := f.WriteString(magic + string(make([]byte, sha256.Size))); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	w := &Writer{f: f, path: path, magic: magic, buf: make([]byte, 0, writerBuffer),
		full: make(chan []byte, 2), free: make(chan []byte, 3)}
	w.free <- make([]byte, 0, writerBuffer)
	w.free <- make([]byte, 0, writerBuffer)
	w.done = beside.Start(func() writeResult {
		sum := sha256.New()
		var err error
		for b := range w.full {
			sum.Write(b)
			if err == nil {
				_, err = f.Write(b)
			}
			w.free <- b[:0]
		}
		return writeResult{sum.Sum(nil), err}
	})
	return w, nil
}

// Write appends p to the payload. It never fails: a failure to write the
// file (a full disk) is kept for Commit, so that the writer beside which
// it is written (the report's destination) goes on.
func (w *Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			w.handOn()
		}
	}
	return n, nil
}

// handOn gives the buffer to the goroutine that hashes and writes, and
// takes an empty one.
func (w *Writer) handOn() {
	w.full <- w.buf
	w.buf = <-w.free
}

// finish hands on what is left and waits for it to be written.
func (w *Writer) finish() writeResult {
	if len(w.buf) > 0 {
		w.handOn()
	}
	close(w.full)
	return w.done.Wait()
}

// Commit completes the entry and puts it at its path; after a failure the
// temporary file is removed.
func (w *Writer) Commit() error {
	r := w.finish()
	err := r.err
	if err == nil {
		_, err = w.f.WriteAt(r.sum, int64(len(w.magic)))
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
	w.finish()
	w.f.Close()
	os.Remove(w.f.Name())
}
