package callgraph

import (
	"sync"

	"github.com/stackscope/stackscope/internal/binfile"
)

// recentAnswers keeps the last few answers derived made for a linearKey
// in a run over one program, where they are not kept with the file
// (argshared.go). The questions about one function come in runs: of
// node's 3,389 linear decodes, 2,011 were of the function decoded just
// before (the resolution's and the models' questions about one libc
// function, one after the other), and they made 114 of the 167 MB those
// decodes allocated (issue 19, the page faults of a run are the heap it
// grows to). Kept for a few keys only, the answers add at most a few MB
// to the live heap, where keeping every answer to the end of the analysis
// raised node's peak RSS by some 45 MB.
//
// An answer is a function of its key and the file's bytes alone (that is
// what lets a run over several programs share it), and callers never
// change it: the one kept is the one that would be made again.
type recentAnswers struct {
	mu    sync.Mutex
	next  int
	keys  [recentAnswerSlots]linearKey
	files [recentAnswerSlots]*binfile.File // (a key is per file)
	vals  [recentAnswerSlots]any
	used  [recentAnswerSlots]bool
	hits  int // answers given again (for a test)
}

// keepRecentAnswers is false only in a test that makes every answer
// again, to compare.
var keepRecentAnswers = true

// recentAnswerSlots is how many answers recentAnswers keeps: one would
// catch almost every repeat on one goroutine; a few more keep two
// goroutines asking about two functions at once from evicting each other.
const recentAnswerSlots = 4

// get returns the answer kept for k in file f, if one is.
func (r *recentAnswers) get(f *binfile.File, k linearKey) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.keys {
		if r.used[i] && r.files[i] == f && r.keys[i] == k {
			r.hits++
			return r.vals[i], true
		}
	}
	return nil, false
}

// put keeps v as k's answer in file f, in place of the oldest kept.
func (r *recentAnswers) put(f *binfile.File, k linearKey, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.keys {
		if r.used[i] && r.files[i] == f && r.keys[i] == k {
			return // made meanwhile on another goroutine: the same answer
		}
	}
	r.keys[r.next], r.files[r.next], r.vals[r.next], r.used[r.next] = k, f, v, true
	r.next = (r.next + 1) % recentAnswerSlots
}
