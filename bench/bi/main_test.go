package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/demo"
)

func mustZone(t *testing.T) *time.Location {
	t.Helper()
	z, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestNearestRank(t *testing.T) {
	ten := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tt := range []struct {
		list     []int
		num, den int
		want     int
	}{
		{ten, 1, 2, 5},
		{ten, 9, 10, 9}, // 0.9·10 is 9.000000000000002 in floats: rank 10 by mistake
		{ten, 99, 100, 10},
		{hundred, 99, 100, 99},
		{hundred[:50], 99, 100, 50},
		{[]int{7}, 1, 2, 7},
		{[]int{3, 8}, 1, 2, 3},
		{nil, 1, 2, 0},
	} {
		if got := nearestRank(tt.list, tt.num, tt.den); got != tt.want {
			t.Errorf("nearestRank(%d values, %d/%d) = %d, want %d", len(tt.list), tt.num, tt.den, got, tt.want)
		}
	}
}

func TestStamp(t *testing.T) {
	zone := mustZone(t)
	for _, tt := range []struct {
		json string
		want time.Time
		ok   bool
	}{
		{`"2024-03-31 02:30:00"`, time.Date(2024, 3, 31, 2, 30, 0, 0, zone), true}, // the hour DST skips: as time.Date has it
		{`"2024-07-01 12:00:00"`, time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC), true},
		{`"2024-07-01T12:00:00+02:00"`, time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC), true},
		{`1719828000`, time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC), true},
		{`null`, time.Time{}, false},
		{`""`, time.Time{}, false},
		{`"0000-00-00 00:00:00"`, time.Time{}, false},
		{`"yesterday"`, time.Time{}, false},
	} {
		var s stamp
		if err := json.Unmarshal([]byte(tt.json), &s); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tt.json, err)
		}
		got, ok := s.in(zone)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("stamp(%s).in(Berlin) = %v, %v; want %v, %v", tt.json, got, ok, tt.want, tt.ok)
		}
	}
}

// TestAggregate checks the REST way's figures against ones worked out by hand.
func TestAggregate(t *testing.T) {
	zone := mustZone(t)
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, zone)
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, zone)
	var h struct{ A, B []*ticket }
	err := json.Unmarshal([]byte(`{
	"A": [
		{"status": "closed", "channel": "email", "priority": "high", "createdAt": "2024-01-31 23:30:00",
		 "closedAt": "2024-02-01 00:30:00", "dueBy": "2024-02-01 00:00:00",
		 "intents": [{"code": "move"}, {"code": "move"}, {"code": "invoice"}, null, {"code": ""}]},
		{"status": "open", "channel": "email", "createdAt": "2024-02-10 08:00:00", "dueBy": "2024-05-31 23:00:00"},
		{"status": "open", "channel": "", "priority": null, "createdAt": "2024-02-11 08:00:00", "dueBy": "2024-06-02 00:00:00", "intents": []},
		{"status": "closed", "channel": "email", "createdAt": "2023-12-31 23:59:59", "closedAt": "2024-01-01 00:00:00"},
		{"status": "open", "createdAt": null},
		null
	],
	"B": [
		{"status": "resolved", "channel": "phone", "priority": "low", "createdAt": "2024-03-01 10:00:00",
		 "closedAt": "2024-03-01 10:00:10", "dueBy": "2024-03-02 10:00:00", "intents": [{"code": "move"}]},
		{"status": "closed", "channel": "phone", "priority": "low", "createdAt": "2024-03-02 10:00:00",
		 "closedAt": "2024-03-02 10:00:20", "dueBy": "0000-00-00 00:00:00"}
	]}`), &h)
	if err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	a := ticketStats{
		Count: 3, Open: 2,
		ByStatus:    []bucket{{"open", 2}, {"closed", 1}},
		ByChannel:   []bucket{{"email", 2}, {"none", 1}},
		ByPriority:  []bucket{{"none", 2}, {"high", 1}},
		ByIntent:    []bucket{{"none", 2}, {"invoice", 1}, {"move", 1}},
		ByMonth:     []bucket{{"2024-01", 1}, {"2024-02", 2}},
		TimeToClose: durationStats{Count: 1, MedianSeconds: f(3600), P90Seconds: f(3600)},
		DueBreaches: dueBreaches{ClosedLate: 1, OpenOverdue: 1},
	}
	b := ticketStats{
		Count: 2, Open: 0,
		ByStatus:    []bucket{{"closed", 1}, {"resolved", 1}},
		ByChannel:   []bucket{{"phone", 2}},
		ByPriority:  []bucket{{"low", 2}},
		ByIntent:    []bucket{{"move", 1}, {"none", 1}},
		ByMonth:     []bucket{{"2024-03", 2}},
		TimeToClose: durationStats{Count: 2, MedianSeconds: f(10), P90Seconds: f(20)},
		DueBreaches: dueBreaches{},
	}
	empty := ticketStats{ByStatus: []bucket{}, ByChannel: []bucket{}, ByPriority: []bucket{}, ByIntent: []bucket{}, ByMonth: []bucket{}}
	want := &answer{Contracts: 3, Rows: []row{{"A", a}, {"B", b}, {"C", empty}}, Totals: ticketStats{
		Count: 5, Open: 2,
		ByStatus:    []bucket{{"closed", 2}, {"open", 2}, {"resolved", 1}},
		ByChannel:   []bucket{{"email", 2}, {"phone", 2}, {"none", 1}},
		ByPriority:  []bucket{{"low", 2}, {"none", 2}, {"high", 1}},
		ByIntent:    []bucket{{"none", 3}, {"move", 2}, {"invoice", 1}},
		ByMonth:     []bucket{{"2024-01", 1}, {"2024-02", 2}, {"2024-03", 2}},
		TimeToClose: durationStats{Count: 3, MedianSeconds: f(20), P90Seconds: f(3600)},
		DueBreaches: dueBreaches{ClosedLate: 1, OpenOverdue: 1},
	}}
	got := aggregate([]string{"A", "B", "C"}, [][]*ticket{h.A, h.B, nil}, from, now, zone)
	if d := diff(got, want); d != "" {
		t.Errorf("aggregate: %s", d)
	}
}

