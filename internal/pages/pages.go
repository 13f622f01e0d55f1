// Package pages makes the memory of a large, freshly made slice before
// the code that fills it runs.
//
// Why: a large Go allocation comes straight from pages the kernel has not
// made yet. When the first touch of such a page is a read (the collector
// scanning the slice, or the write barrier reading the old value of a
// pointer field it is about to overwrite), the kernel maps its shared zero
// page, and the write that follows makes the real page and must flush the
// old mapping from every core's TLB: an interrupt to the other cores, which
// in a virtual machine costs more than making the page. On /usr/bin/node
// the callgraph's node slab took 4.5% of the run's CPU time in such
// write-protect faults (perf record -g, do_wp_page under addNodes). A
// write first makes the page in one fault and flushes nothing.
package pages

import "unsafe"

// Size is the page size the stride is made for. A larger real page size
// only means more writes than needed; a smaller one would leave pages to
// be read first, so this is the smallest page of the supported systems.
const Size = 4096

// Touch writes one element of s in every page of its backing array,
// through set, which must write a field that holds no pointer (so that
// the store needs no write barrier and reads nothing first). s is
// expected to be freshly made: set should store the zero value. With
// elements longer than a page, each element is written once, and the
// pages between the fields set writes are left to the filler.
func Touch[T any](s []T, set func(*T)) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if size == 0 || len(s)*size < 2*Size {
		return // (small: in pages the allocator has likely made already)
	}
	stride := max(1, Size/size)
	for i := 0; i < len(s); i += stride {
		set(&s[i])
	}
	if (len(s)-1)%stride != 0 {
		set(&s[len(s)-1]) // (the tail past the last stride)
	}
}
