package callgraph

import (
	"path/filepath"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/libcache"
)

// neededLibrary is one library of the program's DT_NEEDED closure, in the
// order the dynamic linker's breadth-first walk meets it.
type neededLibrary struct {
	name string
	file *binfile.File // nil when it is missing: not found, not an ELF file it can read, or another architecture
}

// openedLibraries is what the walk of startOpeningLibraries hands to
// loadLibraries: the libraries, or the panic that stopped it.
type openedLibraries struct {
	libs  []neededLibrary
	fault any
}

// startOpeningLibraries opens the program's libraries (and reads their
// debug files' symbols) on another goroutine, while Build walks the
// program's frames on the others: loadLibraries, asked for them at the
// first call into a library, used to open them one after the other while
// the other core idled. The walk is the one loadLibraries made, so what
// it finds, and in which order, does not change. Only with a library
// cache, which then owns the files, as it owns those loadLibraries opens.
func (g *Graph) startOpeningLibraries() {
	if !g.opts.FollowLibraries || g.opts.Libraries == nil {
		return
	}
	done := make(chan openedLibraries, 1)
	g.libsOpened = done
	main, search, cache, arch := g.Modules[0].File, &g.search, g.opts.Libraries, g.Arch
	go func() {
		var out openedLibraries
		defer func() {
			out.fault = recover()
			done <- out
		}()
		out.libs = openNeeded(main, search, cache, arch)
		// The exported names the resolution's calls into the libraries
		// ask (linkImport), indexed while the walk goes on
		// (resolveahead.go: behind a sync.Once, the same index).
		for _, lib := range out.libs {
			if lib.file != nil {
				lib.file.LookupExported("")
			}
		}
	}()
}

// neededLibraries returns the libraries startOpeningLibraries opened (a
// panic of its walk is raised again here, on the analysis' goroutine), or
// opens them now when it did not start.
func (g *Graph) neededLibraries() []neededLibrary {
	if g.libsOpened == nil {
		return openNeeded(g.Modules[0].File, &g.search, g.opts.Libraries, g.Arch)
	}
	out := <-g.libsOpened
	g.libsOpened = nil
	if out.fault != nil {
		panic(out.fault)
	}
	return out.libs
}

// openNeeded walks DT_NEEDED breadth first from main, each name once, and
// opens each library the search finds.
func openNeeded(main *binfile.File, search *binfile.LibrarySearch, cache *libcache.Cache, arch binfile.Arch) []neededLibrary {
	var out []neededLibrary
	seen := map[string]bool{}
	queue := []*binfile.File{main}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		for _, lib := range f.Needed {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			path := search.Find(lib, f.RunPath, filepath.Dir(f.Path))
			if path == "" {
				out = append(out, neededLibrary{name: lib})
				continue
			}
			lf, err := cache.OpenLibrary(path)
			if err != nil || lf.Arch != arch {
				out = append(out, neededLibrary{name: lib})
				continue
			}
			out = append(out, neededLibrary{name: lib, file: lf})
			queue = append(queue, lf)
		}
	}
	return out
}
