// Package envflag declares settings that are both an environment variable and a flag of the
// same name (UPSTREAM_URL and --upstream-url). Each part of the facade declares its own, bound
// to the fields of its own options, with the rule its value must keep; main parses them once.
// The environment's value is the flag's default, so that --help shows what is set (a URL's
// password redacted, secrets never), and a flag given on the command line wins. A bad value
// fails with an error that names its variable and repeats the value (but for secrets).
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

// Set is the variables of one program.
type Set struct {
	fs      *flag.FlagSet
	getenv  func(string) string
	bad     []error            // values of the environment that did not parse
	secrets map[string]*string // read from the environment after parsing
	later   []func() error     // rules and parsers, run once every value is in
}

// New returns a Set reading the environment through getenv; usage and flag errors go to output.
func New(name string, getenv func(string) string, output io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	return &Set{fs: fs, getenv: getenv, secrets: map[string]*string{}}
}

// A Rule is what a variable's value must be.
type Rule[T int | int64 | time.Duration] func(env string, v T) error

// Positive is the rule of a variable that must be more than 0.
func Positive[T int | int64 | time.Duration](env string, v T) error {
	if v <= 0 {
		return fmt.Errorf("%s=%v: must be positive", env, v)
	}
	return nil
}

// NotNegative is the rule of a variable that may be 0.
func NotNegative[T int | int64 | time.Duration](env string, v T) error {
	if v < 0 {
		return fmt.Errorf("%s=%v: must be 0 or more", env, v)
	}
	return nil
}

// String declares a text variable.
func (s *Set) String(p *string, env, def, usage string) {
	s.fs.StringVar(p, Name(env), s.env(env, def), usage+" ($"+env+")")
}

// URL declares a URL, which may hold a password (redis://:secret@host): --help and the usage
// printed on a bad flag show it redacted.
func (s *Set) URL(p *string, env, usage string) {
	s.String(p, env, "", usage)
	if f := s.fs.Lookup(Name(env)); f.DefValue != "" {
		f.DefValue = Redact(f.DefValue)
	}
}

// Secret declares a secret: it is read from the environment after parsing, so that --help
// never prints it, and no error repeats it.
func (s *Set) Secret(p *string, env, usage string) {
	s.fs.StringVar(p, Name(env), "", usage+" ($"+env+")")
	s.secrets[env] = p
}

// Duration declares a duration such as 5s or 250ms; must, if not nil, is its rule.
func (s *Set) Duration(p *time.Duration, env string, def time.Duration, usage string, must Rule[time.Duration]) {
	raw := s.env(env, def.String())
	d, err := time.ParseDuration(raw)
	if err != nil {
		s.bad = append(s.bad, fmt.Errorf("%s=%q: not a duration such as 5s or 250ms", env, raw))
	}
	s.fs.DurationVar(p, Name(env), d, usage+" ($"+env+")")
	if must != nil {
		s.Then(func() error { return must(env, *p) })
	}
}

// Number declares an integer, bound to an int or an int64 field as it is; must, if not nil, is
// its rule.
func Number[T int | int64](s *Set, p *T, env string, def T, usage string, must Rule[T]) {
	raw := s.env(env, strconv.FormatInt(int64(def), 10))
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		s.bad = append(s.bad, fmt.Errorf("%s=%q: not a whole number", env, raw))
	}
	switch p := any(p).(type) {
	case *int:
		s.fs.IntVar(p, Name(env), int(n), usage+" ($"+env+")")
	case *int64:
		s.fs.Int64Var(p, Name(env), n, usage+" ($"+env+")")
	}
	if must != nil {
		s.Then(func() error { return must(env, *p) })
	}
}

// Bool declares true or false; unset, it is what unset says once every value is in (a mode's
// default, say).
func (s *Set) Bool(p *bool, env, usage string, unset func() bool) {
	var raw string
	s.String(&raw, env, "", usage)
	s.Then(func() error {
		if raw == "" {
			*p = unset()
			return nil
		}
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%s=%q: must be true or false", env, raw)
		}
		*p = v
		return nil
	})
}

// Then runs f once every value is in, in the order declared: a rule across variables, or the
// parsing of a value into what its part uses.
func (s *Set) Then(f func() error) { s.later = append(s.later, f) }

// Parse parses args, reads the secrets and runs what was to run then. What did not parse from
// the environment is reported alone, first; then every broken rule at once.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	for env, p := range s.secrets {
		if *p == "" {
			*p = s.getenv(env)
		}
	}
	if len(s.bad) > 0 {
		return errors.Join(s.bad...)
	}
	var bad []error
	for _, f := range s.later {
		if err := f(); err != nil {
			bad = append(bad, err)
		}
	}
	return errors.Join(bad...)
}

func (s *Set) env(name, def string) string {
	if v := s.getenv(name); v != "" {
		return v
	}
	return def
}

// Name turns UPSTREAM_URL into upstream-url, the flag's name.
func Name(env string) string {
	b := []byte(env)
	for i, ch := range b {
		switch {
		case ch == '_':
			b[i] = '-'
		case ch >= 'A' && ch <= 'Z':
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// Redact hides the password of a URL, and all of what does not parse as one.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(set, not shown)"
	}
	return u.Redacted()
}
