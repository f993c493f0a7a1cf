package main

import (
	"testing"
	"time"

	"github.com/enneo-facade/facade/bench/canary"
)

func TestCheck(t *testing.T) {
	p, err := newPlan(100*time.Second, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	bravo := canary.Tag("bravo")
	invs := []*invalidation{
		{contract: "1", version: 2, acked: at(10)},
		{contract: "1", version: 3, acked: at(20)},
		{contract: "2", version: 2, acked: at(30)},
		{contract: "3", version: 2}, // never acknowledged
	}
	ok := func(sent float64, shown map[string]int64) *query {
		return &query{kind: kindList, sent: at(sent), status: 200, data: true, shown: shown}
	}
	qs := []*query{
		ok(5, map[string]int64{"1": 1}),                                                      // before any invalidation: fine
		ok(10, map[string]int64{"1": 1}),                                                     // sent at the acknowledgement itself: not after it
		ok(10.5, map[string]int64{"1": 1}),                                                   // stale: version 2 acknowledged 0.5 s before
		ok(15, map[string]int64{"1": 2}),                                                     // fine
		ok(25, map[string]int64{"1": 2}),                                                     // stale: version 3 acknowledged at 20
		ok(25, map[string]int64{"1": 4}),                                                     // newer than acknowledged: fine
		ok(35, map[string]int64{"2": 2}),                                                     // fine
		ok(36, map[string]int64{"3": 1}),                                                     // contract 3's invalidation was never acknowledged
		{kind: kindList, sent: at(47), status: 200, codes: []string{"UPSTREAM_ERROR"}},       // 503 phase (45-50 s): expected
		{kind: kindList, sent: at(60), status: 200, codes: []string{"UPSTREAM_UNAVAILABLE"}}, // pub/sub phase: not
		{kind: kindList, sent: at(1), transport: "connection refused"},                       // steady: not
		{kind: kindList, sent: at(2), status: 200, data: true, shown: map[string]int64{"5": 1}, foreign: []canary.Mark{{Tag: bravo, Contract: "5", Version: 1}}},
		{kind: kindList, sent: at(3), status: 200, data: true, shown: map[string]int64{}, unmarked: []string{"6"}},
	}
	v := check(p, start, qs, invs)
	if len(v.stale) != 2 || v.stale[0].q != qs[2] || v.stale[0].inv.version != 2 || v.stale[0].after != 500*time.Millisecond || v.stale[1].q != qs[4] || v.stale[1].inv.version != 3 {
		t.Errorf("stale = %+v, want queries 2 (version 2 wanted, 0.5 s after) and 4 (version 3)", v.stale)
	}
	if len(v.unexpected) != 2 || v.unexpected[0] != qs[9] || v.unexpected[1] != qs[10] {
		t.Errorf("unexpected = %v, want queries 9 and 10", v.unexpected)
	}
	if len(v.leaks) != 1 || v.leaks[0].mark.Tag != bravo {
		t.Errorf("leaks = %+v, want one of bravo's", v.leaks)
	}
	if len(v.unmarked) != 1 || v.unmarked[0] != qs[12] {
		t.Errorf("unmarked = %v, want query 12", v.unmarked)
	}
	if len(v.unacked) != 1 || v.unacked[0].contract != "3" {
		t.Errorf("unacked = %v, want contract 3's", v.unacked)
	}
	if !v.failed() {
		t.Errorf("failed() = false, want true")
	}
	if v := check(p, start, qs[:2], invs[:2]); v.failed() {
		t.Errorf("check of good answers failed: %+v", v)
	}
}

func TestQueryRead(t *testing.T) {
	own, other := canary.Tag("alpha"), canary.Tag("bravo")
	mark := func(tag, c string, v int64) string { return canary.Mark{Tag: tag, Contract: c, Version: v}.String() }
	for _, tt := range []struct {
		name, body string
		kind       string
		contracts  []string
		data       bool
		codes      []string
		stale      int
		shown      map[string]int64
		foreign    int
		unmarked   []string
	}{
		{"a list view", `{"data":{"contract":{"id":"1","history":{"tickets":[{"subject":"` + mark(own, "1", 3) + `"},{"subject":"` + mark(own, "1", 2) + `"}]}}},"extensions":{"histories":{"1":{"cache":"hit"}}}}`,
			kindList, []string{"1"}, true, nil, 0, map[string]int64{"1": 2}, 0, nil},
		{"stale, with another token's mark", `{"data":{"contract":{"history":{"tickets":[{"subject":"` + mark(other, "1", 1) + `"}]}}},"extensions":{"histories":{"1":{"cache":"stale"}}}}`,
			kindList, []string{"1"}, true, nil, 1, map[string]int64{}, 1, []string{"1"}},
		{"an error", `{"errors":[{"message":"the upstream failed","path":["contract","history"],"extensions":{"code":"UPSTREAM_ERROR"}},{"message":"x"}],"data":{"contract":null}}`,
			kindList, []string{"1"}, false, []string{"UPSTREAM_ERROR", "NO_CODE"}, 0, map[string]int64{}, 0, nil},
		{"historyStats", `{"data":{"historyStats":{"rows":[{"contractId":"1","stats":{"byTag":[{"key":"` + mark(own, "1", 1) + `","count":5}]}},{"contractId":"2","stats":{"byTag":[]}}]}}}`,
			kindStats, []string{"1", "2"}, true, nil, 0, map[string]int64{"1": 1}, 0, []string{"2"}},
	} {
		q := &query{kind: tt.kind, contracts: tt.contracts, status: 200}
		q.read([]byte(tt.body), own)
		if q.data != tt.data || len(q.codes) != len(tt.codes) || q.stale != tt.stale || len(q.foreign) != tt.foreign || len(q.unmarked) != len(tt.unmarked) || len(q.shown) != len(tt.shown) {
			t.Errorf("%s: read = data %v codes %v stale %d foreign %v unmarked %v shown %v, want %v %v %d %d %v %v",
				tt.name, q.data, q.codes, q.stale, q.foreign, q.unmarked, q.shown, tt.data, tt.codes, tt.stale, tt.foreign, tt.unmarked, tt.shown)
			continue
		}
		for i := range tt.codes {
			if q.codes[i] != tt.codes[i] {
				t.Errorf("%s: codes = %v, want %v", tt.name, q.codes, tt.codes)
			}
		}
		for c, v := range tt.shown {
			if q.shown[c] != v {
				t.Errorf("%s: shown[%s] = %d, want %d", tt.name, c, q.shown[c], v)
			}
		}
	}
}
