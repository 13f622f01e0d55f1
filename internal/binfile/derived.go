package binfile

import "sync"

// What the models derive from a file's bytes alone (a linear decode of a
// function, the direct calls into each function, a data flow over a
// function's code) is the same for every program that links the file.
// When one process analyses many programs (`analyze FILE...`), they share
// each library's File (libcache.OpenLibrary), and Derived lets them share
// such results too: libc's were derived again for every program, most of
// a small program's analysis once its frames came from the cache
// (issue 19).

// derivedCell is one result of Derived, made once.
type derivedCell struct {
	once  sync.Once
	value any
	fault any // what compute panicked with, raised again for every caller
}

// Derived returns compute's result for key, made once per file f: a later
// call with an equal key, from any goroutine, waits for the first to
// finish and returns the same result. The result is shared by all the
// callers and must never be changed after compute returns. It must depend
// on f's bytes alone, never on a program, a graph or options, except
// through key, which names everything else it depends on (and must be
// comparable). A compute that panics panics again in every caller with the
// same key.
func Derived[T any](f *File, key any, compute func() T) T {
	// Load first: a LoadOrStore would allocate a cell at every call, most
	// of them for a result already made.
	c, ok := f.derived.Load(key)
	if !ok {
		c, _ = f.derived.LoadOrStore(key, &derivedCell{})
	}
	cell := c.(*derivedCell)
	cell.once.Do(func() {
		defer func() {
			if p := recover(); p != nil {
				cell.fault = p
			}
		}()
		cell.value = compute()
	})
	if cell.fault != nil {
		panic(cell.fault)
	}
	v, _ := cell.value.(T)
	return v
}
