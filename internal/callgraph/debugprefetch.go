package callgraph

import (
	"debug/dwarf"
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa"
)

// Reading the C library's layouts from its debug file ahead of the
// models. The glibc models (ModelRuntime) read libc's DWARF for the gconv
// step layout (gconvlayout.go, gconvusers.go), the FILE layout
// (libiolayout.go) and _wide_vtable's offset (libioforeign.go), and
// ld.so's for its namespaces (ldnloaded.go) and _rtld_global_ro (vdso.go,
// rtldmcount.go): 0.7-0.8 s of one core for every program, most of a
// small program's analysis, while the other core idled (the models run
// one after the other). What they read depends on the debug file alone,
// so it is read on a goroutine of its own, from one opening of the file
// and one walk of its top-level entries (walkTopLevel), while the graph
// is built or modelled; the models then find it in the caches
// (debugFileCache.get waits for a prefetch under way). A reader that
// fails leaves its cache empty, and the model reads again and fails the
// same way: the answers are the same as without the prefetch.
//
// Only what the models will ask is read: nothing for a shared object
// (ModelReachableTables, which asks for the gconv layout, skips them, and
// their libio questions are few), nothing already kept.
//
// When: as soon as the libraries are known (loadLibraries), during the
// build. The reads allocate about 270 MB (debug/dwarf makes an Entry for
// every DIE it walks), garbage at once but for 20-30 MB. Until the soft
// memory limit followed the live heap (cmd/stackscope/memlimit.go), a
// program with more than 4 MiB of code had them start only with
// ModelRuntime, after its build's peak of memory; now node starts them
// during its build too: 3.88-3.95 s wall and 851-867 MiB, against
// 4.14-4.24 s and 859-866 MiB.

// debugPrefetches are the prefetches under way, by debug file: a channel
// closed when the prefetch has filled the caches.
var debugPrefetches prefetches

type prefetches struct {
	sync.Mutex
	running map[string]chan struct{}
}

// wait returns once no prefetch of the debug file at path is under way
// (one started while it waited too: see start).
func (p *prefetches) wait(path string) {
	for p.waitOne(path) {
	}
}

// waitOne waits for the last prefetch of the debug file at path started,
// if one is under way, and says whether it waited.
func (p *prefetches) waitOne(path string) bool {
	p.Lock()
	done := p.running[path]
	p.Unlock()
	if done == nil {
		return false
	}
	<-done
	return true
}

// start runs read on the DWARF of file's debug file on a goroutine; after
// the prefetch of it under way, if any (a big program's libio layout is
// read during the build, its other layouts when ModelRuntime starts: see
// prefetchLibioLayouts), so that one file is read at a time and what the
// later one asks is not lost.
func (p *prefetches) start(file *binfile.File, read []func(*dwarf.Data, *dieScanner)) {
	path := file.DebugSymbols
	p.Lock()
	defer p.Unlock()
	if p.running == nil {
		p.running = map[string]chan struct{}{}
	}
	before := p.running[path]
	done := make(chan struct{})
	p.running[path] = done
	go func() {
		if before != nil {
			<-before
		}
		withDebugDWARFScanned(file, func(d *dwarf.Data, sc *dieScanner) {
			for _, r := range read {
				r(d, sc)
			}
		})
		p.Lock()
		if p.running[path] == done {
			delete(p.running, path)
		}
		p.Unlock()
		close(done)
	}()
}

// prefetchDebugLayouts starts reading, for each library with a debug
// file, the layouts the glibc models will ask of it (see above).
func (g *Graph) prefetchDebugLayouts() {
	if g.Arch != binfile.ArchX86_64 || len(g.Modules) < 2 || g.Modules[0].File.Shared {
		return
	}
	if _, ok := g.Decoder.(isa.FixedRefReader); !ok {
		return
	}
	for _, m := range g.Modules[1:] {
		file := m.File
		path := file.DebugSymbols
		if path == "" {
			continue
		}
		// In the order the models ask (debugFileCache.get finds each as
		// soon as it is read): _rtld_global_ro's members (linkVDSO) and
		// _wide_vtable (assumeGlibcStreams) first, the gconv layout
		// (ModelReachableTables) last.
		var read []func(*dwarf.Data, *dieScanner)
		if _, ok := file.Lookup("_dl_fini"); ok {
			if !rtldGlobalROOffsets.has(path) {
				read = append(read, func(d *dwarf.Data, sc *dieScanner) { rtldGlobalROOffsets.put(path, rtldGlobalROOffsetsIn(d, sc)) })
			}
			if !g.opts.Strict && !rtldLayouts.has(path) {
				read = append(read, func(d *dwarf.Data, sc *dieScanner) { rtldLayouts.put(path, rtldNamespaceLayoutIn(d, sc)) })
			}
		}
		// libc's three share one walk of the top-level entries, which
		// also reads the functions' bodies for the gconv step's users
		// (walkTopLevelUsers).
		libio := file.ELF.Section(libioSection) != nil
		wide := libio && !wideVtableOffsets.has(path)
		layout := libio && !libioLayouts.has(path)
		_, hasConv := file.Lookup("__wcsmbs_load_conv")
		gconv := hasConv && !g.opts.Strict && !gconvLayouts.has(path)
		if wide || layout || gconv {
			read = append(read, func(d *dwarf.Data, sc *dieScanner) {
				var readers []topLevelReader
				wideTop, libioTop, gconvTop := newMemberAgreement("_IO_wide_data", "_wide_vtable"), newLibioTop(), newGconvTop()
				if wide {
					readers = append(readers, wideTop)
				}
				if layout {
					readers = append(readers, libioTop)
				}
				if gconv {
					readers = append(readers, gconvTop, gconvTop.steps)
					gconvTop.users = newUsersBeside(d)
				}
				err := walkTopLevelScanned(d, sc, gconvTop.users, readers...) // (diescan.go)
				if wide {
					wideVtableOffsets.put(path, wideVtableOffsetOf(wideTop.offsets()))
				}
				if layout {
					libioLayouts.put(path, libioTop.layout(err))
				}
				if gconv {
					gconvLayouts.put(path, gconvTop.layout(file, d, sc, err))
				}
			})
		}
		if len(read) > 0 {
			debugPrefetches.start(file, read)
		}
	}
}
