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
// With -canary (bench/fleet's soak) each ticket's subject and first tag's name are a canary
// mark (bench/canary) naming the caller's token and the contract's version, which starts at 1
// and which POST /bump?id=... raises, answering {"id","version"}; a call without a bearer token
// is refused with 401. The version is read when a call arrives, before any latency, as a read
// made at that moment would see it.
//
// Faults, for the soak: POST /fault {"mode":"503"} makes every history call answer 503,
// {"mode":"slow","delay":"1s"} answers each after delay more, {"mode":"ok"} ends either;
// GET /fault says which mode is on and how many calls were refused.
//
//	go -C bench run ./stub -addr 127.0.0.1:9101 -latency 20ms -tickets 5
//	go -C bench run ./stub -addr 127.0.0.1:9101 -latency 20ms -demo
//	go -C bench run ./stub -addr 127.0.0.1:9101 -canary
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enneo-facade/facade/bench/canary"
	"github.com/enneo-facade/facade/upstream/demo"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9101", "listen address (loopback)")
	latency := flag.Duration("latency", 0, "delay before each history answer")
	tickets := flag.Int("tickets", 5, "tickets in each history (5 is about 34 KB of JSON)")
	demoMode := flag.Bool("demo", false, "serve the demo upstream's generated histories (0-40 tickets per id) instead of -tickets copies of the example")
	canaryMode := flag.Bool("canary", false, "mark each ticket with the caller's token and the contract's version (bench/canary)")
	flag.Parse()
	if *demoMode && *canaryMode {
		log.Fatal("-demo and -canary: pick one")
	}
	s, err := newStub(demo.ExampleHistory(), *tickets, *latency)
	if err != nil {
		log.Fatal(err)
	}
	s.canary = *canaryMode
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *demoMode {
		s.demo = demo.NewHandler()
		b, _ := demo.History("100001")
		fmt.Printf("stub on http://%s: the demo upstream's histories (100001: %d bytes), latency %s\n", ln.Addr(), len(b), *latency)
	} else {
		fmt.Printf("stub on http://%s: %d tickets (%d bytes) per history, latency %s, canary %t\n", ln.Addr(), *tickets, len(s.history("100001", "")), *latency, s.canary)
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
	canary       bool         // with -canary: tickets carry canary marks

	mu       sync.Mutex
	versions map[string]int64 // contract -> version, for those bumped (the others are at 1)
	mode     string           // "ok", "503" or "slow"
	delay    time.Duration    // the slow mode's extra latency
	refused  int64            // history calls answered 503
	// The example's subject and first tag's name, which canary marks replace.
	subject, tagName []byte
}

