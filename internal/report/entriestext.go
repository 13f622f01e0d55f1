package report

import (
	"bytes"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/analysis"
)

// The entries' part of the text report (each entry's reasons, path and
// own code) is most of it for a large library: libLLVM-15's 36,687
// entries write 226 MB, about a second on one core. Each entry's text
// depends on the entry and the options alone, so chunks of entries are
// rendered on every core and written out in entry order: the same bytes
// as one loop over the entries.

// entryChunk is how many entries one rendering job writes.
const entryChunk = 64

// entriesText writes the text of every entry that needs more than its
// row in the verdict table, in entry order.
func entriesText(w io.Writer, entries []analysis.Entry, o AnalyzeOptions) {
	entriesTextWith(w, entries, o, min(runtime.GOMAXPROCS(0), 4), entryChunk)
}

// entriesTextWith is entriesText with workers goroutines rendering
// chunks of chunk entries (serially in w's goroutine when that is one
// chunk or one worker).
func entriesTextWith(w io.Writer, entries []analysis.Entry, o AnalyzeOptions, workers, chunk int) {
	if workers < 2 || len(entries) <= chunk {
		writeEntries(w, entries, o, newTextMemo())
		return
	}
	chunks := (len(entries) + chunk - 1) / chunk
	done := make([]chan *bytes.Buffer, chunks)
	for i := range done {
		done[i] = make(chan *bytes.Buffer, 1)
	}
	// The buffers bound how far the workers run ahead of the writer. A
	// worker takes its buffer before its chunk, so the chunk the writer
	// waits for always has one.
	free := make(chan *bytes.Buffer, 2*workers)
	for range 2 * workers {
		free <- new(bytes.Buffer)
	}
	// The workers take the next chunk from a shared counter (a channel
	// fed by a goroutine of its own left them parked until the feeder
	// got a core, some 370 times for libLLVM's text).
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A memo per worker: a list's text is the same whoever
			// writes it.
			why := newTextMemo()
			for {
				b := <-free
				i := int(next.Add(1) - 1)
				if i >= chunks {
					free <- b
					return
				}
				b.Reset()
				writeEntries(b, entries[i*chunk:min((i+1)*chunk, len(entries))], o, why)
				done[i] <- b
			}
		}()
	}
	for _, c := range done {
		b := <-c
		w.Write(b.Bytes())
		free <- b
	}
	wg.Wait()
}

// writeEntries writes the entries' texts, one after the other.
func writeEntries(w io.Writer, entries []analysis.Entry, o AnalyzeOptions, why *textMemo) {
	for _, e := range entries {
		// A bounded entry that calls nothing and assumes nothing says all
		// in the verdict table.
		if e.Bounded && len(e.Steps) <= 1 && len(e.Assumptions) == 0 && e.OwnCode == nil {
			continue
		}
		entryText(w, e, o, why)
		ownCodeText(w, e)
	}
}

// topFrames returns the n functions of the largest frames, largest
// first, functions of equal frames in the order of fns: the first n of
// fns sorted stably by frame, without sorting (or copying) all of them
// (libLLVM-15 and its libraries: 158,000 functions for 10).
func topFrames(fns []analysis.Function, n int) []analysis.Function {
	var top []analysis.Function
	for _, f := range fns {
		if len(top) == n && (n == 0 || f.FrameAtLeast <= top[n-1].FrameAtLeast) {
			continue
		}
		// After every kept function whose frame is as large or larger.
		i := sort.Search(len(top), func(i int) bool { return top[i].FrameAtLeast < f.FrameAtLeast })
		top = append(top, analysis.Function{})
		copy(top[i+1:], top[i:])
		top[i] = f
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

// textMemo is what one goroutine writing entries keeps from one entry to
// the next: the text of each reason list, the sizes written lately
// (size.Format, the same frames and depths again and again on the paths
// of a large library's entries), and the path table with its scratch.
type textMemo struct {
	reasons reasonsMemo
	sizes   map[int64]string
	path    *table
}

// maxMemoSizes bounds the sizes kept (depths are many: a map of every
// one would cost more memory than it saves time).
const maxMemoSizes = 1 << 14

func newTextMemo() *textMemo {
	return &textMemo{reasons: reasonsMemo{}, sizes: map[int64]string{}}
}

// bytes is Bytes(n), from the memo when it has it.
func (m *textMemo) bytes(n int64) string {
	if s, ok := m.sizes[n]; ok {
		return s
	}
	s := Bytes(n)
	if len(m.sizes) >= maxMemoSizes {
		clear(m.sizes)
	}
	m.sizes[n] = s
	return s
}

// table is the path table, emptied (one entry's at a time).
func (m *textMemo) table() *table {
	if m.path == nil {
		m.path = newTable("    ", true, true, false, false)
	}
	m.path.reset()
	return m.path
}
