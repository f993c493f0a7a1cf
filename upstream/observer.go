package upstream

import "time"

// Observer is told what the client does, for metrics. Its methods run on the paths they
// describe: they must be cheap and safe for concurrent use.
type Observer interface {
	// UpstreamCall is one attempt at the upstream and its status: 0 for no answer (a timeout, a
	// connection error), -1 for none made (the breaker is open).
	UpstreamCall(status int, took time.Duration)
	// UpstreamRetry is an attempt about to be repeated.
	UpstreamRetry()
	// BreakerChanged is the upstream breaker's new state: "closed", "half-open" or "open".
	BreakerChanged(from, to string)
}

// nop is the Observer of those who set none.
type nop struct{}

func (nop) UpstreamCall(int, time.Duration) {}
func (nop) UpstreamRetry()                  {}
func (nop) BreakerChanged(string, string)   {}
