package ratelimit

import (
	"fmt"

	"github.com/enneo-facade/facade/upstream/envflag"
)

// Flags declares l's variables in s; neither set turns rate limiting off.
func (l *Limit) Flags(s *envflag.Set) {
	envflag.Number(s, &l.Burst, "RATE_LIMIT_BURST", 0, "cost points a caller's bucket holds, at least MAX_COST; 0: no rate limit", nil)
	envflag.Number(s, &l.PerSecond, "RATE_LIMIT_PER_SECOND", 0, "cost points a caller's bucket regains each second; 0: no rate limit", nil)
	s.Then(func() error {
		if l.Burst < 0 || l.PerSecond < 0 || (l.Burst == 0) != (l.PerSecond == 0) {
			return fmt.Errorf("RATE_LIMIT_BURST=%d and RATE_LIMIT_PER_SECOND=%d: set both (positive) to rate limit, or neither", l.Burst, l.PerSecond)
		}
		return nil
	})
}
