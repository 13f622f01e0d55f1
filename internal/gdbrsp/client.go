package gdbrsp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Client talks to one stub over a byte stream (a socket, a pipe). Requests
// are made one at a time; Interrupt may be called from another goroutine
// while a Wait is in progress.
type Client struct {
	rw io.ReadWriter
	r  *bufio.Reader

	wmu   sync.Mutex // one writer at a time: requests, acks, interrupts
	noAck bool

	// Console receives the text of "O" packets (the target's console
	// output through the stub) while waiting for a stop; nil drops it.
	Console io.Writer

	// PacketSize is the largest packet the stub accepts (qSupported), or
	// a conservative default before the handshake.
	PacketSize int
	// Features are the stub's qSupported answers: "name" to "+", "-",
	// "?" or a value.
	Features map[string]string

	binaryWrite int // 0 unknown, 1 X works, -1 X not supported
}

// NewClient wraps a connection to a stub. Call Handshake before anything
// else.
func NewClient(rw io.ReadWriter) *Client {
	return &Client{rw: rw, r: bufio.NewReaderSize(rw, 64<<10), PacketSize: 400, Features: map[string]string{}}
}

// Handshake negotiates with the stub: qSupported (the packet size and
// what the stub can do) and, when offered, no-ack mode.
func (c *Client) Handshake() error {
	// A stub may have sent an ack or a stale packet before we connected;
	// the first request resynchronises on the reply.
	reply, err := c.Exchange("qSupported:swbreak+;hwbreak+")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(string(reply), ";") {
		if f == "" {
			continue
		}
		if name, val, ok := strings.Cut(f, "="); ok {
			c.Features[name] = val
			continue
		}
		c.Features[f[:len(f)-1]] = f[len(f)-1:]
	}
	if v, ok := c.Features["PacketSize"]; ok {
		if n, err := strconv.ParseUint(v, 16, 32); err == nil && n >= 64 {
			c.PacketSize = int(min(n, MaxPacket))
		}
	}
	// QEMU (7.2) takes QStartNoAckMode without offering it in qSupported;
	// a stub that does not know it answers empty, and acks stay on.
	if c.Features["QStartNoAckMode"] != "-" {
		r, err := c.Exchange("QStartNoAckMode")
		if err != nil {
			return err
		}
		if string(r) == "OK" {
			c.noAck = true
		}
	}
	return nil
}

// NoAck reports whether no-ack mode is on.
func (c *Client) NoAck() bool { return c.noAck }

// send writes one packet, and in ack mode waits for the stub's '+',
// resending on '-' (a few times, then it gives up).
func (c *Client) send(payload []byte) error {
	frame := Frame(payload)
	for try := 0; ; try++ {
		if err := c.write(frame); err != nil {
			return err
		}
		if c.noAck {
			return nil
		}
		kind, _, err := c.readUntilAck()
		if err != nil {
			return err
		}
		if kind == frameAck {
			return nil
		}
		if try == 3 {
			return &ProtocolError{Problem: "the stub refused the packet 4 times", Payload: string(payload)}
		}
	}
}

