package analysis

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/bound"
)

// Entries of a shared object share most of their reasons and assumptions:
// the lists are the first MaxReasons (MaxAssumptions) of a common order,
// and libLLVM's 36,000 exported functions held 7 million copies (1.5 GB)
// of a few thousand reason lists. sharedLists gives entries whose lists
// are equal one list. A shared list is never written again: code that
// changes an entry's list (actionable) makes a new one and shares that.
type sharedLists[T any] struct {
	byKey map[string][]T
	key   []byte
}

func newSharedLists[T any]() *sharedLists[T] { return &sharedLists[T]{byKey: map[string][]T{}} }

// reasonLists share reason lists.
type reasonLists = sharedLists[bound.Reason]

func newReasonLists() *reasonLists { return newSharedLists[bound.Reason]() }

// share returns the list equal to list, keeping list when it is the
// first. What makes lists equal: the bound's ranks they were made from
// (the same ranks give the same items in the same order, each then
// changed only by what depends on the item alone), and tags, what was
// added to each item (nil when nothing was). Without ranks (an entry
// not analysed) list is kept as it is.
func (l *sharedLists[T]) share(ranks, tags []int32, list []T) []T {
	if len(ranks) == 0 {
		return list
	}
	if s, ok := l.lookup(ranks, tags); ok {
		return s
	}
	// Full: an append to a shared list must copy it.
	list = list[:len(list):len(list)]
	l.byKey[string(l.key)] = list
	return list
}

// lookup returns the list shared under ranks and tags (share), if any,
// and leaves its key in l.key.
func (l *sharedLists[T]) lookup(ranks, tags []int32) ([]T, bool) {
	l.key = l.key[:0]
	for i, r := range ranks {
		l.key = binary.LittleEndian.AppendUint32(l.key, uint32(r))
		if tags != nil {
			l.key = binary.LittleEndian.AppendUint32(l.key, uint32(tags[i]))
		}
	}
	if len(ranks) == 0 {
		return nil, false
	}
	s, ok := l.byKey[string(l.key)]
	return s, ok
}

// reasonRanks are the bound's ranks of entry node id's reasons (nil
// without a bound).
func (res *Result) reasonRanks(id int) []int32 {
	if res.Bounds == nil {
		return nil
	}
	return res.Bounds.ReasonRanks(id)
}
