package report

import (
	"bytes"
	"reflect"
	"sort"
	"testing"

	"github.com/stackscope/stackscope/internal/analysis"
)

// TestEntriesTextInOrder: the entries' text rendered by several workers
// in chunks is byte for byte the text of one loop over the entries, on
// Lua built as a shared object with --own-code (reasons, paths and the
// own-code tables of hundreds of entries), for chunk sizes that do and
// do not divide the entries and more workers than buffers hold chunks.
func TestEntriesTextInOrder(t *testing.T) {
	lua := buildLuaSharedWith(t, analysis.Options{OwnCode: true})
	o := AnalyzeOptions{MaxReasons: 8, TopFrames: 10}
	var one bytes.Buffer
	writeEntries(&one, lua.Entries, o, newTextMemo())
	if one.Len() < 100000 {
		t.Fatalf("the entries' text is %d bytes; want a long report", one.Len())
	}
	for _, c := range []struct{ workers, chunk int }{{2, 1}, {2, 7}, {3, 64}, {8, 5}, {2, len(lua.Entries)}} {
		var got bytes.Buffer
		entriesTextWith(&got, lua.Entries, o, c.workers, c.chunk)
		if !bytes.Equal(got.Bytes(), one.Bytes()) {
			t.Errorf("%d workers, chunks of %d: %d bytes differ from the one loop's %d", c.workers, c.chunk, got.Len(), one.Len())
		}
	}
}

// TestTopFramesIsStableSort: the largest frames are the first n of the
// functions sorted stably by frame, on the functions of Lua and the
// libraries it is followed into (many equal frames), for n from none to
// more than there are.
func TestTopFramesIsStableSort(t *testing.T) {
	fns := buildLuaShared(t).Functions
	sorted := append([]analysis.Function(nil), fns...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].FrameAtLeast > sorted[j].FrameAtLeast })
	ties := 0
	for i := 1; i < 50 && i < len(sorted); i++ {
		if sorted[i].FrameAtLeast == sorted[i-1].FrameAtLeast {
			ties++
		}
	}
	if ties == 0 {
		t.Fatal("no equal frames among the 50 largest: the order of ties goes untested")
	}
	for _, n := range []int{0, 1, 3, 10, 50, len(fns), len(fns) + 5} {
		want := sorted[:min(n, len(sorted))]
		if got := topFrames(fns, n); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("n=%d: %d functions differ from the stable sort's first %d", n, len(got), len(want))
		}
	}
}