func (c *Client) readUntilAck() (int, []byte, error) {
	for {
		kind, p, err := readFrame(c.r)
		if errors.Is(err, ErrChecksum) {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		if kind == frameAck || kind == frameNak {
			return kind, p, nil
		}
		// A packet before the ack (a stale reply): acknowledge it so the
		// stub does not resend it, and drop it.
		if kind == framePacket {
			if err := c.write([]byte{'+'}); err != nil {
				return 0, nil, err
			}
		}
	}
}

func (c *Client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.rw.Write(b)
	return err
}

// receive reads the next packet, skipping acks and notifications, and
// acknowledges it in ack mode (asking for a resend when it arrived
// damaged).
func (c *Client) receive() ([]byte, error) {
	for {
		kind, p, err := readFrame(c.r)
		if errors.Is(err, ErrChecksum) {
			if c.noAck {
				return nil, err
			}
			if err := c.write([]byte{'-'}); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if kind != framePacket {
			continue
		}
		if !c.noAck {
			// A stub that has just exited ("W") may be gone before our
			// ack arrives: the packet is still good, and the next
			// request reports the closed connection.
			c.write([]byte{'+'})
		}
		return p, nil
	}
}

// Exchange sends one request and returns the stub's reply payload. An
// empty reply means the stub does not know the request.
func (c *Client) Exchange(req string) ([]byte, error) {
	return c.exchange([]byte(req))
}

func (c *Client) exchange(req []byte) ([]byte, error) {
	if err := c.send(req); err != nil {
		return nil, err
	}
	return c.receive()
}

// expectOK sends req and wants "OK".
func (c *Client) expectOK(req string) error {
	r, err := c.Exchange(req)
	if err != nil {
		return err
	}
	if string(r) == "OK" {
		return nil
	}
	if len(r) == 0 {
		return &ErrorReply{Request: short(req), Reply: "an empty reply (not supported)"}
	}
	return &ErrorReply{Request: short(req), Reply: string(r)}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ReadRegisters reads all general registers ("g"), in the stub's order
// and the target's byte order.
func (c *Client) ReadRegisters() ([]byte, error) {
	r, err := c.Exchange("g")
	if err != nil {
		return nil, err
	}
	if isError(r) {
		return nil, &ErrorReply{Request: "g", Reply: string(r)}
	}
	return DecodeHex(r)
}

// ReadRegister reads register n ("p").
func (c *Client) ReadRegister(n int) ([]byte, error) {
	req := fmt.Sprintf("p%x", n)
	r, err := c.Exchange(req)
	if err != nil {
		return nil, err
	}
	if len(r) == 0 || isError(r) {
		return nil, &ErrorReply{Request: req, Reply: fmt.Sprintf("%q", r)}
	}
	return DecodeHex(r)
}

// ReadMemory reads n bytes at addr ("m"), in as many requests as the
// packet size needs.
func (c *Client) ReadMemory(addr uint64, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	chunk := max((c.PacketSize-8)/2, 16)
	for len(out) < n {
		k := min(chunk, n-len(out))
		a := addr + uint64(len(out))
		req := fmt.Sprintf("m%x,%x", a, k)
		r, err := c.Exchange(req)
		if err != nil {
			return nil, err
		}
		if len(r) == 0 || isError(r) {
			return nil, &ErrorReply{Request: req, Reply: fmt.Sprintf("%q", r)}
		}
		b, err := DecodeHex(r)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 || len(b) > k {
			return nil, &ProtocolError{Problem: fmt.Sprintf("asked for %d bytes, got %d", k, len(b)), Payload: string(r)}
		}
		out = append(out, b...)
	}
	return out, nil
}

// WriteMemory writes data at addr: binary ("X") when the stub takes it,
// else hex ("M"), in as many requests as the packet size needs.
func (c *Client) WriteMemory(addr uint64, data []byte) error {
	if c.binaryWrite == 0 {
		// Probe with an empty write, as GDB does: an empty reply means no X.
		r, err := c.Exchange(fmt.Sprintf("X%x,0:", addr))
		if err != nil {
			return err
		}
		c.binaryWrite = -1
		if string(r) == "OK" {
			c.binaryWrite = 1
		}
	}
	// Room for the header; binary data may double when every byte is
	// escaped, hex always doubles.
	chunk := max((c.PacketSize-32)/2, 16)
	for off := 0; off < len(data); off += chunk {
		part := data[off:min(off+chunk, len(data))]
		a := addr + uint64(off)
		var req []byte
		if c.binaryWrite == 1 {
			req = append([]byte(fmt.Sprintf("X%x,%x:", a, len(part))), part...)
		} else {
			req = append([]byte(fmt.Sprintf("M%x,%x:", a, len(part))), encodeHex(part)...)
		}
		r, err := c.exchange(req)
		if err != nil {
			return err
		}
		if string(r) != "OK" {
			return &ErrorReply{Request: fmt.Sprintf("%c%x,%x", req[0], a, len(part)), Reply: fmt.Sprintf("%q", r)}
		}
	}
	return nil
}

// Point types of Z/z requests.
const (
	SoftwareBreakpoint = 0
	HardwareBreakpoint = 1
	WriteWatchpoint    = 2
	ReadWatchpoint     = 3
	AccessWatchpoint   = 4
)

// SetBreakpoint inserts a software breakpoint ("Z0") at addr; kind is the
// target's breakpoint kind (for ARM, the instruction size: 2 or 4).
func (c *Client) SetBreakpoint(addr uint64, kind int) error {
	return c.expectOK(fmt.Sprintf("Z0,%x,%x", addr, kind))
}

// RemoveBreakpoint removes it ("z0").
func (c *Client) RemoveBreakpoint(addr uint64, kind int) error {
	return c.expectOK(fmt.Sprintf("z0,%x,%x", addr, kind))
}

// SetWatchpoint inserts a watchpoint ("Z2" write, "Z3" read, "Z4"
// access) over n bytes at addr.
func (c *Client) SetWatchpoint(typ int, addr uint64, n int) error {
	return c.expectOK(fmt.Sprintf("Z%d,%x,%x", typ, addr, n))
}

// RemoveWatchpoint removes it.
func (c *Client) RemoveWatchpoint(typ int, addr uint64, n int) error {
	return c.expectOK(fmt.Sprintf("z%d,%x,%x", typ, addr, n))
}

// Resume continues the target ("c"); Wait returns its next stop.
func (c *Client) Resume() error { return c.send([]byte("c")) }

// Continue resumes the target and waits for it to stop.
func (c *Client) Continue() (*Stop, error) {
	if err := c.Resume(); err != nil {
		return nil, err
	}
	return c.Wait()
}

// Step executes one instruction ("s") and returns the stop.
func (c *Client) Step() (*Stop, error) {
	if err := c.send([]byte("s")); err != nil {
		return nil, err
	}
	return c.Wait()
}

// Interrupt asks a running target to stop (the 0x03 byte); the stop
// reply comes to Wait. Safe to call while another goroutine waits.
func (c *Client) Interrupt() error { return c.write([]byte{0x03}) }

// Halted asks why the target halted ("?"), which is also how a client
// learns the state right after connecting.
func (c *Client) Halted() (*Stop, error) {
	r, err := c.Exchange("?")
	if err != nil {
		return nil, err
	}
	return ParseStop(r)
}

// Wait reads until a stop reply, writing console output ("O" packets) to
// Console on the way.
func (c *Client) Wait() (*Stop, error) {
	for {
		p, err := c.receive()
		if err != nil {
			return nil, err
		}
		if len(p) > 1 && p[0] == 'O' && !bytes.Equal(p, []byte("OK")) {
			text, err := DecodeHex(p[1:])
			if err != nil {
				return nil, err
			}
			if c.Console != nil {
				c.Console.Write(text)
			}
			continue
		}
		return ParseStop(p)
	}
}

// Kill asks the stub to end the target ("k"). Stubs may close the
// connection without a reply, so none is awaited.
func (c *Client) Kill() error { return c.send([]byte("k")) }
