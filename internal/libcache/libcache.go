// Package libcache keeps the per-function frames of shared libraries so
// that the programs linking them do not walk the same code again: in
// memory for one process (the library opened once, each frame computed
// once), and on disk per GNU build ID under os.UserCacheDir()/stackscope.
//
// Only frames are kept. A frame is a pure function of the library's bytes
// and its function table (the walk of one function asks nothing about the
// program that links it), so a stored frame is the frame the walk would
// compute. Bounds, edges and indirect-call targets are not: they depend on
// the program (its address-taken functions, its annotations, --strict,
// --exclude), and a stored bound could be wrong for the next program.
//
// The entry format is encoding/gob behind a SHA-256 of its bytes: gob
// writes frame.Frame as it is (no tags to keep in step with the type,
// recursive frame.Value included) and decodes several times faster than
// JSON; the checksum makes a truncated or corrupted entry an absent one,
// never a wrong frame. The frames are in parts of a few thousand, each a
// gob stream of its own, encoded and decoded on every core (entry.go). A
// library without a build ID is shared in memory only, never stored: its
// path, size and time say too little about its bytes, and hashing every
// library on every run costs what the cache saves.
package libcache

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/cachefile"
	"github.com/stackscope/stackscope/internal/frame"
)

// Schema numbers the entry format and the meaning of what it stores: raise
// it when frame.Frame or the walk's inputs change in a way the stackscope
// version would not show (a dev build keeps its version string).
const Schema = 4

// magic starts every entry file, before the checksum and the gob payload.
const magic = "stackscope-libcache\n"

// Cache shares opened libraries and their frames. A nil *Cache is valid and
// caches nothing. Its methods are safe for concurrent use.
type Cache struct {
	dir  string // "" when nothing is stored on disk
	tool string // the build of stackscope that computes the frames

	mu    sync.Mutex
	files map[fileKey]*binfile.File
	libs  map[libKey]*Frames
	// noFrames: the stores keep no frames (Single).
	noFrames bool
	// many: the cache serves several analyses (ForMany).
	many bool
}

// libKey names a frame store: a library, walked with an ABI's stack
// alignment (which bounds realignments, frame.Input.StackAlign).
type libKey struct {
	f     *binfile.File
	align int64
}

// Roles of a file in an analysis: its frames as a library and as the
// program analysed differ when the analysis names its start-up code
// (binfile.File.NameFunction), so each role has its own entry.
const (
	roleLibrary = "lib"
	roleProgram = "prog"
)

type fileKey struct {
	path  string
	size  int64
	mtime time.Time
}

// Memory returns a cache that shares libraries within this process only
// (--no-cache).
func Memory() *Cache {
	return &Cache{files: map[fileKey]*binfile.File{}, libs: map[libKey]*Frames{}}
}

// Single returns a cache for one analysis in memory (--no-cache, one
// file): it shares the opened libraries and the facts about them, but
// keeps no frames. Each library function is walked once per analysis,
// so a kept frame would not be read again; libLLVM-15's libraries' were
// 19 MB.
func Single() *Cache {
	c := Memory()
	c.noFrames = true
	return c
}

// ForMany marks c as serving several analyses of this process (a run
// over many files, diff's two sides), and returns it: what the models
// derive from a library's code alone is then kept with the library for
// the next (Shares).
func (c *Cache) ForMany() *Cache {
	if c != nil {
		c.many = true
	}
	return c
}

// Shares says whether c serves several analyses (ForMany): only then is
// what the models derive from a library's code alone worth keeping with
// the library (binfile.Derived). In one analysis it would only be kept
// to its end, most of it never read again (node: 25 MB of linear decodes,
// some 45 MB more peak RSS; issue 19).
func (c *Cache) Shares() bool {
	return c != nil && c.many
}

// Open returns a cache that also reads and writes entries under
// os.UserCacheDir()/stackscope for this version of stackscope. Without a
// cache directory it is Memory's.
func Open(version string) *Cache {
	c := Memory()
	base, err := os.UserCacheDir()
	if err != nil {
		return c
	}
	c.dir = Dir(base, version)
	c.tool = ToolID(version)
	return c
}

