package gdbrsp

import (
	"bytes"
	"strconv"
)

// StopKind says why the target stopped.
type StopKind int

const (
	// Signal: the target stopped with a signal ("S" or "T" reply); the
	// target still exists.
	Signal StopKind = iota
	// Exited: the target exited ("W"); ExitStatus is its status.
	Exited
	// Terminated: the target was killed by a signal ("X").
	Terminated
)

func (k StopKind) String() string {
	switch k {
	case Exited:
		return "exited"
	case Terminated:
		return "terminated"
	}
	return "signal"
}

// GDB's signal numbers the stubs use in stop replies.
const (
	SIGINT  = 2
	SIGTRAP = 5
)

// Stop is a stop reply.
type Stop struct {
	Kind StopKind
	// Signal is the signal of an "S", "T" or "X" reply.
	Signal int
	// ExitStatus is the status of a "W" reply.
	ExitStatus int
	// Watch is the kind of watchpoint that fired ("watch", "rwatch",
	// "awatch"), WatchAddr the address it reported.
	Watch     string
	WatchAddr uint64
	// HWBreak, SWBreak: the stop reply named a hardware or software
	// breakpoint.
	HWBreak, SWBreak bool
	// Thread is the thread-id of a "T" reply, "" when none.
	Thread string
	// Registers are the "n:r" pairs of a "T" reply (register number to its
	// bytes, target order).
	Registers map[int][]byte
	// Raw is the reply as received.
	Raw string
}

// ParseStop parses a stop reply ("S05", "T05watch:20001000;thread:01;",
// "W00", "X09"). Unknown "T" fields are kept out of the way, as the
// protocol asks of a client.
func ParseStop(p []byte) (*Stop, error) {
	bad := func(problem string) error { return &ProtocolError{Problem: problem, Payload: string(p)} }
	if len(p) < 3 {
		return nil, bad("stop reply too short")
	}
	st := &Stop{Raw: string(p)}
	code, ok := parseHexByte(p[1], p[2])
	if !ok {
		return nil, bad("stop reply without a hex status")
	}
	switch p[0] {
	case 'S':
		st.Kind, st.Signal = Signal, int(code)
		return st, nil
	case 'W':
		// "W" may carry more status digits and ";process:pid".
		rest := p[1:]
		if i := bytes.IndexByte(rest, ';'); i >= 0 {
			rest = rest[:i]
		}
		v, err := strconv.ParseUint(string(rest), 16, 32)
		if err != nil {
			return nil, bad("exit status is not hex")
		}
		st.Kind, st.ExitStatus = Exited, int(v)
		return st, nil
	case 'X':
		st.Kind, st.Signal = Terminated, int(code)
		return st, nil
	case 'T':
		st.Kind, st.Signal = Signal, int(code)
	default:
		return nil, bad("not a stop reply")
	}
	for _, field := range bytes.Split(p[3:], []byte{';'}) {
		if len(field) == 0 {
			continue
		}
		name, val, found := bytes.Cut(field, []byte{':'})
		if !found {
			return nil, bad("stop reply field without ':'")
		}
		switch n := string(name); n {
		case "watch", "rwatch", "awatch":
			a, err := strconv.ParseUint(string(val), 16, 64)
			if err != nil {
				return nil, bad("watchpoint address is not hex")
			}
			st.Watch, st.WatchAddr = n, a
		case "hwbreak":
			st.HWBreak = true
		case "swbreak":
			st.SWBreak = true
		case "thread":
			st.Thread = string(val)
		default:
			if r, err := strconv.ParseUint(n, 16, 16); err == nil {
				b, err := DecodeHex(val)
				if err != nil {
					return nil, bad("register value is not hex")
				}
				if st.Registers == nil {
					st.Registers = map[int][]byte{}
				}
				st.Registers[int(r)] = b
			}
			// Anything else (core, library, fork...) is not ours.
		}
	}
	return st, nil
}
