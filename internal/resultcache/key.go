package resultcache

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/binfile"
)

// Inputs are what a report depends on besides the files the key finds by
// itself (the program, its libraries, their debug files).
type Inputs struct {
	// Program is the file analysed, as the report names it.
	Program string
	// LibPaths are the directories searched first for libraries
	// (--lib-path), as the analysis searches them.
	LibPaths []string
	// DebugRoots are the directories searched for separate debug files by
	// build ID (every package's that looks them up).
	DebugRoots []string
	// Settings is everything else that can change the report, each a
	// labelled string: the configuration file's path and bytes, every
	// flag, the output format, the working directory.
	Settings []string
}

// Dependencies are the libraries the key found for the program, as the
// analysis loads them (callgraph's breadth-first walk of DT_NEEDED).
type Dependencies struct {
	Libraries []string // paths, in the order they are loaded
	Missing   []string // DT_NEEDED names not found, sorted
}

// Matches says whether an analysis that loaded libs and did not find
// missing used the libraries the key named, so that its report may be
// stored under it. An analysis that loaded none (it never needed to, or
// libraries were not followed) matches too: the key then names more than
// the report depends on, which costs a miss, never a wrong report.
func (d Dependencies) Matches(libs, missing []string) bool {
	if len(libs) == 0 && len(missing) == 0 {
		return true
	}
	return slices.Equal(d.Libraries, libs) && slices.Equal(d.Missing, missing)
}

// Key returns the key of the report of in.Program with the files as they
// are now, and the libraries it found. An error (the program is missing,
// not ELF, unreadable) means the report cannot be cached: the analysis
// itself says what is wrong.
func (c *Cache) Key(in Inputs) (string, Dependencies, error) {
	var deps Dependencies
	prog, err := c.files.module(in.Program)
	if err != nil {
		return "", deps, err
	}
	k := keyWriter{h: sha256.New()}
	k.add("schema", fmt.Sprint(Schema))
	k.add("tool", c.tool)
	// ld.so's lazy-binding resolver is modelled with this CPU's XSAVE
	// size (callgraph's lazyresolver.go): a report made on another CPU
	// (a cache directory shared between machines) is another report.
	k.add("cpu xsave", c.cpu)
	k.add("program", in.Program, prog.hash)
	k.add("vdso", runningVDSO())
	modules := []*module{prog}
	// The walk of callgraph.loadLibraries: breadth first, each DT_NEEDED
	// name once, searched from the module that names it.
	search := &binfile.LibrarySearch{Extra: in.LibPaths}
	seen := map[string]bool{}
	for q := 0; q < len(modules); q++ {
		m := modules[q]
		for _, lib := range m.needed {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			path := search.Find(lib, m.runPath, filepath.Dir(m.path))
			if path == "" {
				deps.Missing = append(deps.Missing, lib)
				continue
			}
			lm, err := c.files.module(path)
			if err != nil || lm.machine != prog.machine || lm.class != prog.class {
				deps.Missing = append(deps.Missing, lib)
				k.add("unusable library", lib, path)
				continue
			}
			deps.Libraries = append(deps.Libraries, path)
			k.add("library", lib, path, lm.hash)
			modules = append(modules, lm)
		}
	}
	sort.Strings(deps.Missing)
	for _, name := range deps.Missing {
		k.add("missing library", name)
	}
	roots := slices.Compact(slices.Clone(in.DebugRoots))
	for _, m := range modules {
		if len(m.buildID) < 2 {
			continue
		}
		for _, root := range roots {
			p := filepath.Join(root, ".build-id", m.buildID[:2], m.buildID[2:]+".debug")
			h, err := c.files.hash(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				k.add("no debug file", p)
			case err != nil:
				k.add("unreadable debug file", p, err.Error())
			default:
				k.add("debug file", p, h)
			}
		}
	}
	for _, s := range in.Settings {
		k.add("setting", s)
	}
	return hex.EncodeToString(k.h.Sum(nil)), deps, nil
}

// keyWriter hashes labelled strings, each length-prefixed so that no two
// different lists hash alike.
type keyWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (k keyWriter) add(parts ...string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(parts)))
	k.h.Write(n[:])
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		k.h.Write(n[:])
		io.WriteString(k.h, p)
	}
}

// module is what the key needs of an ELF file.
type module struct {
	path    string
	hash    string // SHA-256 of the bytes
	needed  []string
	runPath []string
	buildID string
	machine elf.Machine
	class   elf.Class
}

