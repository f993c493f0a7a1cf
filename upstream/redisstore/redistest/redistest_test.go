package redistest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStartServerStopRestart(t *testing.T) {
	url, stop, restart := StartServer(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
	if err := rawPing(addr); err != nil {
		t.Fatalf("PING %s after StartServer: %v", url, err)
	}
	stop()
	if err := rawPing(addr); err == nil {
		t.Fatalf("PING %s after stop succeeded", url)
	}
	restart()
	if err := rawPing(addr); err != nil {
		t.Fatalf("PING %s after restart: %v", url, err)
	}
}

func TestBlackholeAcceptsAndNeverAnswers(t *testing.T) {
	url := Blackhole(t)
	c, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0"), time.Second)
	if err != nil {
		t.Fatalf("dial blackhole: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [1]byte
	if n, err := c.Read(b[:]); n != 0 || !isTimeout(err) {
		t.Fatalf("read from blackhole = %d bytes, %v; want a timeout", n, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestPrefixIsUnique(t *testing.T) {
	a, b := Prefix(t), Prefix(t)
	if a == b || !strings.HasPrefix(a, "efctest:") || !strings.HasSuffix(a, ":") {
		t.Errorf("Prefix() = %q, then %q; want two different efctest:...: prefixes", a, b)
	}
}

// outcome records how a helper ended a test, which a real *testing.T cannot report to its
// own test.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Skipf(format string, args ...any)  { o.skipped = fmt.Sprintf(format, args...) }
func (o *outcome) Fatalf(format string, args ...any) { o.failed = fmt.Sprintf(format, args...) }

func TestNoRedisServerSkipsOrFailsUnderCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		o := &outcome{TB: t}
		StartServer(o)
		switch {
		case ci == "" && (o.failed != "" || !strings.Contains(o.skipped, "REDIS_URL")):
			t.Errorf("CI=%q: skipped %q, failed %q; want a skip saying how to run", ci, o.skipped, o.failed)
		case ci == "true" && (o.skipped != "" || !strings.Contains(o.failed, "CI=true")):
			t.Errorf("CI=%q: skipped %q, failed %q; want a failure", ci, o.skipped, o.failed)
		}
	}
}
