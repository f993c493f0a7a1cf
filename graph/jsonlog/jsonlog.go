// Package jsonlog writes JSON lines by hand into a buffer written out in the background: the
// access log's and the audit's, one line per request each, at the cost of an append.
package jsonlog

import (
	"bufio"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// AppendString appends s as a JSON string, as encoding/json would but for HTML, which a log
// line need not escape.
func AppendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Buffered is where log lines go: a buffer, written out when it is full and at least every
// FlushInterval, so that a line per request does not cost a write each (one per request
// halved the throughput of cached answers). Close writes out the rest.
type Buffered struct {
	mu   sync.Mutex
	w    *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

// FlushInterval is the longest a line waits in the buffer.
const FlushInterval = 200 * time.Millisecond

// New returns a Buffered that writes to w.
func New(w io.Writer) *Buffered {
	b := &Buffered{w: bufio.NewWriterSize(w, 64<<10), done: make(chan struct{})}
	b.wg.Go(func() {
		tick := time.NewTicker(FlushInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				b.flush()
			case <-b.done:
				b.flush()
				return
			}
		}
	})
	return b
}

func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *Buffered) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.w.Flush()
}

// Close writes out what is buffered and stops the flushing.
func (b *Buffered) Close() {
	close(b.done)
	b.wg.Wait()
}
