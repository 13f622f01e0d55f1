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
// Entries are stored as libcache's are: encoding/gob behind a SHA-256 of
// the payload, written through a temporary file and a rename, so a reader
// sees a whole entry or none, and a truncated or corrupted entry is a miss
// (and is rewritten). Entries not used for MaxAge are removed (Evict).
package resultcache

import (
	"bytes"
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
const Schema = 1

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
}

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
	var s stored
	if err := decode(payload, &s); err != nil || s.Key != key {
		return nil, false
	}
	cachefile.MarkUsed(path)
	return s.Pieces, true
}

// decode is gob's Decode, with a panic on bad input (the checksum makes one
// unlikely, not impossible) turned into an error.
func decode(payload []byte, s *stored) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupted entry: %v", p)
		}
	}()
	return gob.NewDecoder(bytes.NewReader(payload)).Decode(s)
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
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(stored{Key: key, Pieces: e}); err != nil {
		return err
	}
	return cachefile.Write(c.path(key), magic, payload.Bytes())
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
