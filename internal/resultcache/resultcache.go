// Package resultcache keeps the finished reports of `stackscope analyze`,
// one per program and set of inputs, so that analysing the same program
// again, with nothing it depends on changed, is one read of the disk.
//
// What can change a report is named in its key (see Inputs.Key): the build
// of stackscope, the program's bytes, every shared library the analysis
// would load (its path and bytes) and every library it would not find,
// every separate debug file looked up for any of those modules (the ones
// not found included: a -dbgsym package installed later gives names), and
// whatever the caller adds (the configuration's bytes, the flags, the
// output format, the working directory). The key is computed anew on every
// run from the files as they are now; nothing is trusted from the entry but
// the report itself. A caller that finds that the analysis used other
// libraries than the key named must not store it (Dependencies.Matches).
//
// Entries are stored as libcache's are: encoding/gob (after one piece
// written raw as it was made, Stream) behind a SHA-256 of the payload,
// written through a temporary file and a rename, so a reader
// sees a whole entry or none, and a truncated or corrupted entry is a miss
// (and is rewritten). Entries not used for MaxAge are removed (Evict).
package resultcache

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stackscope/stackscope/internal/cachefile"
	"github.com/stackscope/stackscope/internal/xstate"
)

// Schema numbers the entry format; raise it when Entry changes.
const Schema = 2

// MaxAge is how long an entry (of this cache or of the library cache) may
// go unused before a run that writes entries removes it.
const MaxAge = 30 * 24 * time.Hour

// magic starts every entry file, before the checksum and the gob payload.
const magic = "stackscope-results\n"

// Cache reads and writes report entries. A nil *Cache, or one without a
// directory, stores nothing. Its methods are safe for concurrent use.
type Cache struct {
	base string // os.UserCacheDir()/stackscope, "" when nothing is stored
	dir  string // this schema's and version's entries under base
	tool string // the build of stackscope (libcache.ToolID)
	cpu  string // the CPUID words of this CPU's XSAVE sizes (xstate)

	files     fileMemo
	evictOnce sync.Once
}

// Open returns the cache of this build of stackscope (tool names it: its
// version and executable's ID) under os.UserCacheDir()/stackscope; without
// a cache directory it stores nothing (but still computes keys).
func Open(version, tool string) *Cache {
	c := &Cache{tool: tool, cpu: xstate.Read().Words}
	if base, err := os.UserCacheDir(); err == nil {
		c.base = filepath.Join(base, "stackscope")
		c.dir = filepath.Join(c.base, fmt.Sprintf("results-v%d-%s", Schema, safeName(version)))
	}
	return c
}

// Entry is what is stored under a key: named pieces of a report, as the
// command that wrote them chose (the rendered report, the lines that
// explain its exit status).
type Entry map[string][]byte

type stored struct {
	Key    string // the whole key, checked on read
	Pieces Entry
	// Streamed names the piece written raw before the gob value (Stream),
	// "" when none.
	Streamed string
}

// An entry's payload is the streamed piece's bytes (none without one),
// then the gob value of stored, then its length (8 bytes, little endian):
// the piece is written as it is made, and the rest once it is complete.

// Get returns the entry stored under key; false when there is none, or it
// is unreadable, truncated, corrupted or for another key.
func (c *Cache) Get(key string) (Entry, bool) {
	if c == nil || c.dir == "" {
		return nil, false
	}
	path := c.path(key)
	payload, ok := cachefile.Read(path, magic)
	if !ok {
		return nil, false
	}
	s, ok := decodeEntry(payload)
	if !ok || s.Key != key {
		return nil, false
	}
	cachefile.MarkUsed(path)
	return s.Pieces, true
}

