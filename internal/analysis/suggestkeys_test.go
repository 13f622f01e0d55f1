package analysis

import (
	"testing"

	"github.com/stackscope/stackscope/internal/config"
)

// TestSuggestionsOnTheirOwn: every reason of every entry of Lua built as a
// shared object carries the suggestion and group made for it alone
// (suggestion, with the library call reachedThrough names and the entry's
// functions that never return), as when actionable made each reason's
// key from its strings instead of numbering the bound's ranks once.
func TestSuggestionsOnTheirOwn(t *testing.T) {
	res := buildLuaShared(t)
	bo := boundOptions(res.Graph, withExcludes(&config.Config{}, []string{"luaG_runerror"}))
	rt := newReachedThrough(res, bo)
	checked, ranked, through := 0, 0, 0
	for _, e := range res.Entries {
		never := map[string]bool{}
		for _, n := range e.NeverReturns {
			never[n.Function] = true
		}
		if len(res.reasonRanks(e.Node)) == len(e.Reasons) && len(e.Reasons) > 0 {
			ranked++
		}
		reach := rt.first(e.Node, e.Reasons)
		for _, r := range e.Reasons {
			var via []int
			if lib, ok := reach[reasonKeyOf(r)]; ok {
				via = []int{lib}
				through++
			}
			checked++
			if want := res.suggestion(r, via, never); r.Suggestion != want {
				t.Errorf("%s: reason %s %s at %#x: suggestion %q, want %q", e.Name, r.Kind, r.Function, r.Addr, r.Suggestion, want)
			}
			if want := ReasonGroup(r); r.Group != want {
				t.Errorf("%s: reason %s %s: group %q, want %q", e.Name, r.Kind, r.Function, r.Group, want)
			}
		}
	}
	// Not vacuous: entries whose reasons come by rank, and library
	// reasons whose suggestion names the call that reaches them.
	if ranked < 50 || through < 50 {
		t.Errorf("%d reasons checked: %d entries with ranked reasons, %d reasons reached through a library call (want >= 50 each)", checked, ranked, through)
	}
	t.Logf("%d reasons of %d entries checked: %d entries ranked, %d reached through a library call", checked, len(res.Entries), ranked, through)
}
