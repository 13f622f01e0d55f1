package gdbrsp

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStub is an in-process stub on the other end of a net.Pipe: a small
// target with 16 registers and 4 KiB of memory at 0x20000000, answering
// as GDB's documentation describes (and as QEMU does where it differs:
// replies run-length encoded, no X until asked).
type fakeStub struct {
	t       *testing.T
	conn    net.Conn
	r       *bufio.Reader
	noAck   bool
	regs    [16]uint32
	mem     []byte
	base    uint64
	bps     map[uint64]bool
	watch   map[uint64]int
	noX     bool // answer X with an empty reply (not supported)
	corrupt int  // damage the checksum of this many replies
	mu      sync.Mutex
	log     []string // requests received
	resumed chan struct{}
	// onContinue, when set, decides the stop reply of a "c" (nil: wait
	// for an interrupt and reply T02).
	onContinue func(s *fakeStub) string
}

func newFakeStub(t *testing.T) (*fakeStub, *Client) {
	a, b := net.Pipe()
	s := &fakeStub{t: t, conn: a, r: bufio.NewReader(a), mem: make([]byte, 4096), base: 0x20000000,
		bps: map[uint64]bool{}, watch: map[uint64]int{}, resumed: make(chan struct{}, 4)}
	for i := range s.regs {
		s.regs[i] = uint32(i) * 0x11111111
	}
	go s.serve()
	t.Cleanup(func() { a.Close(); b.Close() })
	return s, NewClient(b)
}

// rawFrame frames a payload that is already encoded (run lengths, escapes).
func rawFrame(p string) []byte {
	var sum byte
	for i := 0; i < len(p); i++ {
		sum += p[i]
	}
	return []byte(fmt.Sprintf("$%s#%02x", p, sum))
}

// reply sends p as the stub's reply; a reply starting with "\x00raw:" is
// sent as it is (already run-length encoded).
func (s *fakeStub) reply(p string) {
	good := Frame([]byte(p))
	if raw, ok := strings.CutPrefix(p, "\x00raw:"); ok {
		good = rawFrame(raw)
	}
	f := append([]byte(nil), good...)
	s.mu.Lock()
	if s.corrupt > 0 {
		s.corrupt--
		// Another hex digit: a checksum that is wrong, not malformed.
		if f[len(f)-1] == '0' {
			f[len(f)-1] = '1'
		} else {
			f[len(f)-1] = '0'
		}
	}
	s.mu.Unlock()
	s.conn.Write(f)
	if !s.noAck {
		// Wait for the client's ack; on '-' send again (undamaged).
		for {
			kind, _, err := readFrame(s.r)
			if err != nil {
				return
			}
			if kind == frameAck {
				return
			}
			if kind == frameNak {
				s.conn.Write(good)
			}
		}
	}
}

// rle compresses runs the way stubs do (a run of 4 or more, never a
// count that would encode as '#' or '$').
func rle(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] && j-i < 97 {
			j++
		}
		n := j - i
		if n >= 4 && n-1+29 != '#' && n-1+29 != '$' && n-1+29 <= 126 {
			out.WriteByte(s[i])
			out.WriteByte('*')
			out.WriteByte(byte(n - 1 + 29))
		} else {
			out.WriteString(s[i:j])
		}
		i = j
	}
	return out.String()
}

func (s *fakeStub) serve() {
	for {
		kind, p, err := readFrame(s.r)
		if err != nil {
			return
		}
		if kind != framePacket {
			continue
		}
		if !s.noAck {
			s.conn.Write([]byte{'+'})
		}
		req := string(p)
		s.mu.Lock()
		s.log = append(s.log, req)
		s.mu.Unlock()
		switch {
		case strings.HasPrefix(req, "qSupported"):
			s.reply("PacketSize=80;QStartNoAckMode+;qXfer:features:read-")
		case req == "QStartNoAckMode":
			s.reply("OK")
			s.noAck = true
		case req == "?":
			s.reply("S05")
		case req == "g":
			var b []byte
			for _, r := range s.regs {
				b = append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
			}
			s.reply("\x00raw:" + rle(string(encodeHex(b))))
		case req[0] == 'p':
			n, _ := strconv.ParseUint(req[1:], 16, 8)
			if n >= 16 {
				s.reply("E14")
				continue
			}
			r := s.regs[n]
			s.reply(string(encodeHex([]byte{byte(r), byte(r >> 8), byte(r >> 16), byte(r >> 24)})))
		case req[0] == 'm':
			a, n := s.addrLen(req[1:])
			if a < s.base || a+n > s.base+uint64(len(s.mem)) {
				s.reply("E14")
				continue
			}
			s.reply("\x00raw:" + rle(string(encodeHex(s.mem[a-s.base:a-s.base+n]))))
		case req[0] == 'M' || req[0] == 'X':
			head, data, _ := strings.Cut(req[1:], ":")
			a, n := s.addrLen(head)
			if req[0] == 'X' && s.noX {
				s.reply("")
				continue
			}
			var b []byte
			if req[0] == 'M' {
				b, _ = DecodeHex([]byte(data))
			} else {
				b = []byte(data)
			}
			if uint64(len(b)) != n || a < s.base || a+n > s.base+uint64(len(s.mem)) {
				s.reply("E01")
				continue
			}
			copy(s.mem[a-s.base:], b)
			s.reply("OK")
		case req[0] == 'Z' || req[0] == 'z':
			parts := strings.Split(req[1:], ",")
			a, _ := strconv.ParseUint(parts[1], 16, 64)
			n, _ := strconv.ParseUint(parts[2], 16, 64)
			switch {
			case parts[0] == "0" && req[0] == 'Z':
				s.bps[a] = true
			case parts[0] == "0":
				delete(s.bps, a)
			case parts[0] == "2" && req[0] == 'Z':
				s.watch[a] = int(n)
			case parts[0] == "2":
				delete(s.watch, a)
			default:
				s.reply("")
				continue
			}
			s.reply("OK")
		case req == "c":
			s.resumed <- struct{}{}
			if s.onContinue != nil {
				s.reply(s.onContinue(s))
				continue
			}
			// Running: only an interrupt byte stops the target.
			for {
				kind, _, err := readFrame(s.r)
				if err != nil {
					return
				}
				if kind == frameInterrupt {
					break
				}
			}
			s.reply("T02thread:01;")
		case req == "s":
			s.regs[15] += 2
			s.reply(fmt.Sprintf("T05%02x:%s;thread:01;", 15, encodeHex([]byte{byte(s.regs[15]), byte(s.regs[15] >> 8), byte(s.regs[15] >> 16), byte(s.regs[15] >> 24)})))
		default:
			s.reply("")
		}
	}
}

