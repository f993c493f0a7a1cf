package main

import (
	"slices"
	"testing"
	"time"
)

func TestLookupsBetween(t *testing.T) {
	a := snapshot{replicas: []replicaState{
		{pid: 1, lookups: map[string]float64{"store_hit": 10, "store_miss": 5}},
		{pid: 2, lookups: map[string]float64{"store_hit": 100}},
		{pid: 3},
	}}
	b := snapshot{replicas: []replicaState{
		{pid: 1, lookups: map[string]float64{"store_hit": 18, "store_miss": 5, "store_error": 2}},
		{pid: 9, lookups: map[string]float64{"store_hit": 4}}, // restarted: counts from zero
		{pid: 3, lookups: map[string]float64{"store_hit": 1}}, // not read before: from zero
	}}
	got := lookupsBetween(a, b)
	if got["store_hit"] != 13 || got["store_error"] != 2 || got["store_miss"] != 0 {
		t.Errorf("lookupsBetween = %v, want store_hit 13, store_error 2", got)
	}
	if r, ok := redisHitRatio(got); !ok || r != 13.0/15 {
		t.Errorf("redisHitRatio = %v, %v; want 13/15", r, ok)
	}
	if _, ok := redisHitRatio(map[string]float64{"hot_hit": 3}); ok {
		t.Errorf("redisHitRatio without store lookups is defined, want not")
	}
}

func TestSampleTimes(t *testing.T) {
	p, err := newPlan(60*time.Second, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := sampleTimes(p, 10*time.Second)
	s := time.Second
	want := []time.Duration{0, 9 * s, 10 * s, 18 * s, 20 * s, 27 * s, 30 * s, 31 * s, 36 * s, 40 * s, 45 * s, 50 * s, 60 * s}
	if !slices.Equal(got, want) {
		t.Errorf("sampleTimes = %v, want %v", got, want)
	}
}

func TestParseNodes(t *testing.T) {
	out := `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
`
	nodes := parseNodes(out)
	if len(nodes) != 3 {
		t.Fatalf("parseNodes: %d nodes, want 3", len(nodes))
	}
	if n := nodes[0]; n.addr != "127.0.0.1:30004" || !n.is("slave") || n.master != nodes[2].id || len(n.slots) != 0 {
		t.Errorf("node 0 = %+v", n)
	}
	if n := nodes[2]; !n.is("myself") || !n.is("master") || !slices.Equal(n.slots, []string{"0-5460"}) {
		t.Errorf("node 2 = %+v", n)
	}
	if got := infoField("# Server\r\nredis_version:7.0.15\r\nprocess_id:4242\r\n", "process_id"); got != 4242 {
		t.Errorf("infoField = %d, want 4242", got)
	}
}
