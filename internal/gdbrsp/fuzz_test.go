package gdbrsp

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to the packet reader: it must
// never panic or allocate without bound, and every packet it accepts must
// come back the same after Frame and a second read (escapes and run
// lengths undone exactly once). Stop replies among them go to ParseStop.
// Seeds: testdata/fuzz/FuzzReadFrame.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"+$OK#9a", "$T05thread:p01.01;watch:203ffff0;#00", "$W07#b7", "-%Stop:T05#00",
		"$0*}#00", "$}]}\x03#00", "\x03$S05#b8", "$$$#00", "$T05hwbreak:;core:0;0f:78563412;#00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for i := 0; i < 64; i++ {
			kind, p, err := readFrame(r)
			if err == ErrChecksum {
				continue
			}
			if err != nil {
				return
			}
			if kind != framePacket && kind != frameNotification {
				continue
			}
			if len(p) > MaxPacket {
				t.Fatalf("payload of %d bytes passed the limit", len(p))
			}
			k2, p2, err := readFrame(bufio.NewReader(bytes.NewReader(Frame(p))))
			if err != nil || k2 != framePacket || !bytes.Equal(p, p2) {
				t.Fatalf("round trip of %q: %q, %v", p, p2, err)
			}
			if st, err := ParseStop(p); err == nil && st.Raw != string(p) {
				t.Fatalf("stop reply %q kept as %q", p, st.Raw)
			}
		}
	})
}