func (s *fakeStub) addrLen(x string) (uint64, uint64) {
	as, ns, _ := strings.Cut(x, ",")
	a, _ := strconv.ParseUint(as, 16, 64)
	n, _ := strconv.ParseUint(ns, 16, 64)
	return a, n
}

func TestHandshakeNoAckAndPacketSize(t *testing.T) {
	_, c := newFakeStub(t)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if !c.NoAck() {
		t.Fatal("no-ack mode not negotiated")
	}
	if c.PacketSize != 0x80 {
		t.Fatalf("PacketSize = %d, want 0x80", c.PacketSize)
	}
	if c.Features["qXfer:features:read"] != "-" {
		t.Fatalf("features = %v", c.Features)
	}
}

func TestRegistersRunLengthDecoded(t *testing.T) {
	s, c := newFakeStub(t)
	s.regs[3] = 0 // a long run of zeros the stub compresses
	s.regs[4] = 0
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	g, err := c.ReadRegisters()
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 64 {
		t.Fatalf("g: %d bytes, want 64", len(g))
	}
	for i, want := range s.regs {
		got := uint32(g[4*i]) | uint32(g[4*i+1])<<8 | uint32(g[4*i+2])<<16 | uint32(g[4*i+3])<<24
		if got != want {
			t.Errorf("r%d = %#x, want %#x", i, got, want)
		}
	}
	p, err := c.ReadRegister(13)
	if err != nil || !bytes.Equal(p, []byte{0xdd, 0xdd, 0xdd, 0xdd}) {
		t.Fatalf("p d = %x, %v", p, err)
	}
	if _, err := c.ReadRegister(20); err == nil {
		t.Fatal("p14 on a stub that answers E14: no error")
	}
}

// TestMemoryChunksAndEscapes writes bytes that must be escaped in a binary
// write, across several packets (the stub's packet size is 0x80), and
// reads them back; then again through hex M when the stub refuses X.
func TestMemoryChunksAndEscapes(t *testing.T) {
	for _, noX := range []bool{false, true} {
		s, c := newFakeStub(t)
		s.noX = noX
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 700)
		for i := range data {
			data[i] = "$#}*\x03\x00ab"[i%8]
		}
		if err := c.WriteMemory(0x20000010, data); err != nil {
			t.Fatalf("noX=%v: %v", noX, err)
		}
		if !bytes.Equal(s.mem[0x10:0x10+700], data) {
			t.Fatalf("noX=%v: memory differs after write", noX)
		}
		back, err := c.ReadMemory(0x20000010, 700)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, data) {
			t.Fatalf("noX=%v: read back differs", noX)
		}
		var xs, ms int
		for _, r := range s.log {
			switch r[0] {
			case 'X':
				xs++
			case 'M':
				ms++
			}
		}
		if noX && ms < 2 || !noX && (xs < 3 || ms != 0) {
			t.Fatalf("noX=%v: %d X and %d M requests", noX, xs, ms)
		}
		if _, err := c.ReadMemory(0x10, 4); err == nil {
			t.Fatal("reading unmapped memory: no error")
		}
	}
}

// TestAckModeResendsDamagedReply: without no-ack, a reply with a bad
// checksum is refused with '-' and the stub's resend is used.
func TestAckModeResendsDamagedReply(t *testing.T) {
	s, c := newFakeStub(t)
	s.corrupt = 1
	r, err := c.Exchange("?")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStop(r)
	if err != nil || st.Signal != SIGTRAP {
		t.Fatalf("? = %q (%v)", r, err)
	}
}

