package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// readiness reports ready once serving; it says whether the upstream answers, checked at most
// every few seconds so probes cannot load it, how the cache is ("memory", "ok", "degraded" or
// "off") and how rate limiting is ("shared" in Redis, "local" in process, "degraded" while
// Redis cannot be used and each process decides alone, or "off"). Neither an unreachable
// upstream nor a degraded Redis makes the facade unready: every replica shares them, and taking
// them all out of service helps nobody. probes run with the upstream's check (a Redis found
// down is asked again, so that "degraded" ends when Redis is back, queries or not).
func readiness(client Pinger, status map[string]func() string, probes []func(context.Context)) http.Handler {
	var (
		mu      sync.Mutex
		checked time.Time
		state   string
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(checked) > 5*time.Second {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			state = "reachable"
			if err := client.Ping(ctx); err != nil {
				state = "unreachable"
			}
			for _, probe := range probes {
				probe(ctx)
			}
			cancel()
			checked = time.Now()
		}
		report := map[string]string{"status": "ready", "upstream": state, "breaker": client.BreakerState()}
		for name, f := range status {
			report[name] = f()
		}
		writeJSON(w, http.StatusOK, report)
	})
}
