// Package config reads stackscope.toml: annotations that close what the
// analysis cannot see (indirect-call targets, recursion depths, frames of
// external or hand-written functions), error paths set aside, extra entry
// points, interrupt priority groups, budgets, and the memory map layout
// proves its verdict with. Each annotation is keyed by function name and
// may pin the function's code with a hash, so a stale annotation is
// reported instead of silently trusted.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/stackscope/stackscope/internal/size"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileName is the configuration looked for by default.
const FileName = "stackscope.toml"

// Config is the whole file.
type Config struct {
	// Entries adds entry points; with ReplaceEntries they replace the defaults.
	Entries        []string `toml:"entries"`
	ReplaceEntries bool     `toml:"replace_entries"`
	// LDAudit keeps ld.so's _dl_audit_* hooks on __libc_start_main's path
	// (they run only when LD_AUDIT names an audit library).
	LDAudit bool `toml:"ld_audit"`

	Indirect  []Indirect  `toml:"indirect"`
	Recursion []Recursion `toml:"recursion"`
	Frames    []Frame     `toml:"frame"`
	Exclude   []Exclude   `toml:"exclude"`

	Interrupts Interrupts `toml:"interrupts"`
	Budgets    Budgets    `toml:"budgets"`
	// Memory is the memory map for layout (see memory.go).
	Memory Memory `toml:"memory"`

	// Path is where the configuration was read from ("" when none).
	Path string `toml:"-"`
}

// Indirect names the targets of a function's indirect calls: all of them,
// or the one at Site (an address) when Site is set.
type Indirect struct {
	Function string   `toml:"function"`
	Site     uint64   `toml:"site"`
	Targets  []string `toml:"targets"`
	Hash     string   `toml:"hash"`
}

// Recursion bounds a recursive cycle: at most Depth activations of Function
// (a member of the cycle) are on the stack at once.
type Recursion struct {
	Function string `toml:"function"`
	Depth    int64  `toml:"depth"`
	Hash     string `toml:"hash"`
}

// Frame gives the worst-case stack use of a function the analysis cannot
// see into (an external function, or hand-written assembly): Bytes counts
// the function and everything it calls.
type Frame struct {
	Function string     `toml:"function"`
	Bytes    size.Bytes `toml:"bytes"`
	Hash     string     `toml:"hash"`
}

// Exclude sets aside every path through Function (an error path such as
// an assert handler that never returns): the bounds are those of the
// program without it, and each entry it changed says so.
type Exclude struct {
	Function string `toml:"function"`
}

// Interrupts is the nesting model: handlers in one group share a priority
// level and cannot preempt each other (Cortex-M; on RISC-V, one PLIC or
// CLIC level of handlers that set mstatus.MIE again).
type Interrupts struct {
	Groups [][]string `toml:"groups"`
}

// Budgets are the stack sizes entries and threads must fit in.
type Budgets struct {
	Default size.Bytes            `toml:"default"`
	Entries map[string]size.Bytes `toml:"entries"`
	Threads map[string]size.Bytes `toml:"threads"`
}

// Error is a configuration problem: one line naming the file.
type Error struct {
	Path    string
	Problem string
}

func (e *Error) Error() string { return e.Path + ": " + e.Problem }

// Load reads the configuration at path. With path empty it looks for
// stackscope.toml beside the binary, then in the working directory, and
// returns an empty configuration when there is none.
func Load(path, binary string) (*Config, error) {
	if path == "" {
		for _, dir := range []string{filepath.Dir(binary), "."} {
			p := filepath.Join(dir, FileName)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return &Config{}, nil
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{path, "no such file"}
	}
	if err != nil {
		return nil, &Error{path, err.Error()}
	}
	return Parse(path, data)
}

// Parse reads a configuration from data; path names it in errors.
func Parse(path string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return nil, &Error{path, strings.ReplaceAll(err.Error(), "\n", " ")}
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return nil, &Error{path, fmt.Sprintf("unknown key %q", undecoded[0].String())}
	}
	c.Path = path
	if err := c.checkMemory(path); err != nil {
		return nil, err
	}
	for _, r := range c.Recursion {
		if r.Function == "" || r.Depth < 1 {
			return nil, &Error{path, fmt.Sprintf("[[recursion]] needs a function and a depth of at least 1 (got %q, %d)", r.Function, r.Depth)}
		}
	}
	for _, f := range c.Frames {
		if f.Function == "" || f.Bytes < 0 {
			return nil, &Error{path, fmt.Sprintf("[[frame]] needs a function and bytes >= 0 (got %q, %d)", f.Function, f.Bytes)}
		}
	}
	for _, x := range c.Exclude {
		if x.Function == "" {
			return nil, &Error{path, "[[exclude]] needs a function"}
		}
	}
	for _, in := range c.Indirect {
		if in.Function == "" || len(in.Targets) == 0 {
			return nil, &Error{path, fmt.Sprintf("[[indirect]] needs a function and targets (got %q)", in.Function)}
		}
	}
	return &c, nil
}

// CodeHash is the hash an annotation pins a function's code with.
func CodeHash(code []byte) string {
	sum := sha256.Sum256(code)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// Budget returns the budget for an entry: its own, else the default (0: none).
func (c *Config) Budget(entry string) int64 {
	if b, ok := c.Budgets.Entries[entry]; ok {
		return int64(b)
	}
	return int64(c.Budgets.Default)
}