// decodeEntry reads a payload; false when it is not one.
func decodeEntry(payload []byte) (s stored, ok bool) {
	if len(payload) < 8 {
		return stored{}, false
	}
	n := binary.LittleEndian.Uint64(payload[len(payload)-8:])
	if n > uint64(len(payload)-8) {
		return stored{}, false
	}
	front, value := payload[:len(payload)-8-int(n)], payload[len(payload)-8-int(n):len(payload)-8]
	if err := decode(value, &s); err != nil {
		return stored{}, false
	}
	switch {
	case s.Streamed != "":
		if s.Pieces == nil {
			s.Pieces = Entry{}
		}
		s.Pieces[s.Streamed] = front
	case len(front) > 0:
		return stored{}, false
	}
	return s, true
}

// decode is gob's Decode, with a panic on bad input (the checksum makes one
// unlikely, not impossible) turned into an error.
func decode(value []byte, s *stored) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupted entry: %v", p)
		}
	}()
	return gob.NewDecoder(bytes.NewReader(value)).Decode(s)
}

// encodeTail is the end of a payload: the gob value of s and its length.
func encodeTail(s stored) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(s); err != nil {
		return nil, err
	}
	return binary.LittleEndian.AppendUint64(b.Bytes(), uint64(b.Len())), nil
}

// Put stores e under key. A failure (a read-only home, a full disk) only
// costs the next run the work, so it is returned for tests and otherwise
// ignored. The first Put of a process also removes entries unused for
// MaxAge (Evict).
func (c *Cache) Put(key string, e Entry) error {
	if c == nil || c.dir == "" {
		return nil
	}
	c.evictOnce.Do(func() { Evict(c.base, MaxAge, time.Now()) })
	payload, err := encodeTail(stored{Key: key, Pieces: e})
	if err != nil {
		return err
	}
	return cachefile.Write(c.path(key), magic, payload)
}

// Stream starts the entry of key whose piece name is written to it as it
// is made (Stream.Write): a large report (libLLVM-15's text, 240 MB) is
// then never whole in memory, nor copied again to be stored. Finish adds
// the other pieces and puts the entry in place; Abort drops it. nil (a
// Stream that stores nothing) when c stores nothing.
func (c *Cache) Stream(key, name string) *Stream {
	if c == nil || c.dir == "" {
		return nil
	}
	c.evictOnce.Do(func() { Evict(c.base, MaxAge, time.Now()) })
	w, err := cachefile.Create(c.path(key), magic)
	if err != nil {
		return nil
	}
	return &Stream{w: w, key: key, name: name}
}

// Stream is an entry being written (Cache.Stream). A nil *Stream takes
// and stores nothing.
type Stream struct {
	w         *cachefile.Writer
	key, name string
	written   int64
	done      bool // finished, aborted, or given up past maxStreamed
}

// maxStreamed is the largest report a Stream keeps (a variable for a
// test). A larger one is
// not stored: libLLVM-15's JSON report is 20 GB, which the cache would
// write a second time to the user's disk and keep for weeks, to save a
// run that takes a few seconds. (Its text report, 240 MB, is kept.)
var maxStreamed int64 = 1 << 30

// Write appends p to the streamed piece; it never fails (a failure to
// write the entry fails Finish, not the writer beside it). Past
// maxStreamed it gives the entry up.
func (s *Stream) Write(p []byte) (int, error) {
	if s == nil || s.done {
		return len(p), nil
	}
	s.written += int64(len(p))
	if s.written > maxStreamed {
		s.done = true
		s.w.Abort()
		return len(p), nil
	}
	s.w.Write(p)
	return len(p), nil
}

// Finish stores the entry with the streamed piece and the pieces of rest.
func (s *Stream) Finish(rest Entry) error {
	if s == nil || s.done {
		return nil
	}
	s.done = true
	tail, err := encodeTail(stored{Key: s.key, Pieces: rest, Streamed: s.name})
	if err != nil {
		s.w.Abort()
		return err
	}
	s.w.Write(tail)
	return s.w.Commit()
}

// Abort drops the entry.
func (s *Stream) Abort() {
	if s != nil && !s.done {
		s.done = true
		s.w.Abort()
	}
}

// path is where the entry of key lives: a directory per first byte, so
// that a cache of thousands of programs keeps directories small.
func (c *Cache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key[2:]+".gob")
}

// safeName keeps the characters of s that are safe in a file name.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
