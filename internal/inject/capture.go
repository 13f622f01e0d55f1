package inject

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"
	"time"
)

// tailSize is how much of a stream's end is kept to explain a failure.
const tailSize = 512

// capture reads one output stream of the program through a pipe, hashing
// everything and keeping the tail.
type capture struct {
	r, w *os.File
	h    hash.Hash
	tail []byte
	done chan struct{}
}

func newCapture() (*capture, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c := &capture{r: r, w: w, h: sha256.New(), done: make(chan struct{})}
	go c.copy()
	return c, nil
}

func (c *capture) copy() {
	defer close(c.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.r.Read(buf)
		if n > 0 {
			c.h.Write(buf[:n])
			c.tail = append(c.tail, buf[:n]...)
			if len(c.tail) > tailSize {
				c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailSize:]...)
			}
		}
		if err != nil {
			return
		}
	}
}

// finish closes our write end and waits for the end of the stream. A
// process that outlived the run and still holds the pipe is not waited for
// more than a second.
func (c *capture) finish() (digest, tail string) {
	if c.w != nil {
		c.w.Close()
		c.w = nil
	}
	select {
	case <-c.done:
	case <-time.After(time.Second):
		c.r.Close()
		<-c.done
	}
	return hex.EncodeToString(c.h.Sum(nil)), string(c.tail)
}

// abandon releases the pipe after an error.
func (c *capture) abandon() {
	if c.w != nil {
		c.w.Close()
		c.w = nil
	}
	c.r.Close()
}
