package graph

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/enneo-facade/facade/graph/persisted"
	"github.com/enneo-facade/facade/graph/personal"
	"github.com/enneo-facade/facade/upstream/envflag"
)

// Flags declares o's variables in s: the operation's time limit and limits, the response
// cache's bound, the admin token, what production hides (introspection and suggestions, on in
// demo mode: demo reports it once every value is in), the persisted operations, the names
// metrics report, and what callers see of personal data, its pseudonyms' secret and the audit.
func (o *Options) Flags(s *envflag.Set, demo func() bool) {
	s.Duration(&o.Timeout, "OPERATION_TIMEOUT", 10*time.Second, "time limit of one GraphQL operation", envflag.Positive)
	envflag.Number(s, &o.ResponseCacheBytes, "CACHE_RESPONSE_BYTES", 8<<20, "bound of the whole responses kept in process", envflag.Positive)
	s.Secret(&o.AdminToken, "ADMIN_TOKEN", "bearer token of the invalidateContractHistory mutation; unset: the mutation is off")
	l, d := &o.Limits, DefaultLimits
	envflag.Number(s, &l.Tokens, "MAX_TOKENS", d.Tokens, "most lexical tokens in a query (TOO_MANY_TOKENS)", envflag.Positive)
	envflag.Number(s, &l.Depth, "MAX_DEPTH", d.Depth, "deepest nesting of fields (QUERY_TOO_DEEP)", envflag.Positive)
	envflag.Number(s, &l.Aliases, "MAX_ALIASES", d.Aliases, "most aliases in an operation, fragments inlined (TOO_MANY_ALIASES)", envflag.Positive)
	envflag.Number(s, &l.RootFields, "MAX_ROOT_FIELDS", d.RootFields, "most fields at the top of an operation (TOO_MANY_ROOT_FIELDS)", envflag.Positive)
	envflag.Number(s, &l.Directives, "MAX_DIRECTIVES", d.Directives, "most directives in an operation, fragments inlined (TOO_MANY_DIRECTIVES)", envflag.Positive)
	envflag.Number(s, &l.Cost, "MAX_COST", d.Cost, "highest estimated cost of an operation (QUERY_TOO_COMPLEX)", envflag.Positive)
	envflag.Number(s, &l.Contracts, "MAX_CONTRACTS", d.Contracts, "most distinct contracts one operation loads, nested ones included (TOO_MANY_CONTRACTS)", envflag.Positive)
	envflag.Number(s, &l.Fields, "MAX_FIELDS", d.Fields, "most fields one operation resolves (RESPONSE_TOO_LARGE)", envflag.Positive)
	envflag.Number(s, &l.Bytes, "MAX_RESPONSE_BYTES", d.Bytes, "most bytes of text and JSON values in one answer (RESPONSE_TOO_LARGE)", envflag.Positive)
	s.Bool(&o.Introspection, "INTROSPECTION", "true or false: whether operations may read the schema; unset: on in demo mode, off with UPSTREAM_URL", demo)
	s.Bool(&o.Suggestions, "FIELD_SUGGESTIONS", "true or false: whether validation errors suggest names (\"Did you mean ...\"); unset: on in demo mode, off with UPSTREAM_URL", demo)
	var manifest, names, personalData string
	s.String(&personalData, "PERSONAL_DATA", "allow", "what callers without a policy of their own (every caller without API_KEYS_FILE, keys without personal=) see of personal data: allow, mask or deny")
	s.Secret(&o.PseudonymSecret, "PSEUDONYM_SECRET", "secret keying the pseudonyms of masked values, the same on every replica; unset: random per process")
	s.String(&o.AuditLog, "AUDIT_LOG", "", "where the access audit goes, a line per operation that read contracts: a file path, or stderr; unset: no audit")
	s.String(&manifest, "PERSISTED_OPERATIONS_FILE", "", "manifest of persisted operations (Apollo's or Relay's format) clients may send by id")
	s.Bool(&o.Safelist, "SAFELIST", "true: run only the operations of PERSISTED_OPERATIONS_FILE", func() bool { return false })
	s.String(&names, "METRICS_OPERATION_NAMES", "", "comma-separated operation names metrics report by name (besides the persisted operations'); others are \"other\"")
	s.Then(func() (err error) {
		if o.PersonalData, err = personal.ParsePolicy(personalData); err != nil {
			return fmt.Errorf("PERSONAL_DATA=%w", err)
		}
		for n := range strings.SplitSeq(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.OperationNames = append(o.OperationNames, n)
			}
		}
		switch {
		case manifest != "":
			if o.Manifest, err = persisted.ReadManifest(manifest); err != nil {
				return fmt.Errorf("PERSISTED_OPERATIONS_FILE: %w", err)
			}
			o.OperationNames = append(o.OperationNames, o.Manifest.Names()...)
		case o.Safelist:
			return errors.New("SAFELIST: needs PERSISTED_OPERATIONS_FILE, the operations it lets run")
		}
		return nil
	})
}
