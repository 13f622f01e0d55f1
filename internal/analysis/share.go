package analysis

import (
	"encoding/binary"

	"github.com/stackscope/stackscope/internal/bound"
)

// Entries of a shared object share most of their reasons: the lists are
// the first MaxReasons of a common order, and libLLVM's 36,000 exported
// functions held 7 million copies (1.5 GB) of a few thousand lists.
// reasonLists gives entries whose lists are equal one list. A shared
// list is never written again: code that changes an entry's reasons
// (actionable) makes a new list and shares that.
type reasonLists struct {
	byKey map[string][]bound.Reason
	key   []byte
}

func newReasonLists() *reasonLists { return &reasonLists{byKey: map[string][]bound.Reason{}} }

// share returns the list equal to rs, the reasons of entry node id with
// the extra numbers tags (what was added to each reason, the same for
// equal lists: nil when nothing was), keeping rs when it is the first.
// A list not read from the bound's ranks (an entry not analysed) is
// kept as it is.
func (l *reasonLists) share(b *bound.Analysis, id int, before []bound.Reason, tags []int32, rs []bound.Reason) []bound.Reason {
	if b == nil {
		return rs
	}
	ranks := b.ReasonRanks(id)
	if len(ranks) == 0 || len(ranks) != len(before) || len(ranks) != len(rs) || tags != nil && len(tags) != len(rs) {
		return rs
	}
	l.key = l.key[:0]
	for i, r := range ranks {
		l.key = binary.LittleEndian.AppendUint32(l.key, uint32(r))
		if tags != nil {
			l.key = binary.LittleEndian.AppendUint32(l.key, uint32(tags[i]))
		}
	}
	if s, ok := l.byKey[string(l.key)]; ok {
		return s
	}
	l.byKey[string(l.key)] = rs
	return rs
}
