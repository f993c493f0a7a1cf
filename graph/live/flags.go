package live

import "github.com/enneo-facade/facade/upstream/envflag"

// Flags declares o's variables in s.
func (o *Options) Flags(s *envflag.Set) {
	envflag.Number(s, &o.PerCaller, "SUBSCRIPTIONS_PER_CALLER", 20, "subscriptions one caller (API key or credential) may hold at once", envflag.Positive)
	envflag.Number(s, &o.Total, "SUBSCRIPTIONS_MAX", 10_000, "subscriptions the process holds at once", envflag.Positive)
	s.Duration(&o.PollInterval, "SUBSCRIPTION_POLL_INTERVAL", 0, "where Enneo's webhooks are not wired: how often watched contracts are read again from the upstream to find changes; 0: only while invalidations are not heard", envflag.NotNegative)
}
