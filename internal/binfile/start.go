package binfile

import (
	"debug/elf"
	"sort"
	"sync"
)

// NameFunction gives the function that starts at addr the name name, when
// no symbol names it (a stripped program's main, found from the code of
// _start): its FDE name (sub_<addr>) becomes an alias. A function that
// starts at no known address is added, running to the next function or
// the end of its section (musl's _start has no FDE), or size bytes when
// size is not 0 and that is less. Names from a symbol table are never
// replaced. It must be called before the call graph is built: it may
// reorder Functions.
func (f *File) NameFunction(addr uint64, name string, size uint64) bool {
	if !f.IsExecutable(addr) {
		return false
	}
	if i, ok := f.byAddr.get(addr); ok {
		fn := &f.Functions[i]
		if fn.Source != "fde" && fn.Source != "start" {
			return fn.Name() == name
		}
		if fn.LinkName != name {
			fn.Aliases = append(fn.Aliases, fn.LinkName)
		}
		fn.LinkName, fn.Source = name, "start"
		fn.SetName(name)
		f.names, f.namesOnce = nil, sync.Once{}
		f.indexMangled()
		return true
	}
	if _, inside := f.Containing(addr); inside {
		// Code inside a function a symbol or an FDE delimits: naming
		// it would split that function.
		return false
	}
	fn := Function{LinkName: name, Addr: addr, Source: "start", Global: true}
	fn.SetName(name)
	end := f.sectionEnd(addr)
	i := sort.Search(len(f.Functions), func(i int) bool { return f.Functions[i].Addr > addr })
	if i < len(f.Functions) && f.Functions[i].Addr < end {
		end = f.Functions[i].Addr
	}
	fn.Size = end - addr
	if size != 0 && size < fn.Size {
		fn.Size = size
	}
	f.Functions = append(f.Functions, Function{})
	copy(f.Functions[i+1:], f.Functions[i:])
	f.Functions[i] = fn
	f.byAddr = newAddrIndex(f.Functions)
	f.names, f.namesOnce = nil, sync.Once{}
	f.indexMangled()
	f.exported, f.exportOnce = nil, sync.Once{}
	return true
}

// DynamicInitFini returns the DT_INIT and DT_FINI functions (0 when
// absent): the dynamic linker and libc call them around main.
func (f *File) DynamicInitFini() (init, fini uint64) {
	if v, err := f.ELF.DynValue(elf.DT_INIT); err == nil && len(v) > 0 {
		init = v[0]
	}
	if v, err := f.ELF.DynValue(elf.DT_FINI); err == nil && len(v) > 0 {
		fini = v[0]
	}
	return init, fini
}
