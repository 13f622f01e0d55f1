package report

import (
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/bound"
)

// verdictMemo gives the verdict table's verdicts (Verdict), each list's
// once. An unbounded entry's verdict is made of its reasons alone, a
// bounded one's (without a budget) of its assumptions alone, and a large
// library's entries share those lists (analysis' sharedLists): libLLVM-15's
// 36,687 verdicts each counted the kinds of up to 50 reasons into a map
// of their own, a tenth of a second on one core while the other waited
// for the entries' text. A list is known by its first element's address
// and its length: the report only reads the result, so the same list
// says the same. Empty lists are not kept (their verdict is cheap).
type verdictMemo struct {
	budget     int64
	reasons    map[listKey[bound.Reason]]string
	assumption map[listKey[bound.Assumption]]string
}

// listKey is a list known by where it starts and how long it is.
type listKey[T any] struct {
	first *T
	n     int
}

func newVerdictMemo(budget int64) *verdictMemo {
	return &verdictMemo{budget: budget, reasons: map[listKey[bound.Reason]]string{}, assumption: map[listKey[bound.Assumption]]string{}}
}

// of is Verdict(e, budget).
func (m *verdictMemo) of(e analysis.Entry) string {
	switch {
	case !e.Bounded && len(e.Reasons) > 0:
		return memoized(m.reasons, e.Reasons, func() string { return Verdict(e, m.budget) })
	case e.Bounded && m.budget <= 0 && len(e.Assumptions) > 0:
		return memoized(m.assumption, e.Assumptions, func() string { return Verdict(e, m.budget) })
	}
	return Verdict(e, m.budget)
}

// memoized is memo's text for list (not empty), made by text the first
// time.
func memoized[T any](memo map[listKey[T]]string, list []T, text func() string) string {
	k := listKey[T]{&list[0], len(list)}
	if v, ok := memo[k]; ok {
		return v
	}
	v := text()
	memo[k] = v
	return v
}