// ToolID names this build of stackscope in cache entries and keys: its
// version and its executable's build ID (a dev build keeps its version
// string across edits of the code; this does not).
func ToolID(version string) string { return version + " " + executableIDOnce() }

// executableIDOnce is executableID, read once per process.
var executableIDOnce = sync.OnceValue(executableID)

// Dir is where the entries of a version of stackscope live under base:
// one directory per schema and version, so a new stackscope never reads an
// old one's entries.
func Dir(base, version string) string {
	return filepath.Join(base, "stackscope", fmt.Sprintf("libs-v%d-%s", Schema, safeName(version)))
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

// executableID names the running stackscope's code: its Go build ID, which
// changes with every change of the code, else a hash of its bytes. A dev
// build's version string stays the same across edits; this does not.
func executableID() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	if ef, err := elf.Open(exe); err == nil {
		defer ef.Close()
		if s := ef.Section(".note.go.buildid"); s != nil {
			if data, err := s.Data(); err == nil {
				return fmt.Sprintf("%x", sha256.Sum256(data))
			}
		}
	}
	fh, err := os.Open(exe)
	if err != nil {
		return "unknown"
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// OpenLibrary opens the library at path, once per process for the same
// file (same path, size and modification time).
func (c *Cache) OpenLibrary(path string) (*binfile.File, error) {
	if c == nil {
		return binfile.Open(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return binfile.Open(path) // its error names the problem
	}
	k := fileKey{path, st.Size(), st.ModTime()}
	c.mu.Lock()
	f, ok := c.files[k]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err = binfile.Open(path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if old, ok := c.files[k]; ok {
		f = old
	} else {
		c.files[k] = f
	}
	c.mu.Unlock()
	return f, nil
}

// Frames returns the frame store of library f (opened by OpenLibrary)
// walked with stack alignment align, with the frames its disk entry holds;
// nil when c is nil.
func (c *Cache) Frames(f *binfile.File, align int64) *Frames {
	return c.store(f, align, roleLibrary)
}

// ProgramFrames is Frames for the program analysed, f: its frames are kept
// on disk as a library's are, for the next analysis of the same build.
// Release drops them from memory once the program is done.
//
// A cache in memory only (--no-cache) gives no store for the program
// (nil): its frames are walked once each and no disk entry will hold
// them, so nothing would read them back before Release drops them. Kept,
// they were a second copy of every frame for the whole analysis
// (libLLVM-15: 150,000 frames, about 50 MB of a live heap that decides
// whether the run stays under 1 GiB).
func (c *Cache) ProgramFrames(f *binfile.File, align int64) *Frames {
	if c == nil || c.dir == "" {
		return nil
	}
	return c.store(f, align, roleProgram)
}

// Release writes the entry of program f and forgets its frames: a run
// over many programs keeps only the libraries' in memory.
func (c *Cache) Release(f *binfile.File) {
	if c == nil {
		return
	}
	c.mu.Lock()
	var done []*Frames
	for k, s := range c.libs {
		if k.f == f && s.role == roleProgram {
			done = append(done, s)
			delete(c.libs, k)
		}
	}
	c.mu.Unlock()
	for _, s := range done {
		s.flush()
	}
}

// ProgramWalked tells the store of program f (ProgramFrames) that its
// functions are all walked: its entry is encoded and written on another
// goroutine from now, beside the phases that follow the walk, and not
// after them at Release (node: gob encoding of 150,000 frames and a 10
// MB write, 0.27 s, the last thing a first analysis did). Release waits
// for that write, and writes again only when frames came after it.
func (c *Cache) ProgramWalked(f *binfile.File, align int64) {
	if c == nil || c.dir == "" {
		return
	}
	c.mu.Lock()
	s := c.libs[libKey{f, align}]
	c.mu.Unlock()
	if s == nil || s.role != roleProgram {
		return
	}
	s.flushBeside()
}

func (c *Cache) store(f *binfile.File, align int64, role string) *Frames {
	if c == nil {
		return nil
	}
	k := libKey{f, align}
	c.mu.Lock()
	fr, ok := c.libs[k]
	if !ok {
		fr = &Frames{role: role, frames: map[funcKey]frame.Frame{}, facts: map[string]int64{}, noFrames: c.noFrames}
		c.libs[k] = fr
	}
	c.mu.Unlock()
	// Read outside c.mu: the libraries are opened (OpenLibrary) while the
	// program's entry is read (node's: 10 MB).
	fr.load.Do(func() { c.readStored(fr, f, align, role) })
	return fr
}

// readStored gives fr the frames and facts of its disk entry, if any.
func (c *Cache) readStored(fr *Frames, f *binfile.File, align int64, role string) {
	id := f.BuildID()
	if id == "" || c.dir == "" {
		return
	}
	path := filepath.Join(c.dir, fmt.Sprintf("%s-%s-%d-%s.gob", safeName(id), f.Arch, align, role))
	hdr := header{Tool: c.tool, BuildID: id, Arch: f.Arch.String(), StackAlign: align, Functions: functionTable(f)}
	e, ok := readEntry(path, hdr)
	if ok {
		cachefile.MarkUsed(path)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.path, fr.header = path, hdr
	switch {
	case ok:
		fr.frames = make(map[funcKey]frame.Frame, e.frames())
	case role == roleProgram:
		// Every function of the program is walked and Put: sized once,
		// the map is not rebuilt some 15 times as it grows (node:
		// 150,000 frames) under the lock both walkers take.
		fr.frames = make(map[funcKey]frame.Frame, len(f.Functions))
	}
	if !ok {
		return
	}
	for _, part := range e.Parts {
		for _, r := range part {
			fr.frames[funcKey{r.Addr, r.Size}] = r.Frame
		}
	}
	fr.stored = len(fr.frames)
	for k, v := range e.Facts {
		fr.facts[k] = v
	}
	fr.storedFacts = len(fr.facts)
}

// Flush writes the entries of the libraries that gained frames. A failure
// (a read-only home, a full disk) only costs the next run the work.
func (c *Cache) Flush() {
	if c == nil {
		return
	}
	c.mu.Lock()
	libs := make([]*Frames, 0, len(c.libs))
	for _, fr := range c.libs {
		libs = append(libs, fr)
	}
	c.mu.Unlock()
	for _, fr := range libs {
		fr.flush()
	}
}

// Frames holds one library's frames by function address and size.
type Frames struct {
	role string
	// load reads the disk entry, once, before the store is handed out.
	load sync.Once

	mu     sync.Mutex
	path   string // "" when not stored on disk
	header header
	frames map[funcKey]frame.Frame
	stored int // how many of frames the disk entry holds
	// facts are other answers about the library that depend on it alone
	// (see Fact); storedFacts how many of them the disk entry holds.
	facts       map[string]int64
	storedFacts int
	noFrames    bool // Put keeps nothing (Single)
	// writing is the write flushBeside started, not waited for yet.
	writing *beside.Result[struct{}]
}

type funcKey struct{ addr, size uint64 }

// Get returns the frame of the function at addr with size, when known.
func (s *Frames) Get(addr, size uint64) (frame.Frame, bool) {
	if s == nil {
		return frame.Frame{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fr, ok := s.frames[funcKey{addr, size}]
	return fr, ok
}

// Put keeps the frame of the function at addr with size. A frame with
// parts the entry format cannot carry (firmware SP resets and system
// register writes, which have unexported fields) is not kept: they occur
// only in a firmware's own code, never in a shared library.
func (s *Frames) Put(addr, size uint64, fr frame.Frame) {
	if s == nil || s.noFrames || len(fr.Resets) > 0 || len(fr.SysWrites) > 0 {
		return
	}
	s.mu.Lock()
	s.frames[funcKey{addr, size}] = fr
	s.mu.Unlock()
}

// Fact returns the answer named key about the library, computing it once
// (compute must depend on the library's bytes and function table alone,
// as a frame does; the key names the question and its arguments). Without
// a store (s nil) it is compute's answer.
func (s *Frames) Fact(key string, compute func() int64) int64 {
	if s == nil {
		return compute()
	}
	s.mu.Lock()
	v, ok := s.facts[key]
	s.mu.Unlock()
	if ok {
		return v
	}
	v = compute()
	s.mu.Lock()
	s.facts[key] = v
	s.mu.Unlock()
	return v
}

// Stored is how many of the frames the disk entry holds (read from it,
// or written to it by Flush).
func (s *Frames) Stored() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored
}

// Len is how many frames the store holds.
func (s *Frames) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

// flushBeside starts flush on another goroutine; the next flush waits
// for it (and hands on its panic).
func (s *Frames) flushBeside() {
	if s.path == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writing == nil {
		s.writing = beside.Start(func() struct{} { s.write(); return struct{}{} })
	}
}

// flush writes the store's entry when it gained frames or facts since
// it was read or last written, after the write flushBeside started.
func (s *Frames) flush() {
	s.mu.Lock()
	w := s.writing
	s.writing = nil
	s.mu.Unlock()
	if w != nil {
		w.Wait()
	}
	s.write()
}

// write is flush's work.
func (s *Frames) write() {
	s.mu.Lock()
	if s.path == "" || len(s.frames) == s.stored && len(s.facts) == s.storedFacts {
		s.mu.Unlock()
		return
	}
	path, hdr := s.path, s.header
	s.mu.Unlock()
	// Another process may have stored frames this one did not compute:
	// they are the frames its walk would compute (the same header), so
	// they join the store and the entry written.
	if old, ok := readEntry(path, hdr); ok {
		s.mu.Lock()
		for _, part := range old.Parts {
			for _, r := range part {
				if k := (funcKey{r.Addr, r.Size}); !s.hasFrame(k) {
					s.frames[k] = r.Frame
				}
			}
		}
		for k, v := range old.Facts {
			if _, ok := s.facts[k]; !ok {
				s.facts[k] = v
			}
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	keys := make([]funcKey, 0, len(s.frames))
	for k := range s.frames {
		keys = append(keys, k)
	}
	facts := make(map[string]int64, len(s.facts))
	for k, v := range s.facts {
		facts[k] = v
	}
	s.mu.Unlock()
	// The frames are copied into each part under the lock, a part at a
	// time: a copy of them all was 39 MB more for node's entry.
	payload, err := encodeEntry(hdr, facts, len(keys), func(lo, hi int, recs []record) []record {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, k := range keys[lo:hi] {
			recs = append(recs, record{Addr: k.addr, Size: k.size, Frame: s.frames[k]})
		}
		return recs
	})
	if err == nil && cachefile.Write(path, magic, payload) == nil {
		s.mu.Lock()
		s.stored, s.storedFacts = len(keys), len(facts)
		s.mu.Unlock()
	}
}

// hasFrame says whether the store holds a frame for k (s.mu held).
func (s *Frames) hasFrame(k funcKey) bool {
	_, ok := s.frames[k]
	return ok
}

// header says what an entry is for; an entry whose header differs from
// the one expected is not used (and is rewritten).
type header struct {
	Schema  int
	Tool    string
	BuildID string
	Arch    string
	// StackAlign is the ABI alignment the frames were walked with.
	StackAlign int64
	// Functions is a hash of the library's function table (names,
	// addresses, sizes): a separate debug file installed since the entry
	// was written names more functions, and the walk's answers about
	// calls (which never return, which are thunks) may change with them.
	Functions string
}

// functionTable hashes what of f's function table a walk depends on.
func functionTable(f *binfile.File) string {
	h := sha256.New()
	var buf [16]byte
	for _, fn := range f.Functions {
		binary.LittleEndian.PutUint64(buf[:8], fn.Addr)
		binary.LittleEndian.PutUint64(buf[8:], fn.Size)
		h.Write(buf[:])
		// The link name, not Name(): the demangled name follows from it
		// for the build of stackscope the header names.
		name, own := fn.NameKey()
		if own {
			h.Write([]byte{1})
		}
		io.WriteString(h, name)
		h.Write([]byte{0})
	}
	io.WriteString(h, f.DebugSymbols)
	return fmt.Sprintf("%x", h.Sum(nil))
}
