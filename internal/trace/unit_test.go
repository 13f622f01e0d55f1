//go:build linux && amd64

package trace

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHumanBytesAndCommas(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 812: "812 B", 8192: "8,192 B", 7680: "7,680 B", 10240: "10.0 KiB", 8 << 20: "8.0 MiB", 3 << 30: "3.0 GiB", 1<<64 - 1: "8.0 EiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Commas(6144); got != "6,144" {
		t.Errorf("Commas = %q", got)
	}
	if got := Commas(1234567); got != "1,234,567" {
		t.Errorf("Commas = %q", got)
	}
}

func TestTextReportVerdictFirstAndAligned(t *testing.T) {
	size := uint64(8192)
	r := &Result{ExitStatus: 139,
		Threads: []*Thread{
			{TID: 1234, Kind: KindMain, Peak: 12000, PeakMeasured: true, Ended: EndedKilled, Signal: "SIGSEGV"},
			{TID: 1235, Kind: KindClone, StackSize: &size, Peak: 8192, PeakMeasured: true, Ended: EndedCrash, Signal: "SIGSEGV"},
		},
		Crash: &Crash{Class: ClassStackOverflow, TID: 1235, Kind: KindClone, Signal: "SIGSEGV", Function: "dive",
			Detail: "the 8,192 B clone() stack of thread 1235 overflowed by 6,144 B into the heap"},
	}
	var b bytes.Buffer
	r.WriteText(&b)
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], "stackscope: STACK OVERFLOW in thread 1235 (clone) in dive") {
		t.Errorf("verdict line %q", lines[0])
	}
	var table []string
	for _, l := range lines {
		if strings.Contains(l, "KIND") || strings.Contains(l, "123") && (strings.Contains(l, "%") || strings.Contains(l, "none")) || strings.Contains(l, " ? ") {
			table = append(table, l)
		}
	}
	if len(table) != 3 {
		t.Fatalf("table rows %q", table)
	}
	col := strings.Index(table[0], "ENDED")
	for _, row := range table[1:] {
		if len(row) < col || row[col-1] != ' ' {
			t.Errorf("column ENDED not aligned in %q", row)
		}
	}
}

func TestFindCycle(t *testing.T) {
	pcs := []uint64{1, 2, 3, 4, 3, 4, 3, 4, 3, 4}
	s, p, ok := findCycle(pcs)
	if !ok || p != 2 || s != 2 {
		t.Errorf("findCycle = %d %d %v", s, p, ok)
	}
	if _, _, ok := findCycle([]uint64{1, 2, 3, 4, 5}); ok {
		t.Errorf("cycle found in a plain backtrace")
	}
}

// An orphan's finding says why its creator's event never came: the
// creator was ending (the kernel's usual reason), or it lived on and the
// event did not come in time or before the trace ended.
func TestOrphanReason(t *testing.T) {
	for _, c := range []struct {
		lives  bool
		waited time.Duration
		want   string
	}{
		{false, 0, "the creator was ending"},
		{false, 5 * time.Second, "the creator was ending"},
		{true, orphanWait, "none came within 2s"},
		{true, time.Millisecond, "none came before the trace ended"},
	} {
		if got := orphanReason(c.lives, c.waited); got != c.want {
			t.Errorf("orphanReason(%v, %v) = %q, want %q", c.lives, c.waited, got, c.want)
		}
	}
}
