package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Upstream.BaseURL != "" || c.Upstream.Timeout != 5*time.Second || c.GraphQL.Timeout != 10*time.Second ||
		c.Upstream.Concurrency != 16 || c.Upstream.Zone.String() != "Europe/Berlin" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadConfigFlagsOverrideEnvironment(t *testing.T) {
	c, err := loadConfig([]string{"--port", "9000", "--upstream-timeout", "2s"},
		env("PORT", "7000", "UPSTREAM_URL", "https://demo.enneo.ai/api/mind", "TIME_ZONE", "UTC"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.Upstream.Timeout != 2*time.Second || c.Upstream.BaseURL != "https://demo.enneo.ai/api/mind" || c.Upstream.Zone.String() != "UTC" {
		t.Errorf("config = %+v", c)
	}
}

// variables are the settings a bad value can be reported for.
var variables = []string{"PORT", "UPSTREAM_TIMEOUT", "UPSTREAM_CONNECT_TIMEOUT", "OPERATION_TIMEOUT", "SHUTDOWN_TIMEOUT",
	"REDIS_DIAL_TIMEOUT", "REDIS_TIMEOUT", "CACHE_STALE_TTL", "CACHE_TTL", "UPSTREAM_MAX_BYTES", "UPSTREAM_CONCURRENCY",
	"MAX_REQUEST_BYTES", "CACHE_HOT_BYTES", "CACHE_MEMORY_BYTES", "CACHE_RESPONSE_BYTES", "TIME_ZONE",
	"MAX_TOKENS", "MAX_DEPTH", "MAX_ALIASES", "MAX_ROOT_FIELDS", "MAX_DIRECTIVES", "MAX_COST", "MAX_CONTRACTS", "MAX_FIELDS"}

func TestLoadConfigNamesBadValues(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"PORT", "http"}, "PORT"},
		{[]string{"PORT", "70000"}, "PORT"},
		{[]string{"UPSTREAM_TIMEOUT", "5"}, "UPSTREAM_TIMEOUT"},
		{[]string{"OPERATION_TIMEOUT", "-1s"}, "OPERATION_TIMEOUT"},
		{[]string{"SHUTDOWN_TIMEOUT", "0s"}, "SHUTDOWN_TIMEOUT"},
		{[]string{"REDIS_TIMEOUT", "-150ms"}, "REDIS_TIMEOUT"},
		{[]string{"CACHE_STALE_TTL", "0s"}, "CACHE_STALE_TTL"},
		{[]string{"CACHE_TTL", "-1s"}, "CACHE_TTL"},
		{[]string{"TIME_ZONE", "Mars/Olympus"}, "TIME_ZONE"},
		{[]string{"UPSTREAM_CONCURRENCY", "0"}, "UPSTREAM_CONCURRENCY"},
		{[]string{"CACHE_HOT_BYTES", "-1"}, "CACHE_HOT_BYTES"},
		{[]string{"MAX_DEPTH", "0"}, "MAX_DEPTH"},
		{[]string{"INTROSPECTION", "maybe"}, "INTROSPECTION"},
		{[]string{"SAFELIST", "true"}, "SAFELIST"},
		{[]string{"PERSISTED_OPERATIONS_FILE", "/no/such/manifest.json"}, "PERSISTED_OPERATIONS_FILE"},
		{[]string{"UPSTREAM_TOKEN", "svc"}, "UPSTREAM_TOKEN"},
		{[]string{"API_KEYS_FILE", "keys.txt"}, "API_KEYS_FILE"},
		{[]string{"UPSTREAM_TOKEN", "svc", "API_KEYS_FILE", "/no/such/keys"}, "API_KEYS_FILE"},
		{[]string{"UPSTREAM_TOKEN", "svc", "OPEN_ACCESS", "yes please"}, "OPEN_ACCESS"},
		{[]string{"CORS_ORIGINS", "desk.example.com"}, "CORS_ORIGINS"},
		{[]string{"CORS_ORIGINS", "https://desk.example.com/app"}, "CORS_ORIGINS"},
		{[]string{"MAX_COST", "many"}, "MAX_COST"},
		{[]string{"RATE_LIMIT_BURST", "200000"}, "RATE_LIMIT_PER_SECOND"},
		{[]string{"RATE_LIMIT_BURST", "1000", "RATE_LIMIT_PER_SECOND", "10"}, "below MAX_COST"},
	}
	for _, tt := range tests {
		_, err := loadConfig(nil, env(tt.env...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(%v) = %v, want an error naming %s", tt.env, err, tt.want)
			continue
		}
		// It names the bad one only (REDIS_TIMEOUT is part of REDIS_DIAL_TIMEOUT's name).
		msg := strings.ReplaceAll(err.Error(), tt.want, "")
		for _, v := range variables {
			if v != tt.want && strings.Contains(msg, v) {
				t.Errorf("loadConfig(%v) = %v: names %s too", tt.env, err, v)
			}
		}
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	c, err := loadConfig(nil, env("UPSTREAM_TOKEN", "svc-token", "CACHE_KEY_SECRET", "k", "OPEN_ACCESS", "true"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream.ServiceToken != "svc-token" || c.ScopeSecret != "k" {
		t.Errorf("secrets = %q, %q", c.Upstream.ServiceToken, c.ScopeSecret)
	}
	c, err = loadConfig([]string{"--upstream-token", "flag-token"}, env("UPSTREAM_TOKEN", "svc-token", "OPEN_ACCESS", "true"), &bytes.Buffer{})
	if err != nil || c.Upstream.ServiceToken != "flag-token" {
		t.Errorf("flag token = %q, %v; want the flag to win", c.Upstream.ServiceToken, err)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"--help"}, env("UPSTREAM_TOKEN", "svc-hush", "CACHE_KEY_SECRET", "key-hush",
		"REDIS_URL", "redis://:redis-hush@cache:6379/0", "UPSTREAM_URL", "https://user:url-hush@enneo.example/api/mind"), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if strings.Contains(out.String(), "hush") {
		t.Errorf("--help prints a secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "redis://:xxxxx@cache:6379/0") {
		t.Errorf("--help does not show REDIS_URL redacted:\n%s", out.String())
	}
	for _, v := range []string{"PORT", "UPSTREAM_URL", "UPSTREAM_TOKEN", "UPSTREAM_TIMEOUT", "OPERATION_TIMEOUT", "TIME_ZONE", "CACHE_KEY_SECRET", "-upstream-url"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help lacks %s:\n%s", v, out.String())
		}
	}
}

func TestBadFlagUsageHidesPasswords(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"--no-such-flag"}, env("REDIS_URL", "redis://:redis-hush@cache:6379/0"), &out)
	if err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if strings.Contains(out.String(), "hush") || !strings.Contains(out.String(), "REDIS_URL") {
		t.Errorf("usage after a bad flag:\n%s", out.String())
	}
}

// A bad value is repeated as it was given, so that an operator sees what was read (a quoting
// mistake in a manifest, a unit left out); secrets never are.
func TestLoadConfigRepeatsBadValues(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{[]string{"CACHE_TTL", "60"}, `CACHE_TTL="60": not a duration such as 5s or 250ms`},
		{[]string{"PORT", "http"}, `PORT="http": not a whole number`},
		{[]string{"PORT", "70000"}, `PORT=70000: must be 0 to 65535`},
		{[]string{"OPERATION_TIMEOUT", "-1s"}, `OPERATION_TIMEOUT=-1s: must be positive`},
		{[]string{"MAX_DEPTH", "0"}, `MAX_DEPTH=0: must be positive`},
		{[]string{"UPSTREAM_RETRIES", "-2"}, `UPSTREAM_RETRIES=-2`},
		{[]string{"CACHE_REVALIDATE", "1h"}, `CACHE_REVALIDATE=1h0m0s`},
		{[]string{"INTROSPECTION", "maybe"}, `INTROSPECTION="maybe": must be true or false`},
		{[]string{"LOG_LEVEL", "loud"}, `LOG_LEVEL="loud"`},
		{[]string{"TIME_ZONE", "Mars/Olympus"}, `"Mars/Olympus"`},
		{[]string{"CORS_ORIGINS", "desk.example.com"}, `"desk.example.com"`},
		{[]string{"RATE_LIMIT_BURST", "200000"}, `RATE_LIMIT_BURST=200000 and RATE_LIMIT_PER_SECOND=0`},
	} {
		_, err := loadConfig(nil, env(tt.env...), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("loadConfig(%v) = %v, want %s", tt.env, err, tt.want)
		}
	}
	_, err := loadConfig(nil, env("CACHE_ENCRYPTION_KEY", "not-a-key-hush"), &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "hush") {
		t.Errorf("a bad CACHE_ENCRYPTION_KEY: %v, want an error that does not repeat it", err)
	}
}

