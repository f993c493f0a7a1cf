package envflag

import (
	"bytes"
	"errors"
	"flag"
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

// TestSet: a value comes from the flag, else the environment, else the default; integers bind
// to int and int64 fields; an unset Bool takes what unset says once every value is in.
func TestSet(t *testing.T) {
	var (
		d        time.Duration
		small    int
		big      int64
		name     string
		on, off  bool
		secret   string
		mode     = "demo"
		whenDemo = func() bool { return mode == "demo" }
	)
	s := New("t", env("A_DURATION", "2s", "A_BIG", "5000000000", "A_NAME", "env", "A_SECRET", "hush"), &bytes.Buffer{})
	s.Duration(&d, "A_DURATION", time.Second, "", Positive)
	Number(s, &small, "A_SMALL", 7, "", Positive)
	Number(s, &big, "A_BIG", 1, "", nil)
	s.String(&name, "A_NAME", "def", "")
	s.Bool(&on, "A_ON", "", whenDemo)
	s.Bool(&off, "A_OFF", "", whenDemo)
	s.Secret(&secret, "A_SECRET", "")
	if err := s.Parse([]string{"--a-name", "flag", "--a-off", "false"}); err != nil {
		t.Fatal(err)
	}
	if d != 2*time.Second || small != 7 || big != 5_000_000_000 || name != "flag" || !on || off || secret != "hush" {
		t.Errorf("got %v %d %d %q %v %v %q", d, small, big, name, on, off, secret)
	}
}

// TestBadValues: each bad value is named with its variable and repeated, a secret never.
func TestBadValues(t *testing.T) {
	var d time.Duration
	var n int
	var b bool
	s := New("t", env("A_DURATION", "60", "A_NUMBER", "x"), &bytes.Buffer{})
	s.Duration(&d, "A_DURATION", time.Second, "", Positive)
	Number(s, &n, "A_NUMBER", 1, "", Positive)
	err := s.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), `A_DURATION="60": not a duration`) || !strings.Contains(err.Error(), `A_NUMBER="x": not a whole number`) {
		t.Errorf("Parse = %v", err)
	}
	s = New("t", env("A_DURATION", "-1s", "A_BOOL", "maybe"), &bytes.Buffer{})
	s.Duration(&d, "A_DURATION", time.Second, "", Positive)
	s.Bool(&b, "A_BOOL", "", func() bool { return false })
	err = s.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "A_DURATION=-1s: must be positive") || !strings.Contains(err.Error(), `A_BOOL="maybe": must be true or false`) {
		t.Errorf("Parse = %v", err)
	}
}

// TestHelp: --help shows the environment's values as defaults, a URL's password redacted and a
// secret not at all.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	var u, secret string
	s := New("t", env("A_URL", "redis://:pw-hush@cache:6379/0", "A_SECRET", "hush"), &out)
	s.URL(&u, "A_URL", "where")
	s.Secret(&secret, "A_SECRET", "what")
	if err := s.Parse([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(--help) = %v", err)
	}
	if strings.Contains(out.String(), "hush") || !strings.Contains(out.String(), "redis://:xxxxx@cache:6379/0") || !strings.Contains(out.String(), "$A_SECRET") {
		t.Errorf("--help:\n%s", out.String())
	}
}
