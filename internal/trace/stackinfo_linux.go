//go:build linux && amd64

package trace

const cloneSettls = 0x80000

// pthreadRequested finds the stack size a new pthread's program asked for.
// glibc (2.27 and later) mmaps the size asked for plus the guard, makes the
// guard the bottom page(s), puts the thread descriptor (struct pthread,
// where the TLS pointer of x86-64 points) and the static TLS at the top,
// and starts the stack below them. So the read-write mapping above the
// guard is the request (rounded up to a page), and its end lies just above
// the TLS pointer. When the end is further away, the mapping merged with a
// neighbour (or the stack is the program's own, pthread_attr_setstack) and
// nothing is claimed. tls is the TLS pointer the creator gave clone (0
// when none).
func pthreadRequested(c *thread, tls uint64, m mapping) {
	if c.Kind != KindPthread || c.StackTop == 0 {
		return
	}
	// struct pthread is about 2.3 KiB; alignment and the page rounding of
	// the mapping add less than a page more.
	const descriptorRoom = 16 << 10
	if tls == 0 || tls < c.StackTop || tls >= m.end || m.end-tls > descriptorRoom {
		return
	}
	size := m.end - m.start
	c.StackRequested = &size
}

// execd records that thread t's process exec'd a new program (initMainStack
// has described its new stack): the thread is now the main thread of that
// program, a process unless it is the traced program's own leader, and
// what it measured on its old stack no longer applies.
func (tr *tracer) execd(t *thread) {
	t.execd = true
	if t.TID != tr.leader {
		t.Kind = KindProcess
	} else {
		t.Kind = KindMain
	}
	t.Peak = 0
	t.StackRequested = nil
	t.Overflow = 0
}
