package main

import (
	"fmt"
	"time"
)

// The phases of a soak, in order. Each begins with its fault (but steady and recovery, which
// have none) and lasts until the next begins; a query belongs to the phase it was sent in.
const (
	phaseSteady       = "steady"
	phaseMasterKilled = "master killed"
	phaseRestarted    = "replica restarted"
	phase503          = "upstream 503"
	phaseSlow         = "upstream slow"
	phasePubSub       = "pub/sub dropped"
	phaseRecovery     = "recovery"
)

// The faults a soak injects.
type faultKind int

const (
	killMaster     faultKind = iota // SIGKILL one Redis master; its replica takes over
	restartReplica                  // SIGTERM one facade replica; its supervisor starts it again
	upstream503                     // the stub answers every history call 503
	upstreamSlow                    // the stub answers each after the slow delay
	upstreamOK                      // the stub answers normally again
	dropPubSub                      // CLIENT KILL TYPE pubsub on every Redis node
)

func (k faultKind) String() string {
	return [...]string{"kill a Redis master", "restart a facade replica", "upstream 503", "upstream slow", "upstream ok", "drop pub/sub"}[k]
}

// phase is one stretch of the soak.
type phase struct {
	name  string
	start time.Duration // from the soak's start
}

// fault is one fault and when it is injected.
type fault struct {
	at   time.Duration
	kind faultKind
}

// plan is a soak's schedule.
type plan struct {
	duration time.Duration
	phases   []phase
	faults   []fault
}

// newPlan spreads the faults over d: steady for the first 15%, then a Redis master killed, at
// 30% a replica restarted, at 45% the upstream failing with 503 for upstreamFault and then slow
// for as long, at 60% every pub/sub connection dropped, and from 75% on nothing but recovery.
// The upstream's faults must end by 60%: upstreamFault at most 7.5% of d.
func newPlan(d, upstreamFault time.Duration) (plan, error) {
	if d <= 0 || upstreamFault <= 0 {
		return plan{}, fmt.Errorf("the duration (%s) and the upstream's fault (%s) must be positive", d, upstreamFault)
	}
	at := func(percent int64) time.Duration { return d * time.Duration(percent) / 100 }
	if 2*upstreamFault > at(15) {
		return plan{}, fmt.Errorf("the upstream's fault (%s) must be at most 7.5%% of the duration (%s), so that it ends before pub/sub is dropped", upstreamFault, d)
	}
	return plan{
		duration: d,
		phases: []phase{
			{phaseSteady, 0},
			{phaseMasterKilled, at(15)},
			{phaseRestarted, at(30)},
			{phase503, at(45)},
			{phaseSlow, at(45) + upstreamFault},
			{phasePubSub, at(60)},
			{phaseRecovery, at(75)},
		},
		faults: []fault{
			{at(15), killMaster},
			{at(30), restartReplica},
			{at(45), upstream503},
			{at(45) + upstreamFault, upstreamSlow},
			{at(45) + 2*upstreamFault, upstreamOK},
			{at(60), dropPubSub},
		},
	}, nil
}

// phaseAt is the index of the phase that t (from the start) falls in.
func (p plan) phaseAt(t time.Duration) int {
	i := 0
	for j, ph := range p.phases {
		if t >= ph.start {
			i = j
		}
	}
	return i
}

// end is when phase i ends.
func (p plan) end(i int) time.Duration {
	if i+1 < len(p.phases) {
		return p.phases[i+1].start
	}
	return p.duration
}

// expected holds, per phase, the error codes a query may meet there without the soak failing,
// and why. Anything else fails the run. Stale answers (served from an expired entry while the
// upstream fails) are not errors at all and are counted apart.
var expected = map[string]map[string]string{
	phase503: {
		"UPSTREAM_ERROR": "the upstream answered 503 (after the client's retries) for a contract with no " +
			"cached entry, fresh or stale: one never asked for by that token, or invalidated since",
		"UPSTREAM_UNAVAILABLE": "the upstream's circuit breaker opened after five failed calls and answers " +
			"at once, for contracts with no cached entry",
	},
	phaseSlow: {
		"UPSTREAM_UNAVAILABLE": "the breaker that opened in the 503 window stays open for its cool-down " +
			"(5 s), and while half-open lets one probe through at a time, which the slow upstream holds " +
			"for the slow delay; contracts with no cached entry fail at once meanwhile",
	},
}

// unexpected reports whether code, met in phase, is outside what that phase allows.
func unexpected(phase, code string) bool {
	_, ok := expected[phase][code]
	return !ok
}
