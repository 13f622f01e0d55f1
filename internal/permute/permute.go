// Package permute puts a list in a new order in place: each element moved
// once, no second list. Sorting large structs (a program's 77,000
// functions of 120-200 bytes) moved each many times; sorting small keys
// that remember their places, then moving each struct once to its own
// place, is what binfile and analysis do instead.
package permute

// Gather makes xs[i] the element that was at xs[from[i]], for every i, in
// place; from must be a permutation of 0..len(xs)-1, and is used up (its
// entries are set to -1). It follows each cycle of the permutation once.
func Gather[T any](xs []T, from []int) {
	for start := range from {
		if from[start] < 0 || from[start] == start {
			continue
		}
		held := xs[start]
		at := start
		for {
			next := from[at]
			from[at] = -1
			if next == start {
				xs[at] = held
				break
			}
			xs[at] = xs[next]
			at = next
		}
	}
}
