package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
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

func TestMain(m *testing.M) {
	code := m.Run()
	StopSharedCluster()
	os.Exit(code)
}

// TestCluster: a cluster of three masters whose keys survive a master's crash on its promoted
// replica, whose killed node rejoins as a replica, and whose pub/sub connections can be cut.
func TestCluster(t *testing.T) {
	start := time.Now()
	c := StartCluster(t)
	t.Logf("StartCluster took %v", time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(c.URL, "redis://127.0.0.1:") || strings.Count(c.URL, "addr=127.0.0.1:") != 5 {
		t.Errorf("URL = %q, want a seed list of the six nodes", c.URL)
	}
	masters := c.Masters(t)
	if len(masters) != 3 {
		t.Fatalf("Masters() = %v, want 3", masters)
	}

	// Keys that land on every master, each written to the master MasterOf names: a wrong one
	// would answer MOVED.
	byMaster := map[string]string{}
	for i := 0; len(byMaster) < 3; i++ {
		key := fmt.Sprint("key-", i)
		m := c.MasterOf(t, key)
		if !slices.Contains(masters, m) {
			t.Fatalf("MasterOf(%q) = %s, not one of %v", key, m, masters)
		}
		if _, ok := byMaster[m]; !ok {
			byMaster[m] = key
			setReplicated(t, m, key, "value of "+key)
		}
	}

	victim := masters[1]
	key := byMaster[victim]
	c.KillMaster(t, victim)
	if err := rawPing(victim); err == nil {
		t.Fatalf("%s answers PING after KillMaster", victim)
	}
	killed := time.Now()
	promoted := c.WaitFailover(t, victim)
	t.Logf("%s promoted %v after the kill", promoted, time.Since(killed).Round(time.Millisecond))
	if promoted == victim || c.MasterOf(t, key) != promoted {
		t.Fatalf("WaitFailover(%s) = %s, and %q is on %s; want another node serving it", victim, promoted, key, c.MasterOf(t, key))
	}
	if got, err := command(promoted, "GET", key); err != nil || got != "value of "+key {
		t.Errorf("GET %s on the promoted %s = %q, %v; want its value", key, promoted, got, err)
	}

	c.Restart(t, victim)
	if v, err := viewOf(victim); err != nil || v.self().master || v.self().masterID == "" {
		t.Errorf("after Restart, %s's view of itself: %+v, %v; want a replica", victim, v.self(), err)
	}

	// A subscriber of its own, cut by ClientKillPubSub.
	sub, err := net.Dial("tcp", promoted)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	r := bufio.NewReader(sub)
	fmt.Fprint(sub, "SUBSCRIBE ch\r\n")
	for range 6 { // *3 $9 subscribe $2 ch :1
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("SUBSCRIBE: %v", err)
		}
	}
	if n := c.ClientKillPubSub(t); n != 1 {
		t.Errorf("ClientKillPubSub() = %d, want 1", n)
	}
	_ = sub.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("reading the killed subscription: %v, want EOF", err)
	}
}

// setReplicated sets key on the master at addr and returns once its replica has the write, so
// that the write survives the master's crash (see KillMaster). The SET and the WAIT share one
// connection: WAIT waits for its own connection's last write, and on a connection of its own
// would answer at once, before the replica has anything.
func setReplicated(t *testing.T, addr, key, value string) {
	t.Helper()
	c, err := dial(addr, 15*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := c.do("SET", key, value); err != nil {
		t.Fatalf("SET %s on %s: %v", key, addr, err)
	}
	// Redis answers once the replica acknowledges the write; 10 s only bounds a broken link.
	if n, err := c.do("WAIT", "1", "10000"); err != nil || n != "1" {
		t.Fatalf("WAIT 1 10000 on %s after SET %s = %q, %v; want 1, the replica having the write", addr, key, n, err)
	}
}

func TestSharedClusterIsSharedAndKeptWhole(t *testing.T) {
	a, b := SharedCluster(t), SharedCluster(t)
	if a != b {
		t.Fatalf("SharedCluster() returned two clusters")
	}
	masters := a.Masters(t)
	if len(masters) != 3 {
		t.Fatalf("shared cluster has masters %v, want 3", masters)
	}
	o := &outcome{TB: t}
	a.KillMaster(o, masters[0])
	if !strings.Contains(o.failed, "shared") {
		t.Errorf("KillMaster on the shared cluster: failed %q, want a refusal", o.failed)
	}
	// The refused master still runs. PING tells at once, since a killed one's port is closed
	// when KillMaster returns; Masters would name it for seconds more, until the other nodes
	// noticed.
	if err := rawPing(masters[0]); err != nil {
		t.Errorf("PING %s after the refused KillMaster: %v, want PONG", masters[0], err)
	}
}

func TestNoRedisClusterSkipsOrFailsUnderCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server, no redis-cli
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		for name, start := range map[string]func(testing.TB) *Cluster{"StartCluster": StartCluster, "SharedCluster": SharedCluster} {
			o := &outcome{TB: t}
			if c := start(o); c != nil {
				t.Errorf("%s without redis-server returned a cluster", name)
			}
			switch {
			case ci == "" && (o.failed != "" || !strings.Contains(o.skipped, "apt-get install redis-server")):
				t.Errorf("%s, CI=%q: skipped %q, failed %q; want a skip saying how to run", name, ci, o.skipped, o.failed)
			case ci == "true" && (o.skipped != "" || !strings.Contains(o.failed, "CI=true")):
				t.Errorf("%s, CI=%q: skipped %q, failed %q; want a failure", name, ci, o.skipped, o.failed)
			}
		}
	}
}
