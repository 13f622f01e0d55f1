package layout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stackscope/stackscope/internal/ldscript"
)

// MemoryMap is the memory map a verdict relies on: the MEMORY regions of
// the linker script (or the same regions from stackscope.toml).
type MemoryMap struct {
	// From says where the map came from ("board.ld (--ld)",
	// "stackscope.toml [memory]").
	From    string            `json:"from"`
	Regions []ldscript.Region `json:"regions"`
	// File is the linker script the regions were read from (their Line
	// is in it); empty when they come from stackscope.toml's regions.
	File string `json:"file,omitempty"`
}

// blockBits: the Cortex-M architectural address map is cut into 512 MiB
// blocks (code, SRAM, peripheral, external RAM, ...). Without a memory map
// the addresses between two sections in one block are assumed to be one
// memory: nothing in the ELF file says they are not.
const blockBits = 29

// nearBoundary: across a block boundary, sections closer than this are
// also taken as one memory (SRAM_L ends at 0x20000000 where SRAM_U
// begins on Kinetis parts). Assuming more RAM only ever makes the verdict
// less safe, never SAFE.
const nearBoundary = 1 << 20

// neighbours: b (the start of the next interval) lies in the memory of the
// region that starts at start and ends at end.
func neighbours(start, end, b uint64) bool {
	return start>>blockBits == b>>blockBits || b <= end+nearBoundary
}

// inferMemory groups the writable sections (plus the stack) into RAM
// regions and the others into flash regions, one per 512 MiB block.
func inferMemory(secs []Section, st *Stack) (ram, flash []Region, how string) {
	var rw, ro []Section
	for _, s := range secs {
		if writable(s) {
			rw = append(rw, s)
		} else {
			ro = append(ro, s)
		}
	}
	ram = cluster("ram", rw, st)
	flash = cluster("flash", ro, nil)
	how = "no memory map given (an ELF file keeps no MEMORY regions): RAM is inferred from the writable sections"
	if st != nil {
		how += " and the main stack"
	}
	how += ", and the addresses between them (in one 512 MiB block of the address map, or less than 1 MiB apart) are assumed to be RAM; give the memory map (--ld FILE.ld, or [memory] in stackscope.toml) to prove a verdict"
	return ram, flash, how
}

// cluster makes one region per 512 MiB block from the sections in it.
func cluster(kind string, secs []Section, st *Stack) []Region {
	type iv struct{ a, b uint64 }
	var ivs []iv
	for _, s := range secs {
		ivs = append(ivs, iv{s.Addr, s.End()})
	}
	if st != nil && st.Top > 0 {
		lo := st.Limit
		if lo == 0 || lo > st.Top {
			lo = st.Top - 1
		}
		ivs = append(ivs, iv{lo, st.Top})
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].a < ivs[j].a })
	var out []Region
	for _, v := range ivs {
		if n := len(out); n > 0 && neighbours(out[n-1].Start, out[n-1].End, v.a) {
			out[n-1].End = max(out[n-1].End, v.b)
			continue
		}
		out = append(out, Region{Kind: kind, Start: v.a, End: v.b, Sections: []Section{}})
	}
	for _, s := range secs {
		for i := range out {
			if s.Addr >= out[i].Start && s.Addr < out[i].End {
				out[i].Sections = append(out[i].Sections, s)
				break
			}
		}
	}
	return out
}

// writability is a region's: its attributes, or, when they do not say,
// what the image puts in it (a writable section or the main stack makes it
// RAM).
func writability(m ldscript.Region, secs []Section, st *Stack) ldscript.Writability {
	w := m.Writable()
	if w != ldscript.WritableUnknown {
		return w
	}
	if st != nil && st.Top > m.Origin && st.Top <= m.End() {
		return ldscript.Writable
	}
	for _, s := range secs {
		if writable(s) && s.Addr >= m.Origin && s.Addr < m.End() {
			return ldscript.Writable
		}
	}
	return ldscript.WritableUnknown
}

