// Package gdbrsp is a client of the GDB remote serial protocol: packets,
// checksums, escaping and run-length decoding, and the requests a debugger
// sends a stub (registers, memory, breakpoints, watchpoints, continue, step,
// interrupt) with their stop replies. It knows packets, not QEMU.
//
// Written here rather than imported: the Go module proxy has no small,
// maintained client of the protocol. Delve's pkg/proc/gdbserial (the one
// well-kept Go implementation) is built around delve's process and thread
// model, an x86/arm64 register layout and lldb-server/rr quirks, and cannot
// be used without it; the few standalone repositories found by searching
// for "gdb remote protocol" in Go are servers (stubs), not clients, or
// unmaintained. The protocol is small enough that the client is a few
// hundred lines.
package gdbrsp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxPacket bounds the payload of one received packet after decoding, so
// that a broken or hostile stub cannot make the client allocate without
// end.
const MaxPacket = 1 << 20

// ErrChecksum is a packet whose checksum does not match its data.
var ErrChecksum = errors.New("gdbrsp: bad packet checksum")

// ProtocolError is a malformed packet or reply: what was wrong and the
// payload (cut short) it was found in.
type ProtocolError struct {
	Problem string
	Payload string
}

func (e *ProtocolError) Error() string {
	p := e.Payload
	if len(p) > 64 {
		p = p[:64] + "..."
	}
	if p == "" {
		return "gdbrsp: " + e.Problem
	}
	return fmt.Sprintf("gdbrsp: %s in %q", e.Problem, p)
}

// Frame wraps a payload into a packet: "$" data "#" checksum, with the
// bytes that cannot appear raw ('$', '#', '}', '*') escaped.
func Frame(payload []byte) []byte {
	out := make([]byte, 0, len(payload)+4)
	out = append(out, '$')
	var sum byte
	for _, b := range payload {
		if b == '$' || b == '#' || b == '}' || b == '*' {
			out = append(out, '}')
			sum += '}'
			b ^= 0x20
		}
		out = append(out, b)
		sum += b
	}
	return append(out, '#', hexDigit(sum>>4), hexDigit(sum&15))
}

func hexDigit(v byte) byte { return "0123456789abcdef"[v&15] }

// kind of what readFrame read.
const (
	framePacket = iota
	frameNotification
	frameAck
	frameNak
	frameInterrupt
)

// readFrame reads one unit from the wire: a packet ($...#xx), a
// notification (%...#xx), an ack ('+'), a nak ('-'), or an interrupt
// (0x03, as a stub might echo). Other bytes between packets are skipped.
// The payload is returned decoded (escapes and run lengths expanded). A
// packet whose checksum is wrong returns ErrChecksum, having consumed the
// whole packet.
func readFrame(r *bufio.Reader) (kind int, payload []byte, err error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		switch b {
		case '+':
			return frameAck, nil, nil
		case '-':
			return frameNak, nil, nil
		case 0x03:
			return frameInterrupt, nil, nil
		case '$', '%':
			kind := framePacket
			if b == '%' {
				kind = frameNotification
			}
			raw, err := readRaw(r)
			if err != nil {
				return 0, nil, err
			}
			payload, err := Decode(raw)
			return kind, payload, err
		}
	}
}

// readRaw reads a packet's data up to '#' and its two checksum digits, and
// checks the sum. The data is returned as it was on the wire.
func readRaw(r *bufio.Reader) ([]byte, error) {
	var raw []byte
	var sum byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		if b == '#' {
			break
		}
		if b == '$' {
			// A new packet started before this one ended: GDB's stubs
			// restart on it too.
			raw, sum = raw[:0], 0
			continue
		}
		if len(raw) >= MaxPacket {
			return nil, &ProtocolError{Problem: fmt.Sprintf("packet longer than %d bytes", MaxPacket)}
		}
		raw = append(raw, b)
		sum += b
	}
	var cs [2]byte
	if _, err := io.ReadFull(r, cs[:]); err != nil {
		return nil, noEOF(err)
	}
	want, ok := parseHexByte(cs[0], cs[1])
	if !ok {
		return nil, &ProtocolError{Problem: "checksum is not two hex digits", Payload: string(raw)}
	}
	if want != sum {
		return nil, ErrChecksum
	}
	return raw, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Decode undoes the wire encoding of a packet's data: "}x" is x^0x20, and
// "c*n" repeats c a further n-29 times (run-length encoding, which stubs use
// in replies).
func Decode(raw []byte) ([]byte, error) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		switch b {
		case '}':
			if i+1 >= len(raw) {
				return nil, &ProtocolError{Problem: "escape at the end of the packet", Payload: string(raw)}
			}
			i++
			out = append(out, raw[i]^0x20)
		case '*':
			if len(out) == 0 || i+1 >= len(raw) {
				return nil, &ProtocolError{Problem: "run length without a character to repeat", Payload: string(raw)}
			}
			i++
			n := int(raw[i]) - 29
			if n < 0 {
				return nil, &ProtocolError{Problem: fmt.Sprintf("run-length count %#x below 29", raw[i]), Payload: string(raw)}
			}
			if len(out)+n > MaxPacket {
				return nil, &ProtocolError{Problem: fmt.Sprintf("packet longer than %d bytes", MaxPacket)}
			}
			last := out[len(out)-1]
			for ; n > 0; n-- {
				out = append(out, last)
			}
		default:
			out = append(out, b)
		}
	}
	return out, nil
}

func parseHexByte(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeHex turns a reply's hex digits into bytes ("xx" digits, which QEMU
// sends for registers it does not have, are an error).
func DecodeHex(s []byte) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, &ProtocolError{Problem: "odd number of hex digits", Payload: string(s)}
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		v, ok := parseHexByte(s[2*i], s[2*i+1])
		if !ok {
			return nil, &ProtocolError{Problem: "not hex", Payload: string(s)}
		}
		out[i] = v
	}
	return out, nil
}

func encodeHex(b []byte) []byte {
	out := make([]byte, 2*len(b))
	for i, v := range b {
		out[2*i], out[2*i+1] = hexDigit(v>>4), hexDigit(v&15)
	}
	return out
}

// ErrorReply is a stub's "Enn" reply (or "E.message").
type ErrorReply struct {
	Request string
	Reply   string
}

func (e *ErrorReply) Error() string {
	return fmt.Sprintf("gdbrsp: the stub answered %s to %s", e.Reply, e.Request)
}

// isError reports whether a reply is an error: "E" and two hex digits, or
// "E." and a message.
func isError(p []byte) bool {
	if len(p) == 3 && p[0] == 'E' {
		_, ok := parseHexByte(p[1], p[2])
		return ok
	}
	return len(p) >= 2 && p[0] == 'E' && p[1] == '.'
}
