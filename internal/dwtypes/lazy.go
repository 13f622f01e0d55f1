package dwtypes

import (
	"debug/dwarf"
	"sync"
)

// lazyType is the type of a parameter or register variable, read from
// the DWARF when first asked. Load found where it is (the offset of its
// type entry) but does not build it: debug/dwarf's Type builds a struct
// with all its members' types, and of node's 88,000 entries' parameters
// and variables only the few that a narrowed call asks about are ever
// looked at (eager reading was 45% of Load's allocations and CPU).
//
// A parameter type is one element of Proto.Params and so a dwarf.Type;
// strip, which every reader of a type goes through, resolves it.
type lazyType struct {
	once sync.Once
	in   *Info
	off  dwarf.Offset
	t    dwarf.Type // nil: the type does not read
}

// get returns the type, reading it on the first call. Types are read
// under in.mu: the queries may come from several goroutines, and
// debug/dwarf's type cache is not safe for that.
func (l *lazyType) get() dwarf.Type {
	l.once.Do(func() {
		in := l.in
		in.mu.Lock()
		defer in.mu.Unlock()
		l.in = nil
		// debug/dwarf panics on some malformed input (Load's reading,
		// which this one was part of before, recovered too): a type
		// that does not read is unknown.
		defer func() {
			if recover() != nil {
				l.t = nil
			}
		}()
		l.t = in.typeAt(l.off)
	})
	return l.t
}

// The dwarf.Type methods, for a caller that reads Proto.Params directly.

func (l *lazyType) Common() *dwarf.CommonType {
	if t := l.get(); t != nil {
		return t.Common()
	}
	return &dwarf.CommonType{ByteSize: -1}
}

func (l *lazyType) Size() int64 {
	if t := l.get(); t != nil {
		return t.Size()
	}
	return -1
}

func (l *lazyType) String() string {
	if t := l.get(); t != nil {
		return t.String()
	}
	return "?"
}

// newLazyType returns a lazyType of the type at off, from a block of them
// (one allocation per parameter was 9% of Load's).
func (in *Info) newLazyType(off dwarf.Offset) *lazyType {
	if len(in.lazies) == cap(in.lazies) {
		in.lazies = make([]lazyType, 0, 256)
	}
	in.lazies = in.lazies[:len(in.lazies)+1]
	l := &in.lazies[len(in.lazies)-1]
	l.in, l.off = in, off
	return l
}