// The placeholders put into the template ticket: ticketID is its id (a JSON number, as the
// upstream sends it), contractID the contract id inside a JSON string, contractNum the contract id
// as a bare JSON value (a number when it is all digits, as in the example's customer contracts).
// subjectText and tagText hold the subject and the first tag's name, which are the example's
// own or a canary mark.
const (
	ticketID    = "\x00T\x00"
	contractID  = "\x00C\x00"
	contractNum = "\x00N\x00"
	subjectText = "\x00S\x00"
	tagText     = "\x00G\x00"
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
		Subject    string      `json:"subject"`
		Tags       []struct {
			Name string `json:"name"`
		} `json:"tags"`
	}
	if err := json.Unmarshal(compact.Bytes(), &t); err != nil || t.ID == "" || t.ContractID == "" || t.CreatedAt == "" || len(t.Tags) == 0 {
		return nil, fmt.Errorf("example ticket: want id, contractId, createdAt and a tag: %v", err)
	}
	subject, _ := json.Marshal(t.Subject)
	tag, _ := json.Marshal(t.Tags[0].Name)
	tmpl := compact.Bytes()
	for _, r := range []struct {
		old, new string
		n        int // occurrences replaced; -1: all
	}{
		{`{"id":` + t.ID.String() + `,`, `{"id":` + ticketID + `,`, -1},
		{`"contractId":"` + t.ContractID + `"`, `"contractId":"` + contractID + `"`, -1},
		{`{"id":` + t.ContractID + `,`, `{"id":` + contractNum + `,`, -1},
		{`"subject":` + string(subject), `"subject":"` + subjectText + `"`, 1},
	} {
		if !bytes.Contains(tmpl, []byte(r.old)) {
			return nil, fmt.Errorf("example ticket: %q not found", r.old)
		}
		tmpl = bytes.Replace(tmpl, []byte(r.old), []byte(r.new), r.n)
	}
	// The ticket's first tag's name, which nothing else in the example ticket is called.
	name := `"name":` + string(tag)
	if n := bytes.Count(tmpl, []byte(name)); n != 1 {
		return nil, fmt.Errorf("example ticket: the first tag's name %s occurs %d times, want once", tag, n)
	}
	tmpl = bytes.Replace(tmpl, []byte(name), []byte(`"name":"`+tagText+`"`), 1)
	created, err := time.Parse(time.DateTime, t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("example ticket createdAt: %w", err)
	}
	s := &stub{latency: latency, versions: map[string]int64{}, mode: "ok", subject: subject[1 : len(subject)-1], tagName: tag[1 : len(tag)-1]}
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

// history returns the body of one contract's history; mark, when not empty, replaces the
// subject and the first tag's name of every ticket.
func (s *stub) history(id, mark string) []byte {
	subject, tag := s.subject, s.tagName
	if mark != "" {
		subject, tag = []byte(mark), []byte(mark)
	}
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
				case subjectText:
					b = append(b, subject...)
				case tagText:
					b = append(b, tag...)
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
		var mark string
		if s.canary {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || token == "" {
				http.Error(w, `{"error":"unauthenticated"}`, http.StatusUnauthorized)
				return
			}
			mark = canary.Mark{Tag: canary.Tag(token), Contract: id, Version: s.version(id)}.String()
		}
		mode, delay := s.fault()
		if mode == "503" {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			http.Error(w, `{"error":"service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		if !sleep(r.Context(), s.latency+delay) {
			return
		}
		if s.demo != nil {
			s.demo.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.history(id, mark))
	})
	mux.HandleFunc("POST /bump", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if !validID(id) {
			http.Error(w, `{"error":"want ?id=<contract id>"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		v := s.versions[id]
		if v == 0 {
			v = 1
		}
		v++
		s.versions[id] = v
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "version": v})
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Mode  string `json:"mode"`
			Delay string `json:"delay"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&f); err != nil {
			http.Error(w, `{"error":"want {\"mode\":\"ok\"|\"503\"|\"slow\",\"delay\":\"1s\"}"}`, http.StatusBadRequest)
			return
		}
		delay, err := time.ParseDuration(cmp.Or(f.Delay, "1s"))
		if (f.Mode != "ok" && f.Mode != "503" && f.Mode != "slow") || err != nil || delay < 0 {
			http.Error(w, `{"error":"mode must be ok, 503 or slow, and delay a duration"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.mode, s.delay = f.Mode, delay
		s.mu.Unlock()
		s.writeFault(w)
	})
	mux.HandleFunc("GET /fault", func(w http.ResponseWriter, r *http.Request) { s.writeFault(w) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"calls":%d}`+"\n", s.calls.Load())
	})
	return mux
}

// version is id's current version.
func (s *stub) version(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.versions[id], 1)
}

// fault is the fault mode on, and the extra latency it adds.
func (s *stub) fault() (mode string, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == "slow" {
		return s.mode, s.delay
	}
	return s.mode, 0
}

func (s *stub) writeFault(w http.ResponseWriter) {
	s.mu.Lock()
	v := map[string]any{"mode": s.mode, "delay": s.delay.String(), "refused": s.refused}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// sleep waits d, or less if the caller goes away, and reports whether it waited it all.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
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
