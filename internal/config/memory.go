package config

import (
	"fmt"
	"path/filepath"

	"github.com/stackscope/stackscope/internal/ldscript"
)

// Memory is the [memory] table: the memory map `layout` proves its verdict
// with, either the linker script to read it from or the regions themselves:
//
//	[memory]
//	ld = "board.ld"                # relative to this file
//
//	[[memory.region]]
//	name = "RAM"
//	origin = 0x20000000            # an integer, or a string as in a linker script
//	length = "4M"
//	attributes = "rwx"
type Memory struct {
	LD      string         `toml:"ld"`
	Regions []MemoryRegion `toml:"region"`

	// Parsed are the regions of Regions, checked (not those of LD: the
	// command reads that file).
	Parsed []ldscript.Region `toml:"-"`
}

// MemoryRegion is one [[memory.region]] as written.
type MemoryRegion struct {
	Name       string `toml:"name"`
	Origin     any    `toml:"origin"`
	Length     any    `toml:"length"`
	Attributes string `toml:"attributes"`
}

// Given reports whether the file gives a memory map.
func (m Memory) Given() bool { return m.LD != "" || len(m.Regions) > 0 }

// checkMemory checks [memory] and fills Parsed; LD becomes a path the
// command can open.
func (c *Config) checkMemory(path string) error {
	m := &c.Memory
	if m.LD != "" && len(m.Regions) > 0 {
		return &Error{path, "[memory] gives both ld and [[memory.region]]: give one"}
	}
	if m.LD != "" && !filepath.IsAbs(m.LD) {
		m.LD = filepath.Join(filepath.Dir(path), m.LD)
	}
	seen := map[string]bool{}
	for i, r := range m.Regions {
		where := fmt.Sprintf("[[memory.region]] %d (%s)", i+1, r.Name)
		if r.Name == "" {
			return &Error{path, fmt.Sprintf("[[memory.region]] %d has no name", i+1)}
		}
		if seen[r.Name] {
			return &Error{path, where + ": the name is given twice"}
		}
		seen[r.Name] = true
		origin, err := memoryNumber(r.Origin)
		if err != nil {
			return &Error{path, where + ": origin: " + err.Error()}
		}
		length, err := memoryNumber(r.Length)
		if err != nil {
			return &Error{path, where + ": length: " + err.Error()}
		}
		if origin+length < origin {
			return &Error{path, where + ": origin + length is past the end of a 64-bit address space"}
		}
		attrs, err := ldscript.ParseAttributes(r.Attributes)
		if err != nil {
			return &Error{path, where + ": attributes: " + err.Error()}
		}
		m.Parsed = append(m.Parsed, ldscript.Region{Name: r.Name, Origin: origin, Length: length, Attributes: attrs})
	}
	return nil
}

// memoryNumber reads an origin or a length: an integer, or a string with a
// linker-script expression ("4M", "0x20000000", "256K - 8K").
func memoryNumber(v any) (uint64, error) {
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("missing")
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("%d is negative", x)
		}
		return uint64(x), nil
	case string:
		return ldscript.EvalNumber(x)
	}
	return 0, fmt.Errorf("%v is neither an integer nor a string such as \"4M\"", v)
}
