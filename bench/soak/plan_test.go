package main

import (
	"testing"
	"time"
)

func TestNewPlan(t *testing.T) {
	p, err := newPlan(5*time.Minute, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []phase{{phaseSteady, 0}, {phaseMasterKilled, 45 * time.Second}, {phaseRestarted, 90 * time.Second},
		{phase503, 135 * time.Second}, {phaseSlow, 155 * time.Second}, {phasePubSub, 180 * time.Second}, {phaseRecovery, 225 * time.Second}}
	if len(p.phases) != len(want) {
		t.Fatalf("newPlan(5m) has %d phases, want %d", len(p.phases), len(want))
	}
	for i := range want {
		if p.phases[i] != want[i] {
			t.Errorf("phase %d = %v, want %v", i, p.phases[i], want[i])
		}
	}
	if f := p.faults[4]; f.kind != upstreamOK || f.at != 175*time.Second {
		t.Errorf("the upstream recovers %v, want at 175s", f)
	}
	for i := 1; i < len(p.faults); i++ {
		if p.faults[i].at < p.faults[i-1].at {
			t.Errorf("fault %d (%v) comes before fault %d (%v)", i, p.faults[i], i-1, p.faults[i-1])
		}
	}
	for _, tt := range []struct {
		at   time.Duration
		want string
	}{{0, phaseSteady}, {44 * time.Second, phaseSteady}, {45 * time.Second, phaseMasterKilled}, {160 * time.Second, phaseSlow},
		{179 * time.Second, phaseSlow}, {299 * time.Second, phaseRecovery}, {301 * time.Second, phaseRecovery}} {
		if got := p.phases[p.phaseAt(tt.at)].name; got != tt.want {
			t.Errorf("phaseAt(%s) = %q, want %q", tt.at, got, tt.want)
		}
	}
	if p.end(0) != 45*time.Second || p.end(6) != 5*time.Minute {
		t.Errorf("end(0) = %s, end(6) = %s, want 45s and 5m", p.end(0), p.end(6))
	}
}

func TestNewPlanRefusesAnUpstreamFaultThatOverlapsPubSub(t *testing.T) {
	if _, err := newPlan(60*time.Second, 5*time.Second); err == nil {
		t.Errorf("newPlan(60s, 5s) = nil error, want one: 503 and slow would last until 55%%+")
	}
	if _, err := newPlan(60*time.Second, 4500*time.Millisecond); err != nil {
		t.Errorf("newPlan(60s, 4.5s) = %v, want no error", err)
	}
}

func TestUnexpected(t *testing.T) {
	for _, tt := range []struct {
		phase, code string
		want        bool
	}{
		{phaseSteady, "UPSTREAM_ERROR", true},
		{phase503, "UPSTREAM_ERROR", false},
		{phase503, "INTERNAL", true},
		{phaseSlow, "UPSTREAM_UNAVAILABLE", false},
		{phaseMasterKilled, "UPSTREAM_UNAVAILABLE", true},
	} {
		if got := unexpected(tt.phase, tt.code); got != tt.want {
			t.Errorf("unexpected(%q, %q) = %v, want %v", tt.phase, tt.code, got, tt.want)
		}
	}
}
