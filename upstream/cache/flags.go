package cache

import (
	"fmt"
	"time"

	"github.com/enneo-facade/facade/upstream/envflag"
)

// Flags declares o's variables in s: how long histories are fresh, kept and revalidated, the
// hot layer's bound, and the key sealing what is stored.
func (o *Options) Flags(s *envflag.Set) {
	s.Duration(&o.TTL, "CACHE_TTL", 60*time.Second, "how long a contract's history is fresh; 0 turns caching off", envflag.NotNegative)
	s.Duration(&o.Revalidate, "CACHE_REVALIDATE", 0, "a window after CACHE_TTL in which an expired history is served at once while it is refreshed; 0: off", nil)
	s.Duration(&o.StaleTTL, "CACHE_STALE_TTL", 10*time.Minute, "how long an expired history is kept for when the upstream fails", envflag.Positive)
	var key string
	s.Secret(&key, "CACHE_ENCRYPTION_KEY", "32-byte key (base64 or 64 hex digits) sealing cached values with AES-256-GCM; unset: plain")
	envflag.Number(s, &o.HotBytes, "CACHE_HOT_BYTES", 64<<20, "bound of decoded histories kept in process", envflag.Positive)
	s.Then(func() error {
		if r := o.Revalidate; r < 0 || r > o.StaleTTL {
			return fmt.Errorf("CACHE_REVALIDATE=%s: must be 0 (off) up to CACHE_STALE_TTL (%s), as long as expired histories are kept", r, o.StaleTTL)
		}
		return nil
	})
	s.Then(func() (err error) {
		if key == "" {
			return nil
		}
		if o.EncryptionKey, err = ParseKey(key); err != nil {
			return fmt.Errorf("CACHE_ENCRYPTION_KEY: %w", err)
		}
		return nil
	})
}