func TestBreakWatchContinueInterrupt(t *testing.T) {
	s, c := newFakeStub(t)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBreakpoint(0x1234, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWatchpoint(WriteWatchpoint, 0x20000400, 4); err != nil {
		t.Fatal(err)
	}
	if !s.bps[0x1234] || s.watch[0x20000400] != 4 {
		t.Fatalf("stub has breakpoints %v watchpoints %v", s.bps, s.watch)
	}
	if err := c.RemoveWatchpoint(WriteWatchpoint, 0x20000400, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveBreakpoint(0x1234, 2); err != nil {
		t.Fatal(err)
	}
	if len(s.bps) != 0 || len(s.watch) != 0 {
		t.Fatalf("not removed: %v %v", s.bps, s.watch)
	}
	if err := c.SetWatchpoint(ReadWatchpoint, 0x20000400, 4); err == nil {
		t.Fatal("a watchpoint type the stub does not support: no error")
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	<-s.resumed
	done := make(chan *Stop)
	go func() {
		st, err := c.Wait()
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	time.Sleep(10 * time.Millisecond)
	if err := c.Interrupt(); err != nil {
		t.Fatal(err)
	}
	st := <-done
	if st == nil || st.Kind != Signal || st.Signal != SIGINT || st.Thread != "01" {
		t.Fatalf("stop after interrupt: %+v", st)
	}
	st, err := c.Step()
	if err != nil {
		t.Fatal(err)
	}
	if pc := st.Registers[15]; len(pc) != 4 || pc[0] != byte(s.regs[15]) {
		t.Fatalf("step: pc register in stop reply %x, stub pc %#x", pc, s.regs[15])
	}
}

// TestWaitConsoleAndExit: "O" packets go to Console, and the "W" reply
// ends the wait with the exit status.
func TestWaitConsoleAndExit(t *testing.T) {
	s, c := newFakeStub(t)
	var console bytes.Buffer
	c.Console = &console
	s.onContinue = func(s *fakeStub) string {
		s.reply("O" + string(encodeHex([]byte("hello\n"))))
		return "W2a"
	}
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Continue()
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != Exited || st.ExitStatus != 42 {
		t.Fatalf("stop = %+v", st)
	}
	if console.String() != "hello\n" {
		t.Fatalf("console = %q", console.String())
	}
}

func TestParseStop(t *testing.T) {
	cases := []struct {
		in   string
		want Stop
	}{
		{"S05", Stop{Kind: Signal, Signal: 5}},
		{"T05watch:20001ffc;thread:p1.1;", Stop{Kind: Signal, Signal: 5, Watch: "watch", WatchAddr: 0x20001ffc, Thread: "p1.1"}},
		{"T05hwbreak:;thread:01;", Stop{Kind: Signal, Signal: 5, HWBreak: true, Thread: "01"}},
		{"T05swbreak:;core:0;", Stop{Kind: Signal, Signal: 5, SWBreak: true}},
		{"W00", Stop{Kind: Exited}},
		{"W01;process:1", Stop{Kind: Exited, ExitStatus: 1}},
		{"X0b", Stop{Kind: Terminated, Signal: 11}},
	}
	for _, c := range cases {
		got, err := ParseStop([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		c.want.Raw = c.in
		if got.Kind != c.want.Kind || got.Signal != c.want.Signal || got.ExitStatus != c.want.ExitStatus ||
			got.Watch != c.want.Watch || got.WatchAddr != c.want.WatchAddr || got.HWBreak != c.want.HWBreak ||
			got.SWBreak != c.want.SWBreak || got.Thread != c.want.Thread {
			t.Errorf("%s: got %+v, want %+v", c.in, *got, c.want)
		}
	}
	for _, bad := range []string{"", "S", "Sxx", "T05watch:zz;", "Q05", "T05nocolon;", "Wzz"} {
		if _, err := ParseStop([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDecode(t *testing.T) {
	cases := map[string]string{
		"0* ":     "0000",   // ' ' = 32: 3 more
		"}]":      "}",      // escaped '}'
		"a}\x03b": "a#b",    // escaped '#'
		"x*\"":    "xxxxxx", // '"' = 34: 5 more
		"OK":      "OK",
	}
	for in, want := range cases {
		got, err := Decode([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Decode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"*a", "a}", "a*", "a*\x01"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q): no error", bad)
		}
	}
	// Frame and readFrame are inverses, whatever the bytes.
	payload := []byte("X20000000,4:$#}*")
	kind, got, err := readFrame(bufio.NewReader(bytes.NewReader(Frame(payload))))
	if err != nil || kind != framePacket || !bytes.Equal(got, payload) {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if _, _, err := readFrame(bufio.NewReader(strings.NewReader("$OK#00"))); err != ErrChecksum {
		t.Fatalf("bad checksum: %v", err)
	}
}
