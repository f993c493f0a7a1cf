// Command stub is the load benchmark's stand-in for Enneo's REST endpoint
// GET /contract/{id}/history: every contract id answers {"tickets":[...]} with -tickets copies of
// the upstream's documented example ticket, each with its own id and the contract's id, after
// -latency. It counts the history calls and reports the count at GET /stats, so the benchmark
// can tell how many upstream calls each GraphQL request cost. Any Authorization is accepted.
//
// With -demo it serves the demo upstream's generated histories instead (upstream/demo: 0 to 40
// varied tickets per id, about 6 KB each, the same bytes for the same id), which aggregates need:
// copies of one ticket all count alike. The demo upstream wants a bearer token, any token.
//
//	go run ./bench/stub -addr 127.0.0.1:9101 -latency 20ms -tickets 5
//	go run ./bench/stub -addr 127.0.0.1:9101 -latency 20ms -demo
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9101", "listen address (loopback)")
	latency := flag.Duration("latency", 0, "delay before each history answer")
	tickets := flag.Int("tickets", 5, "tickets in each history (5 is about 34 KB of JSON)")
	demoMode := flag.Bool("demo", false, "serve the demo upstream's generated histories (0-40 tickets per id) instead of -tickets copies of the example")
	flag.Parse()
	s, err := newStub(demo.ExampleHistory(), *tickets, *latency)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *demoMode {
		s.demo = demo.NewHandler()
		b, _ := demo.History("100001")
		fmt.Printf("stub on http://%s: the demo upstream's histories (100001: %d bytes), latency %s\n", ln.Addr(), len(b), *latency)
	} else {
		fmt.Printf("stub on http://%s: %d tickets (%d bytes) per history, latency %s\n", ln.Addr(), *tickets, len(s.history("100001")), *latency)
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Fatal(srv.Serve(ln))
}

// stub serves histories made from one ticket template.
type stub struct {
	latency time.Duration
	// tickets holds each ticket of a history as pieces: tickets[i][0], then the ticket id, then
	// tickets[i][1], the contract id, and so on, in the order of placeholders[i].
	tickets      [][][]byte
	placeholders [][]string
	calls        atomic.Int64
	demo         http.Handler // with -demo: answers every history call after the latency
}

// The placeholders put into the template ticket: ticketID is its id (a JSON number, as the
// upstream sends it), contractID the contract id inside a JSON string, contractNum the contract id
// as a bare JSON value (a number when it is all digits, as in the example's customer contracts).
const (
	ticketID    = "\x00T\x00"
	contractID  = "\x00C\x00"
	contractNum = "\x00N\x00"
)

// newStub builds the template from the example response: its first ticket, compacted, with the
// ids that must differ per contract and ticket replaced by placeholders.
func newStub(example []byte, n int, latency time.Duration) (*stub, error) {
	if n < 0 {
		return nil, errors.New("-tickets must not be negative")
	}
	var doc struct{ Tickets []json.RawMessage }
	if err := json.Unmarshal(example, &doc); err != nil || len(doc.Tickets) == 0 {
		return nil, fmt.Errorf("example: want {\"tickets\":[...]} with at least one ticket: %v", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc.Tickets[0]); err != nil {
		return nil, err
	}
	var t struct {
		ID         json.Number `json:"id"`
		ContractID string      `json:"contractId"`
		CreatedAt  string      `json:"createdAt"`
	}
	if err := json.Unmarshal(compact.Bytes(), &t); err != nil || t.ID == "" || t.ContractID == "" || t.CreatedAt == "" {
		return nil, fmt.Errorf("example ticket: want id, contractId and createdAt: %v", err)
	}
	tmpl := compact.Bytes()
	for _, r := range []struct{ old, new string }{
		{`{"id":` + t.ID.String() + `,`, `{"id":` + ticketID + `,`},
		{`"contractId":"` + t.ContractID + `"`, `"contractId":"` + contractID + `"`},
		{`{"id":` + t.ContractID + `,`, `{"id":` + contractNum + `,`},
	} {
		if !bytes.Contains(tmpl, []byte(r.old)) {
			return nil, fmt.Errorf("example ticket: %q not found", r.old)
		}
		tmpl = bytes.ReplaceAll(tmpl, []byte(r.old), []byte(r.new))
	}
	created, err := time.Parse(time.DateTime, t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("example ticket createdAt: %w", err)
	}
	s := &stub{latency: latency}
	for i := range n {
		// Oldest first, a day apart, as the upstream orders a history.
		at := created.AddDate(0, 0, i-n+1).Format(time.DateTime)
		ticket := bytes.Replace(tmpl, []byte(`"createdAt":"`+t.CreatedAt+`"`), []byte(`"createdAt":"`+at+`"`), 1)
		pieces, names := split(ticket)
		s.tickets = append(s.tickets, pieces)
		s.placeholders = append(s.placeholders, names)
	}
	return s, nil
}

// split cuts a template at its placeholders.
func split(tmpl []byte) (pieces [][]byte, names []string) {
	for {
		i := bytes.IndexByte(tmpl, 0)
		if i < 0 {
			return append(pieces, tmpl), names
		}
		pieces = append(pieces, tmpl[:i])
		names = append(names, string(tmpl[i:i+3]))
		tmpl = tmpl[i+3:]
	}
}

// history returns the body of one contract's history.
func (s *stub) history(id string) []byte {
	num := strconv.Quote(id)
	if allDigits(id) && len(id) <= 15 {
		num = id
	}
	b := make([]byte, 0, 8<<10*len(s.tickets)+16)
	b = append(b, `{"tickets":[`...)
	for i, pieces := range s.tickets {
		if i > 0 {
			b = append(b, ',')
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", id, i)
		tid := strconv.FormatUint(h.Sum64()%1e12, 10)
		for j, p := range pieces {
			b = append(b, p...)
			if j < len(s.placeholders[i]) {
				switch s.placeholders[i][j] {
				case ticketID:
					b = append(b, tid...)
				case contractID:
					b = append(b, id...)
				case contractNum:
					b = append(b, num...)
				}
			}
		}
	}
	return append(b, "]}"...)
}

func (s *stub) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /contract/{id}/history", func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		id := r.PathValue("id")
		if !validID(id) {
			http.Error(w, `{"error":"invalid contract id"}`, http.StatusBadRequest)
			return
		}
		if s.latency > 0 {
			t := time.NewTimer(s.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if s.demo != nil {
			s.demo.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.history(id))
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"calls":%d}`+"\n", s.calls.Load())
	})
	return mux
}

// validID admits what Enneo's contract ids look like: 1-64 letters, digits, '-' and '_'.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
