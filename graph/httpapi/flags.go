package httpapi

import (
	"fmt"
	"time"

	"github.com/enneo-facade/facade/upstream/envflag"
)

// Flags declares o's variables in s: the shutdown's grace, the body limit, compression, the webhook's secret, the playground (on
// in demo mode: demo reports it once every value is in) and the origins browsers may call from.
func (o *Options) Flags(s *envflag.Set, demo func() bool) {
	s.Duration(&o.ShutdownTimeout, "SHUTDOWN_TIMEOUT", 15*time.Second, "time in-flight requests get to finish on shutdown", envflag.Positive)
	envflag.Number(s, &o.MaxRequestBytes, "MAX_REQUEST_BYTES", 1<<20, "largest GraphQL request body accepted", envflag.Positive)
	envflag.Number(s, &o.CompressMinBytes, "COMPRESS_MIN_BYTES", 1024, "answers of this many bytes or more are compressed (zstd or gzip) for clients that accept it; 0: never", envflag.NotNegative)
	s.Secret(&o.WebhookSecret, "WEBHOOK_SECRET", "bearer secret of POST /webhooks/enneo; unset: the webhook is off")
	s.Bool(&o.Playground, "PLAYGROUND", "true or false: whether / serves the GraphiQL playground; unset: on in demo mode, off with UPSTREAM_URL", demo)
	var origins string
	s.String(&origins, "CORS_ORIGINS", "", "comma-separated origins that browsers may call /graphql from, e.g. https://desk.example.com, or *; unset: any in demo mode, none with UPSTREAM_URL")
	s.Then(func() (err error) {
		if o.CORSOrigins, err = ParseOrigins(origins, demo()); err != nil {
			return fmt.Errorf("CORS_ORIGINS: %w", err)
		}
		return nil
	})
}