func TestDiff(t *testing.T) {
	a := &answer{Contracts: 2, Rows: []row{{"1", ticketStats{Count: 1}}, {"2", ticketStats{Count: 2}}}}
	b := &answer{Contracts: 2, Rows: []row{{"1", ticketStats{Count: 1}}, {"2", ticketStats{Count: 3}}}}
	if d := diff(a, a); d != "" {
		t.Errorf("diff(a, a) = %q, want none", d)
	}
	if d := diff(a, b); !strings.HasPrefix(d, "row 1:") {
		t.Errorf("diff(a, b) = %q, want row 1", d)
	}
}

// TestRESTClient asks the demo upstream over HTTP, as bench/stats does through bench/stub -demo.
func TestRESTClient(t *testing.T) {
	var calls atomic.Int64
	h := demo.NewHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	zone := mustZone(t)
	ids := []string{"100001", "100002", "C-1001", "empty"}
	c := newRESTClient(srv.URL, "bench-token", 2)
	ans, f, err := c.answer(context.Background(), ids, 2, time.Time{}, time.Now(), zone)
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	var tickets int
	for _, id := range ids {
		b, _ := demo.History(id)
		bytes += int64(len(b))
		var d struct{ Tickets []json.RawMessage }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		tickets += len(d.Tickets)
	}
	if f.bytes != bytes || f.tickets != tickets || ans.Totals.Count != tickets || calls.Load() != int64(len(ids)) {
		t.Errorf("answer read %d bytes, %d tickets (%d counted) in %d calls; want %d bytes, %d tickets, %d calls",
			f.bytes, f.tickets, ans.Totals.Count, calls.Load(), bytes, tickets, len(ids))
	}
	for i, r := range ans.Rows {
		if r.ContractID != ids[i] {
			t.Errorf("row %d is %q, want %q", i, r.ContractID, ids[i])
		}
	}
	if _, _, err := c.answer(context.Background(), []string{"100001", demo.NotFoundID}, 2, time.Time{}, time.Now(), zone); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("answer with a contract not found: err = %v, want a 404", err)
	}
}

func TestLoop(t *testing.T) {
	var seq atomic.Int64
	ask := func(ctx context.Context, n int64) (int64, error) {
		time.Sleep(time.Millisecond)
		if n%4 == 3 {
			return 0, errors.New("every fourth fails")
		}
		return 10, nil
	}
	r := loop(context.Background(), ask, &seq, 3, 50*time.Millisecond)
	asked := int64(len(r.took) + r.errors)
	if asked != seq.Load() || r.bytes != 10*int64(len(r.took)) || r.errors == 0 || r.firstErr == nil {
		t.Errorf("loop: %d answered, %d failed (%v), %d bytes; %d asked", len(r.took), r.errors, r.firstErr, r.bytes, seq.Load())
	}
	if r.elapsed < 50*time.Millisecond {
		t.Errorf("loop ended after %v, before its 50ms", r.elapsed)
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.txt")
	meta := filepath.Join(dir, "meta.env")
	out := filepath.Join(dir, "STATS.md")
	os.WriteFile(results, []byte(`latency=0ms facade=memory CHECK cold_us=486032 cold_calls=100 answer_bytes=68072 contracts=100 failed=0 counted=621 tickets=1105 history_bytes=7397531 equal=yes
latency=0ms facade=memory BENCH mode=cached concurrency=1 questions=2567 rps=2566.8 p50_us=219 p99_us=4220 errors=0 calls_per_q=0.00 bytes_per_q=67972 cache_response_hit=1.00
latency=0ms facade=memory BENCH mode=executed concurrency=1 questions=41 rps=40.8 p50_us=20958 p99_us=54749 errors=0 calls_per_q=0.00 bytes_per_q=67972 cache_hot_miss=16.93 cache_response_miss=1.00 cache_store_hit=16.93
latency=0ms BENCH mode=rest concurrency=1 rest_concurrency=16 questions=9 rps=8.2 p50_us=127750 p99_us=153694 errors=0 calls_per_q=100.00 bytes_per_q=7397531
`), 0o644)
	os.WriteFile(meta, []byte("commit=abc1234\nload_before=1.00 1.00 1.00\nfacade_memory=in-process\nduration=8s\n"), 0o644)
	if err := writeReport(results, meta, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"commit `abc1234`",
		"| 0 ms | 0.22 / 4.22 | 21.0 / 54.7 | 128 / 154 | 6× (16 at once) |",
		"| 0 ms | memory | executed | 1 | 41 | 41 | 21.0 | 54.7 | 0.00 | hot 83.1, store 16.9 | 0 |",
		"| 0 ms | memory | response cache | 1 | 2,567 | 2,567 | 0.22 | 4.22 | 0.00 | the response cache | 0 |",
		"| 0 ms | 16 | 9 | 8.2 | 128 | 154 | 100.00 | 7,397,531 | 0 |",
		"| 0 ms | memory | 486 | 100 | 68,072 | yes |",
		"1,105 tickets in 7,397,531 bytes",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the report lacks %q:\n%s", want, b)
		}
	}
}
