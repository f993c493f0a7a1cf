package upstream

import (
	"fmt"
	"time"

	"github.com/enneo-facade/facade/upstream/envflag"
)

// Flags declares o's variables in s: where the upstream is, the token sent to it, its time
// limits and bounds, the resilience in front of it, and the zone of its zoneless timestamps.
func (o *Options) Flags(s *envflag.Set) {
	s.URL(&o.BaseURL, "UPSTREAM_URL", "upstream base URL up to /api/mind, e.g. https://demo.enneo.ai/api/mind; unset: the built-in demo upstream")
	s.Secret(&o.ServiceToken, "UPSTREAM_TOKEN", "service token for every upstream call; unset: each caller's Authorization header is forwarded")
	s.Duration(&o.Timeout, "UPSTREAM_TIMEOUT", 5*time.Second, "time limit of one upstream call", envflag.Positive)
	s.Duration(&o.ConnectTimeout, "UPSTREAM_CONNECT_TIMEOUT", 2*time.Second, "time limit of connecting to the upstream", envflag.Positive)
	envflag.Number(s, &o.MaxBodyBytes, "UPSTREAM_MAX_BYTES", 64<<20, "largest upstream response body accepted", envflag.Positive)
	envflag.Number(s, &o.Concurrency, "UPSTREAM_CONCURRENCY", 16, "upstream calls one batch makes at once", envflag.Positive)
	var zone string
	s.String(&zone, "TIME_ZONE", "Europe/Berlin", "zone of the upstream's timestamps that carry none")
	s.Then(func() error {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return fmt.Errorf("TIME_ZONE: unknown zone %q", zone)
		}
		o.Zone = loc
		return nil
	})
	r := &o.Resilience
	var retries int
	envflag.Number(s, &retries, "UPSTREAM_RETRIES", 2, "retries of an upstream call after a connection error, 502, 503, 504 or 429; 0: none", envflag.NotNegative)
	s.Then(func() error {
		if r.Retries = retries; retries == 0 {
			r.Retries = -1 // none, where the zero value means the default
		}
		return nil
	})
	envflag.Number(s, &r.MaxInFlight, "UPSTREAM_MAX_IN_FLIGHT", 64, "upstream calls in flight in the process, across batches", envflag.Positive)
	envflag.Number(s, &r.BreakerFailures, "UPSTREAM_BREAKER_FAILURES", 5, "consecutive failed upstream calls (5xx, timeouts, connection errors) that open the circuit breaker", envflag.Positive)
	s.Duration(&r.BreakerCooldown, "UPSTREAM_BREAKER_COOLDOWN", 5*time.Second, "how long the open breaker waits before a probe may pass", envflag.Positive)
}
