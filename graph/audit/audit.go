// Package audit is the access audit: one JSON line for every operation that returned contract
// data, saying who read which contracts and which kinds of personal data it saw unmasked, so
// that a data protection officer can answer "who read contract X" (docs/personal-data.md). It
// is kept apart from the request log, which names no contract.
package audit

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/enneo-facade/facade/graph/jsonlog"
)

// Log writes audit lines. Lines are buffered and written out at least every
// jsonlog.FlushInterval, and by Close: an operation pays an append, not a write.
type Log struct {
	w     io.Writer
	close func() error
}

// Open opens the audit log at path: "stderr" for lines, which go into logs, the process's
// other log lines (so that lines do not interleave), or a file, appended to and created
// readable by its owner only.
func Open(path string, logs io.Writer) (*Log, error) {
	if path == "stderr" {
		return &Log{w: logs, close: func() error { return nil }}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	b := jsonlog.New(f)
	return &Log{w: b, close: func() error { b.Close(); return f.Close() }}, nil
}

// New returns a Log that writes to w as it is.
func New(w io.Writer) *Log { return &Log{w: w, close: func() error { return nil }} }

// Close writes out the lines still buffered.
func (l *Log) Close() error { return l.close() }

// Read is what one operation read: what the audit line says besides when, which request and
// who.
type Read struct {
	Policy    string   // allow, mask or deny
	Operation string   // the operation's name, "" for an anonymous one
	Contracts []string // the contracts whose data it returned, sorted
	Personal  []string // the kinds of personal data it returned unmasked
}

// Tail renders what r says as the end of an audit line: a cached answer, read again, says the
// same, and its line costs the head alone.
func (r Read) Tail() []byte {
	b := make([]byte, 0, 64+16*len(r.Contracts))
	b = append(b, `,"policy":`...)
	b = jsonlog.AppendString(b, r.Policy)
	b = append(b, `,"operation":`...)
	b = jsonlog.AppendString(b, r.Operation)
	b = append(b, `,"contracts":[`...)
	for i, id := range r.Contracts {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonlog.AppendString(b, id)
	}
	b = append(b, `],"personal":[`...)
	for i, k := range r.Personal {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonlog.AppendString(b, k)
	}
	return append(b, "]}\n"...)
}

var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Write writes the line of a read at t, of the request requestID, by caller; tail is the
// read's Tail.
//
//	{"time":"2026-12-07T09:14:03.52Z","level":"INFO","msg":"audit","requestId":"4f1c…",
//	 "caller":"powerbi","policy":"mask","operation":"Dashboard","contracts":["746839"],
//	 "personal":[]}
func (l *Log) Write(t time.Time, requestID, caller string, tail []byte) {
	buf := lines.Get().(*[]byte)
	b := append((*buf)[:0], `{"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"audit","requestId":`...)
	b = jsonlog.AppendString(b, requestID)
	b = append(b, `,"caller":`...)
	b = jsonlog.AppendString(b, caller)
	b = append(b, tail...)
	l.w.Write(b)
	*buf = b
	lines.Put(buf)
}
