package redisstore

import (
	"time"

	"github.com/enneo-facade/facade/upstream/envflag"
)

// Flags declares o's variables in s: where Redis is, its time limits, and the prefix of every
// key.
func (o *Options) Flags(s *envflag.Set) {
	s.URL(&o.URL, "REDIS_URL", "redis:// or rediss:// URL of the shared cache (a node; a cluster by addr= seeds; Sentinel by master_name=); unset: an in-process cache")
	s.Duration(&o.DialTimeout, "REDIS_DIAL_TIMEOUT", 250*time.Millisecond, "time limit of connecting to Redis", envflag.Positive)
	s.Duration(&o.IOTimeout, "REDIS_TIMEOUT", 150*time.Millisecond, "time limit of one Redis read or write", envflag.Positive)
	s.String(&o.Prefix, "CACHE_PREFIX", "efc:v1:", "prefix of every Redis key (versioned: change it to drop all entries)")
}
