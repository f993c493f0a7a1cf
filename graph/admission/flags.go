package admission

import "github.com/enneo-facade/facade/upstream/envflag"

// DefaultHeavy and DefaultQueue are Flags' defaults: every operation the README and docs show
// but the largest costs less than DefaultHeavy (a web app's list of 20 contracts, 1,040; the
// BI tools' statistics over 100 contracts, 12,474, is heavy), and DefaultQueue holds more heavy
// operations than a client opens connections (browsers: 6 per host).
const (
	DefaultHeavy = 5_000
	DefaultQueue = 64
)

// Flags declares o's variables in s. Left unset, AtOnce is maxCost (MAX_COST, known once every
// value is in) per CPU the process may use.
func (o *Options) Flags(s *envflag.Set, maxCost func() int64) {
	envflag.Number(s, &o.Heavy, "HEAVY_COST", DefaultHeavy, "estimated cost from which an operation is heavy: heavy ones take turns, cheaper ones run at once", envflag.Positive)
	envflag.Number(s, &o.AtOnce, "HEAVY_COST_AT_ONCE", 0, "estimated cost of the heavy operations that may run at once; unset: MAX_COST per CPU", envflag.NotNegative)
	envflag.Number(s, &o.Queue, "HEAVY_QUEUE", DefaultQueue, "heavy operations that may wait for their turn; past them, OVERLOADED (HTTP 503)", envflag.Positive)
	s.Then(func() error {
		*o = o.WithDefaults(maxCost())
		return nil
	})
}
