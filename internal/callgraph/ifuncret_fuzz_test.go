package callgraph

import (
	"errors"
	"slices"
	"testing"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/isa/x86"
)

// FuzzResolverReturns: the value analysis of an ifunc resolver never
// panics or runs away on any bytes, and what it proves holds: every
// target starts a function and is not the resolver itself. The bytes
// are two functions, the resolver at 0x1000 and another at 0x1000+split
// (a tail jump's target). Seeds (testdata/fuzz/FuzzResolverReturns):
// Debian 12 libc's strlen and memcpy resolvers and testdata/ifuncret.S's.
func FuzzResolverReturns(f *testing.F) {
	f.Fuzz(func(t *testing.T, code []byte, split uint16) {
		const base = 0x1000
		if len(code) == 0 {
			return
		}
		cut := min(int(split), len(code))
		fns := []binfile.Function{{LinkName: "resolver", Addr: base, Size: uint64(cut)}}
		if cut < len(code) {
			fns = append(fns, binfile.Function{LinkName: "other", Addr: base + uint64(cut), Size: uint64(len(code) - cut)})
		}
		if cut == 0 {
			fns = fns[1:]
		}
		src := resolverSource{
			dec: x86.Decoder{},
			code: func(addr, size uint64) ([]byte, error) {
				if addr < base || addr-base > uint64(len(code)) || size > uint64(len(code))-(addr-base) {
					return nil, errors.New("outside")
				}
				return code[addr-base:][:size], nil
			},
			funcAt: func(addr uint64) (*binfile.Function, bool) {
				i := slices.IndexFunc(fns, func(fn binfile.Function) bool { return fn.Addr == addr })
				if i < 0 {
					return nil, false
				}
				return &fns[i], true
			},
		}
		r := src.returns(&fns[0])
		if !r.Proved {
			if r.Why == "" {
				t.Error("not proved, without a reason")
			}
			return
		}
		for _, a := range r.Targets {
			if a == fns[0].Addr || !slices.ContainsFunc(fns, func(fn binfile.Function) bool { return fn.Addr == a }) {
				t.Errorf("proved target %#x, which is the resolver or starts no function", a)
			}
		}
	})
}
