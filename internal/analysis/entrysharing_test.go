package analysis

import (
	"reflect"
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
)

// TestEntrySharingReasons: Lua as a shared object, whose exported entries
// take reason lists made for earlier entries (bound.EntrySharing) instead
// of copies of their own: every entry's reasons are, apart from the
// suggestion and group that actionable adds, what a fresh bound.Entry of
// it gives, located; and lists are in fact shared.
func TestEntrySharingReasons(t *testing.T) {
	res := buildLuaShared(t)
	shared := 0
	seen := map[*bound.Reason]bool{}
	for _, e := range res.Entries {
		b := res.Bounds.Entry(bound.Spec{Name: e.Name, Node: e.Node, Kind: e.Kind})
		res.locateReasons(b.Reasons)
		got := make([]bound.Reason, len(e.Reasons))
		for i, r := range e.Reasons {
			r.Suggestion, r.Group = "", ""
			got[i] = r
		}
		if len(got) != len(b.Reasons) || len(got) > 0 && !reflect.DeepEqual(got, b.Reasons) {
			t.Errorf("%s: %d reasons, a fresh bound.Entry gives %d (or different ones)", e.Name, len(got), len(b.Reasons))
		}
		if len(e.Reasons) > 0 {
			if seen[&e.Reasons[0]] {
				shared++
			}
			seen[&e.Reasons[0]] = true
		}
	}
	if shared < 10 {
		t.Errorf("only %d entries share a reason list with an earlier one", shared)
	}
}

// TestEntrySharingAssumptions: the same for assumptions, which an entry
// takes from an earlier one with the same ranks (without exclusions:
// with them each entry's list says what it would be without) instead of
// a copy it would locate again: every entry's are, located, what a fresh
// bound.Entry gives, and lists are in fact shared.
func TestEntrySharingAssumptions(t *testing.T) {
	res := buildLuaSharedWith(t, Options{})
	shared, with := 0, 0
	seen := map[*bound.Assumption]bool{}
	for _, e := range res.Entries {
		b := res.Bounds.Entry(bound.Spec{Name: e.Name, Node: e.Node, Kind: e.Kind})
		want := res.entryResult(b).Assumptions
		if !reflect.DeepEqual(e.Assumptions, want) {
			t.Errorf("%s: %d assumptions, a fresh bound.Entry gives %d (or different ones)", e.Name, len(e.Assumptions), len(want))
		}
		if len(e.Assumptions) > 0 {
			with++
			if seen[&e.Assumptions[0]] {
				shared++
			}
			seen[&e.Assumptions[0]] = true
		}
	}
	if with < 10 || shared < 10 {
		t.Errorf("%d entries have assumptions, %d share a list with an earlier one: want >= 10 each", with, shared)
	}
}
