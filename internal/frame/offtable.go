package frame

// offTable maps code offsets of one walk to records of type T, as a map
// by offset would, for the records the walk keeps at many instructions
// (x86regs.go's joins, argarea.go's areas). Its tables are the scratch's,
// reused from walk to walk: a map per function and an insertion per
// instruction were a sixth of the walk's allocations on /usr/bin/node.
type offTable[T any] struct {
	// at is, by offset, 1 + the index of its record in recs (0: none);
	// it is made (or cleared) when the walk first sets a record: most
	// walks set none.
	at   []int32
	recs []T
	on   bool
}

// get is the record at off, if one was set.
func (t *offTable[T]) get(off int) (T, bool) {
	if t.on && off < len(t.at) {
		if i := t.at[off]; i != 0 {
			return t.recs[i-1], true
		}
	}
	var zero T
	return zero, false
}

// set records v at off; n is the length of the walk's code (which
// extend may have grown since the table was made).
func (t *offTable[T]) set(off, n int, v T) {
	if !t.on {
		t.on = true
		t.at = t.at[:0]
	}
	if len(t.at) < n {
		if cap(t.at) >= n {
			grown := t.at[len(t.at):n]
			clear(grown)
			t.at = t.at[:n]
		} else {
			t.at = append(t.at, make([]int32, n-len(t.at))...)
		}
	}
	if i := t.at[off]; i != 0 {
		t.recs[i-1] = v
		return
	}
	t.recs = append(t.recs, v)
	t.at[off] = int32(len(t.recs))
}

// release empties the table for the next walk, keeping its storage (and
// no pointer the records held).
func (t *offTable[T]) release() offTable[T] {
	clear(t.recs)
	return offTable[T]{at: t.at[:0], recs: t.recs[:0]}
}
