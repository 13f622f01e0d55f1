package frame

import "slices"

// SP moves down by a constant inside a loop whose executions the caller
// counted. `sub $0x30,%rsp` in a loop (an alloca per iteration, as in
// ld.so's _dl_debug_vdprintf) makes SP deeper on every walk round the
// loop, and the walk declares the frame Dynamic ("SP moves down in a
// loop"). A caller that proves how many times such moves run in one call
// (callgraph's counted-loop model: a counter checked against a constant
// on every way round the loop) gives their sites in Input.CountedMoves:
// the walk takes each as no move, so the loop settles, and the caller
// adds the moves' total to Size and to the depth of every call that may
// follow one. SP-relative addresses after such a move are not at a known
// depth (state.dyn), as after a VLA. Any other growth of SP in the loop
// (a push, a move the caller did not count) still makes the frame
// Dynamic.

// countedMove says whether the SP move at addr is one the caller counted,
// and records it.
func (w *walker) countedMove(addr uint64) bool {
	if w.in.CountedMoves == nil || !w.in.CountedMoves(addr) {
		return false
	}
	if i, found := slices.BinarySearch(w.fr.CountedMoves, addr); !found {
		w.fr.CountedMoves = slices.Insert(w.fr.CountedMoves, i, addr)
	}
	return true
}
