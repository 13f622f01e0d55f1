package callgraph

import "iter"

// funcNodes maps a function index of a module's file to the function's
// node (Module.nodes). A slice by function index, not a map: nodeFor asks
// it at every direct call the resolution links, and completeModule of
// every function of a module; as a map its lookups were some 0.03 s of
// node's resolution on the analysis' goroutine alone (perf: nodeFor's and
// completeModule's mapaccess2_fast64).
type funcNodes struct {
	ids   []int32 // node + 1 at each function index; 0: no node yet
	count int     // functions with a node
}

// newFuncNodes returns the table of a file of n functions.
func newFuncNodes(n int) funcNodes {
	return funcNodes{ids: make([]int32, n)}
}

// get returns the node of function fi, if it has one.
func (t *funcNodes) get(fi int) (int, bool) {
	if fi < 0 || fi >= len(t.ids) || t.ids[fi] == 0 {
		return 0, false
	}
	return int(t.ids[fi]) - 1, true
}

// has says whether function fi has a node.
func (t *funcNodes) has(fi int) bool {
	_, ok := t.get(fi)
	return ok
}

// set records id as function fi's node.
func (t *funcNodes) set(fi, id int) {
	for fi >= len(t.ids) {
		t.ids = append(t.ids, 0)
	}
	if t.ids[fi] == 0 {
		t.count++
	}
	t.ids[fi] = int32(id + 1)
}

// len is the number of functions with a node.
func (t *funcNodes) len() int { return t.count }

// all yields the nodes of the functions, in function order.
func (t *funcNodes) all() iter.Seq[int] {
	return func(yield func(int) bool) {
		for _, v := range t.ids {
			if v != 0 && !yield(int(v)-1) {
				return
			}
		}
	}
}