// TestHelpAndTheConfigurationTableAgree: the table of docs/configuration.md names every variable
// --help lists, and no other but Go's own and OpenTelemetry's standard ones, which their
// runtimes read.
func TestHelpAndTheConfigurationTableAgree(t *testing.T) {
	var out bytes.Buffer
	if _, err := loadConfig([]string{"--help"}, env(), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	help := map[string]bool{}
	for _, m := range regexp.MustCompile(`\(\$([A-Z0-9_]+)\)`).FindAllStringSubmatch(out.String(), -1) {
		help[m[1]] = true
	}
	doc, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " | "); ok && strings.HasPrefix(line, "| `") {
			for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]*)`").FindAllStringSubmatch(first, -1) {
				table[m[1]] = true
			}
		}
	}
	if len(help) == 0 || len(table) == 0 {
		t.Fatalf("--help lists %d variables, docs/configuration.md's table %d", len(help), len(table))
	}
	for v := range help {
		if !table[v] {
			t.Errorf("docs/configuration.md's table lacks %s, which --help lists", v)
		}
	}
	for v := range table {
		if !help[v] && v != "GOMEMLIMIT" && v != "GOGC" && !strings.HasPrefix(v, "OTEL_") {
			t.Errorf("docs/configuration.md's table names %s, which --help does not list", v)
		}
	}
}