// fileMemo remembers, for one process, each file's hash and module facts
// by its identity (device, inode, size, modification and change times),
// so that a run over many programs hashes libc once.
type fileMemo struct {
	mu      sync.Mutex
	hashes  map[string]string
	modules map[string]*module
}

// hash returns the SHA-256 of the file at path; an error wrapping
// fs.ErrNotExist when there is none.
func (m *fileMemo) hash(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	id := path + "\x00" + identity(st)
	m.mu.Lock()
	h, ok := m.hashes[id]
	m.mu.Unlock()
	if ok {
		return h, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h, err = hashPieces(fh, st.Size())
	if err != nil {
		return "", err
	}
	// The file may have changed while it was read: keep the hash only
	// when its identity is still the one it was read under.
	if st2, err := fh.Stat(); err == nil && identity(st2) == identity(st) {
		m.mu.Lock()
		if m.hashes == nil {
			m.hashes = map[string]string{}
		}
		m.hashes[id] = h
		m.mu.Unlock()
	}
	return h, nil
}

// module returns the facts of the ELF file at path.
func (m *fileMemo) module(path string) (*module, error) {
	h, err := m.hash(path)
	if err != nil {
		return nil, err
	}
	id := path + "\x00" + h
	m.mu.Lock()
	mod, ok := m.modules[id]
	m.mu.Unlock()
	if ok {
		return mod, nil
	}
	mod, err = readModule(path)
	if err != nil {
		return nil, err
	}
	mod.hash = h
	m.mu.Lock()
	if m.modules == nil {
		m.modules = map[string]*module{}
	}
	m.modules[id] = mod
	m.mu.Unlock()
	return mod, nil
}

// readModule reads the dynamic section and build ID of an ELF file as
// binfile reads them (binfile.File.readDynamic), without its function
// table: the key needs only what decides which files the analysis opens.
func readModule(path string) (mod *module, err error) {
	ef, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	defer func() {
		if p := recover(); p != nil {
			mod, err = nil, fmt.Errorf("%s: corrupted ELF file (%v)", path, p)
		}
	}()
	mod = &module{path: path, machine: ef.Machine, class: ef.Class, buildID: binfile.BuildIDOf(path)}
	if libs, err := ef.ImportedLibraries(); err == nil {
		mod.needed = libs
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if vals, err := ef.DynString(tag); err == nil {
			for _, v := range vals {
				mod.runPath = append(mod.runPath, splitPath(v)...)
			}
		}
	}
	return mod, nil
}

// splitPath splits a DT_RUNPATH value at its colons, as binfile does.
func splitPath(v string) []string { return strings.Split(v, ":") }

// FileHash is the SHA-256 of the file at path (remembered for the
// process, as the libraries' are), for a caller's Settings: a
// configuration file's bytes, say. An error wraps fs.ErrNotExist when
// there is no such file.
func (c *Cache) FileHash(path string) (string, error) { return c.files.hash(path) }

// pieceSize is the size of the pieces hashPieces hashes apart.
const pieceSize = 8 << 20

// hashPieces is the SHA-256 of the SHA-256s of the size bytes of fh, in
// pieces of pieceSize, made on every core: a report's key hashes the
// program before its analysis starts, and /usr/bin/node's 99 MB took 0.10
// s on one core, on the path of every run (a first one, a re-run, a
// report read back). A file that ends before size is an error (it
// changed while read).
func hashPieces(fh *os.File, size int64) (string, error) {
	n := int((size + pieceSize - 1) / pieceSize)
	sums := make([][sha256.Size]byte, n)
	errs := make([]error, n)
	beside.Each(n, func(i int) {
		buf := make([]byte, 256<<10)
		want := min(pieceSize, size-int64(i)*pieceSize)
		h := sha256.New()
		got, err := io.CopyBuffer(h, io.NewSectionReader(fh, int64(i)*pieceSize, want), buf)
		switch {
		case err != nil:
			errs[i] = err
		case got != want:
			errs[i] = fmt.Errorf("%s: changed while read", fh.Name())
		default:
			h.Sum(sums[i][:0])
		}
	})
	for _, err := range errs {
		if err != nil {
			return "", err
		}
	}
	all := sha256.New()
	var head [8]byte
	binary.LittleEndian.PutUint64(head[:], uint64(size))
	all.Write(head[:])
	for _, s := range sums {
		all.Write(s[:])
	}
	return hex.EncodeToString(all.Sum(nil)), nil
}
