package libcache

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"sync/atomic"

	"github.com/stackscope/stackscope/internal/beside"
	"github.com/stackscope/stackscope/internal/cachefile"
	"github.com/stackscope/stackscope/internal/frame"
)

// An entry's payload (behind cachefile's magic and checksum) is a list
// of parts, each a gob stream of its own, each preceded by its length as
// a uvarint after the count of parts (a uvarint too): the first part is
// the head (header, facts, how many frames follow), each other a run of
// at most partFrames frames. Apart, the parts are encoded and decoded on
// every core, and an entry for another build or library is known before
// a frame is decoded. One gob stream of node's 150,000 frames (10 MB)
// took 0.25 s to decode on one core, on the path of every analysis that
// reads it, and 0.2 s to encode.

// partFrames is how many frames a part holds at most.
const partFrames = 4096

// head is an entry's first part.
type head struct {
	Header header // a named field: gob leaves out an embedded unexported one
	Facts  map[string]int64
	Frames int // how many frames the other parts hold
}

// entry is an entry as read.
type entry struct {
	Header header
	Facts  map[string]int64
	Parts  [][]record // the frames, by part
}

type record struct {
	Addr, Size uint64
	Frame      frame.Frame
}

// frames is how many frames e holds.
func (e entry) frames() int {
	n := 0
	for _, p := range e.Parts {
		n += len(p)
	}
	return n
}

// readEntry reads the entry at path; false when it is missing, truncated,
// corrupted, or for another build of stackscope or another library.
func readEntry(path string, want header) (entry, bool) {
	payload, ok := cachefile.Read(path, magic)
	if !ok {
		return entry{}, false
	}
	parts, ok := splitParts(payload)
	if !ok || len(parts) == 0 {
		return entry{}, false
	}
	var h head
	if !decodeGob(parts[0], &h) {
		return entry{}, false
	}
	want.Schema = Schema
	if h.Header != want {
		return entry{}, false
	}
	frames := parts[1:]
	if h.Frames < 0 || h.Frames > len(frames)*partFrames {
		return entry{}, false
	}
	e := entry{Header: h.Header, Facts: h.Facts, Parts: make([][]record, len(frames))}
	var bad atomic.Bool
	beside.Each(len(frames), func(i int) {
		if !decodeGob(frames[i], &e.Parts[i]) || len(e.Parts[i]) > partFrames {
			bad.Store(true)
		}
	})
	if bad.Load() || e.frames() != h.Frames {
		return entry{}, false
	}
	return e, true
}

// splitParts cuts a payload into its parts; false when the lengths do
// not add up to the payload.
func splitParts(payload []byte) ([][]byte, bool) {
	n, k := binary.Uvarint(payload)
	if k <= 0 || n > uint64(len(payload)) {
		return nil, false
	}
	payload = payload[k:]
	parts := make([][]byte, 0, n)
	for range n {
		size, k := binary.Uvarint(payload)
		if k <= 0 || size > uint64(len(payload)-k) {
			return nil, false
		}
		parts = append(parts, payload[k:k+int(size)])
		payload = payload[k+int(size):]
	}
	return parts, len(payload) == 0
}

// decodeGob decodes one gob stream into v; false on any error, a panic
// of the decoder included (the checksum makes that a bug or a hostile
// file, never a frame).
func decodeGob(data []byte, v any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v) == nil
}

// encodeEntry is the payload of an entry with header hdr, the facts, and
// n frames, which fill(lo, hi, buf) appends to buf (the frames lo to hi
// in any fixed order): the parts are encoded on every core.
func encodeEntry(hdr header, facts map[string]int64, n int, fill func(lo, hi int, buf []record) []record) ([]byte, error) {
	hdr.Schema = Schema
	nparts := (n + partFrames - 1) / partFrames
	parts := make([][]byte, 1+nparts)
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&head{Header: hdr, Facts: facts, Frames: n}); err != nil {
		return nil, err
	}
	parts[0] = b.Bytes()
	var failed atomic.Pointer[error]
	beside.Each(nparts, func(i int) {
		lo, hi := i*partFrames, min(n, (i+1)*partFrames)
		recs := fill(lo, hi, make([]record, 0, hi-lo))
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(recs); err != nil {
			failed.Store(&err)
			return
		}
		parts[1+i] = b.Bytes()
	})
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	size := binary.MaxVarintLen64 * (len(parts) + 1)
	for _, p := range parts {
		size += len(p)
	}
	out := binary.AppendUvarint(make([]byte, 0, size), uint64(len(parts)))
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out, nil
}
