package main

import (
	"strings"
	"testing"
	"time"

	"github.com/enneo-facade/facade/bench/canary"
)

func TestNearestRank(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	for _, tt := range []struct {
		p    int
		want time.Duration
	}{{0, 1}, {50, 3}, {99, 5}, {100, 5}} {
		if got := nearestRank(d, tt.p); got != tt.want {
			t.Errorf("nearestRank(%v, %d) = %v, want %v", d, tt.p, got, tt.want)
		}
	}
	if nearestRank(nil, 50) != 0 {
		t.Errorf("nearestRank of nothing is not 0")
	}
}

func TestStaleSummary(t *testing.T) {
	q1, q2 := &query{id: "q1"}, &query{id: "q2"}
	inv := &invalidation{ackID: "w1"}
	lines := map[string]requestLine{
		"q1": {replica: "facade-1", line: `{"requestId":"q1","cache":"response"}`},
		"q2": {replica: "facade-2", line: `{"requestId":"q2","cache":{"hit":1,"miss":0,"stale":0,"revalidating":0}}`},
		"w1": {replica: "facade-2", line: `{"requestId":"w1","path":"/webhooks/enneo"}`},
	}
	got := staleSummary([]staleAnswer{{q: q1, inv: inv, after: 100 * time.Microsecond}, {q: q2, inv: inv, after: 300 * time.Microsecond}}, lines)
	for _, want := range []string{"Sent 0.10 to 0.30 ms", "acknowledged the invalidation: 1; by another replica: 1; not known: 0", "response cache 1", "hot layer or Redis (a hit) 1"} {
		if !strings.Contains(got, want) {
			t.Errorf("staleSummary = %q, want it to say %q", got, want)
		}
	}
}

// TestMarkdown writes a whole report from a made-up run and looks for its parts.
func TestMarkdown(t *testing.T) {
	p, err := newPlan(60*time.Second, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := &config{duration: 60 * time.Second, upstreamFault: 4 * time.Second, slowDelay: time.Second, first: 1, contracts: 10, hot: 2,
		maxInFlight: 8, out: "SOAK.md", replicas: []replica{{name: "facade-1"}, {name: "facade-2"}}, rates: rates{list: 1, invalidations: 1, verify: 1}}
	l := newLoad(c)
	inv := &invalidation{contract: "1", version: 2, bumped: start.Add(time.Second), acked: start.Add(2 * time.Second), refused: map[string]int{"HTTP 503": 3}, ackID: "w"}
	l.invalidations = []*invalidation{inv}
	l.queries = []*query{
		{id: "a", kind: kindList, token: 0, contracts: []string{"1"}, sent: start.Add(3 * time.Second), took: time.Millisecond, status: 200, data: true, shown: map[string]int64{"1": 1}},
		{id: "b", kind: kindList, token: 1, contracts: []string{"2"}, sent: start.Add(28 * time.Second), took: time.Millisecond, status: 200, codes: []string{"UPSTREAM_ERROR"}},
		{id: "c", kind: kindList, token: 1, contracts: []string{"3"}, sent: start.Add(50 * time.Second), took: time.Millisecond, status: 200, data: true,
			shown: map[string]int64{"3": 1}, foreign: []canary.Mark{{Tag: l.tokens[0].tag, Contract: "3", Version: 1}}},
	}
	snap := func(at time.Duration, calls int64) snapshot {
		return snapshot{at: at, stubCalls: calls, replicas: []replicaState{{pid: 1, rssKiB: 2048, lookups: map[string]float64{"store_hit": float64(calls)}}, {pid: 2}}}
	}
	var snaps []snapshot
	for i, at := range sampleTimes(p, 10*time.Second) {
		snaps = append(snaps, snap(at, int64(10*i)))
	}
	v := check(p, start, l.queries, l.invalidations)
	r := &report{c: c, plan: p, start: start, load: l, verdict: v, snaps: snaps, meta: map[string]string{"commit": "abc1234"},
		timeline: []event{{9 * time.Second, "Redis master killed"}}}
	md := string(r.markdown())
	for _, want := range []string{"**Result: FAILED.**", "| cross-token leaks | 1 |", "| stale after invalidation | 1 |",
		"| upstream 503 | 27–31 | 1 | 0 | 0 | 1: UPSTREAM_ERROR 1 |", "HTTP 503 3", "| 9.0 | Redis master killed |",
		"## Stale after invalidation (1)", "## Cross-token leaks (1", "- Commit: abc1234"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}