// mapRegions are the report's regions from a memory map, each with the
// sections that lie in it; misfits lists the sections that lie in none.
func mapRegions(m *MemoryMap, secs []Section, st *Stack) (regions []Region, misfits []Section) {
	for _, mr := range m.Regions {
		kind := "memory"
		switch writability(mr, secs, st) {
		case ldscript.Writable:
			kind = "ram"
		case ldscript.NotWritable:
			kind = "flash"
		}
		regions = append(regions, Region{Kind: kind, Name: mr.Name, Attributes: mr.Attributes, Start: mr.Origin, End: mr.End(), Sections: []Section{}})
	}
	for _, s := range secs {
		placed := false
		for i := range regions {
			if s.Addr >= regions[i].Start && s.End() <= regions[i].End {
				regions[i].Sections = append(regions[i].Sections, s)
				placed = true
				break
			}
		}
		if !placed {
			misfits = append(misfits, s)
		}
	}
	sort.SliceStable(regions, func(i, j int) bool { return regions[i].Start < regions[j].Start })
	return regions, misfits
}

// floor is how far down an overflow of the main stack runs through RAM,
// by the memory map: to the ORIGIN of the stack's region, and on through
// every writable region that ends where the last one starts. unknown is a
// region that ends there but whose attributes do not say whether it is
// writable. problem is set when the map does not describe the stack.
type floor struct {
	addr    uint64
	home    ldscript.Region
	unknown *ldscript.Region
	problem string
}

func mapFloor(m *MemoryMap, st *Stack, secs []Section) floor {
	var f floor
	found := false
	for _, r := range m.Regions {
		if st.Top > r.Origin && st.Top <= r.End() {
			f.home, found = r, true
			break
		}
	}
	switch {
	case !found:
		f.problem = fmt.Sprintf("no region of the memory map (%s) holds the initial SP %#x: the map does not describe this image", m.From, st.Top)
		return f
	case writability(f.home, secs, st) == ldscript.NotWritable:
		f.problem = fmt.Sprintf("the initial SP %#x lies in region %s, which the memory map (%s) marks not writable (%s): the map does not describe this image", st.Top, f.home.Name, m.From, f.home.Attributes)
		return f
	case st.Limit < f.home.Origin:
		f.problem = fmt.Sprintf("the stack limit %#x lies below the ORIGIN %#x of region %s in the memory map (%s)", st.Limit, f.home.Origin, f.home.Name, m.From)
		return f
	}
	f.addr = f.home.Origin
	seen := map[string]bool{f.home.Name: true}
	for {
		next, unknown := regionEndingAt(m.Regions, f.addr, seen, secs, st)
		if next == nil {
			f.unknown = unknown
			return f
		}
		seen[next.Name] = true
		f.addr = next.Origin
	}
}

// regionEndingAt finds a writable region that reaches addr from below (it
// ends at addr or runs past it); failing that, one of unknown writability.
func regionEndingAt(regions []ldscript.Region, addr uint64, seen map[string]bool, secs []Section, st *Stack) (writableRegion, unknown *ldscript.Region) {
	for i := range regions {
		r := &regions[i]
		if seen[r.Name] || r.Origin >= addr || r.End() < addr {
			continue
		}
		switch writability(*r, secs, st) {
		case ldscript.Writable:
			if writableRegion == nil || r.Origin < writableRegion.Origin {
				writableRegion = r
			}
		case ldscript.WritableUnknown:
			unknown = r
		}
	}
	return writableRegion, unknown
}

// misfitProblem is the verdict's reason when writable sections lie outside
// the memory map: the map is not this image's.
func misfitProblem(m *MemoryMap, misfits []Section) string {
	if m == nil {
		return ""
	}
	var names []string
	for _, s := range misfits {
		if writable(s) {
			names = append(names, fmt.Sprintf("%s at %#x", s.Name, s.Addr))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("%s lie(s) outside every region of the memory map (%s): the map does not describe this image", strings.Join(names, ", "), m.From)
}

// useRegionForLimit: a stack with no limit symbol and nothing below its
// top in RAM may grow down to the ORIGIN of its region, by the map.
func useRegionForLimit(st *Stack, m *MemoryMap) {
	if st == nil || st.LimitFound {
		return
	}
	for _, r := range m.Regions {
		// Nothing the image places lies in the region below the top (the
		// nearest section below is in another region, or there is none):
		// the region is the stack's.
		if st.Top > r.Origin && st.Top <= r.End() && (st.Limit == st.Top || st.Limit <= r.Origin) {
			st.Limit, st.Size = r.Origin, st.Top-r.Origin
			st.LimitFrom = fmt.Sprintf("ORIGIN of region %s in the memory map (no stack-limit symbol and nothing below the initial SP)", r.Name)
			st.LimitFound, st.Tried = true, nil
			return
		}
	}
}
