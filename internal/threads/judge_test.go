package threads

import (
	"testing"

	"github.com/stackscope/stackscope/internal/bound"
)

func TestJudge(t *testing.T) {
	site := func(size int64, known bool, ctx int64) Site {
		return Site{EntryNode: 1, Size: size, SizeKnown: known, Context: ctx, SizeWhy: "no constant"}
	}
	atLeast := func(size int64) Site {
		s := site(size, true, 0)
		s.SizeMin = true
		return s
	}
	bounded := func(b int64) bound.Entry { return bound.Entry{Bounded: true, Bound: b, AtLeast: b} }
	unbounded := func(least int64) bound.Entry {
		return bound.Entry{AtLeast: least, Reasons: []bound.Reason{{Kind: "recursion", Function: "f"}}}
	}
	for _, c := range []struct {
		name     string
		s        Site
		b        bound.Entry
		override int64
		status   string
		text     string
		over     int64
	}{
		{"fits", site(1024, true, 0), bounded(1000), 0, "ok", "ok", 0},
		{"exact", site(1024, true, 24), bounded(1000), 0, "ok", "ok", 0},
		{"context tips it", site(1024, true, 64), bounded(1000), 0, "overflow", "overflow by 40 B", 40},
		{"over", site(16384, true, 0), bounded(20000), 0, "overflow", "overflow by 3,616 B", 3616},
		{"lower bound over", site(8192, true, 0), unbounded(9000), 0, "overflow", "overflow by at least 808 B", 808},
		{"lower bound under", site(8192, true, 0), unbounded(100), 0, "unknown", "unknown", 0},
		{"size unknown", site(0, false, 0), bounded(100), 0, "unknown", "unknown", 0},
		{"budget overrides", site(0, false, 0), bounded(100), 4096, "ok", "ok", 0},
		{"budget too small", site(1<<20, true, 0), bounded(5000), 4096, "overflow", "overflow by 904 B", 904},
		{"entry unknown", Site{EntryNode: -1, EntryWhy: "x"}, bound.Entry{}, 0, "unknown", "unknown", 0},
		// A size only known from below (glibc's minimum): ok is proved
		// when the need fits it, an overflow never is.
		{"at least, fits", atLeast(16384), bounded(16000), 0, "ok", "ok", 0},
		{"at least, over", atLeast(16384), bounded(20000), 0, "unknown", "unknown", 0},
		{"at least, lower bound over", atLeast(16384), unbounded(20000), 0, "unknown", "unknown", 0},
		{"at least, budget", atLeast(16384), bounded(20000), 16384, "overflow", "overflow by 3,616 B", 3616},
	} {
		v := Judge(c.s, c.b, c.override)
		if v.Status != c.status || v.Text() != c.text || v.Over != c.over {
			t.Errorf("%s: %+v (%q), want %s %q over %d", c.name, v, v.Text(), c.status, c.text, c.over)
		}
		if v.Status == "unknown" && v.Why == "" {
			t.Errorf("%s: unknown without a reason", c.name)
		}
	}
}
