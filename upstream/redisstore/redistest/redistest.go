// Package redistest finds or starts a real Redis for tests, starts a local Redis Cluster
// (cluster.go), and fakes a hung Redis.
//
// The house rule is that cache tests run against a real Redis: CI has one, a developer sets
// REDIS_URL or has redis-server on PATH. Where none can be had a test skips with a message that
// says how to run it, except under CI=true, where a missing Redis must fail the build instead of
// silently skipping the tests that matter most for the cache.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// localAddr is where a developer's or CI's own Redis usually listens.
const localAddr = "127.0.0.1:6379"

// howTo is appended to skip and fail messages, so whoever sees them knows what to do.
const howTo = "set REDIS_URL (e.g. redis://127.0.0.1:6379/0) or install redis-server " +
	"(apt-get install redis-server) so tests can start one"

// Start returns the URL of a real Redis for t: $REDIS_URL if set, else a Redis already answering
// on 127.0.0.1:6379, else a redis-server started for t (stopped when t ends). Without any, it
// skips t, or fails it when CI=true. Tests sharing a Redis keep apart through Prefix.
func Start(t testing.TB) (url string) {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		if err := ping(u); err != nil {
			// A REDIS_URL that does not answer is a broken setup, never a reason to skip.
			t.Fatalf("redistest: REDIS_URL does not answer PING: %v", err)
		}
		return u
	}
	if rawPing(localAddr) == nil {
		return "redis://" + localAddr + "/0"
	}
	u, _, _ := startServer(t)
	return u
}

// StartServer starts a redis-server of t's own on a free port and returns its URL, a stop that
// kills it, and a restart that starts it again on the same port (empty: it saves nothing). Tests
// of outages and recovery use it; it never uses a shared Redis, since they must not stop that.
// Without redis-server on PATH it skips t, or fails it when CI=true.
func StartServer(t testing.TB) (url string, stop func(), restart func()) {
	t.Helper()
	return startServer(t)
}

// Prefix returns a key prefix unique to t, such as "efctest:1f2e3d4c5b6a7988:", and deletes
// every key under it when t ends, so tests can share one Redis, run in parallel and leave it
// clean.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	prefix := "efctest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		// Only a shared Redis needs cleaning: a server started for t dies with t. Looking the
		// shared one up again here keeps Prefix independent of the order of Start and Prefix.
		u, ok := sharedURL()
		if !ok {
			return
		}
		if err := deleteKeys(u, prefix); err != nil {
			t.Logf("redistest: deleting keys under %q: %v", prefix, err)
		}
	})
	return prefix
}

// Blackhole returns a redis:// URL for a TCP listener on 127.0.0.1 that accepts connections and
// never answers, like a Redis that hangs; it is closed when t ends. Clients connect at once and
// then time out reading.
func Blackhole(t testing.TB) (url string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: blackhole listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener was closed
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or written
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "redis://" + ln.Addr().String() + "/0"
}

// sharedURL returns a Redis that outlives the test: $REDIS_URL, or one answering on localAddr.
func sharedURL() (string, bool) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u, true
	}
	if rawPing(localAddr) == nil {
		return "redis://" + localAddr + "/0", true
	}
	return "", false
}

// rawPing sends PING over a plain TCP connection and expects +PONG. Probing with go-redis would
// log a "failed to dial" line for every try on a port where nothing listens yet. A Redis that
// wants a password answers -NOAUTH, and so does not count as usable.
func rawPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// ping sends one PING through a short-lived client with short timeouts, so probing a port where
// nothing listens (or something else does) costs little. It is a probe, not a client of the
// facade's (redisstore.ApplyPolicy, which this package, imported by redisstore's own tests,
// cannot use): its context bounds it, go-redis' dial attempts included.
func ping(u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.DialTimeout = 500 * time.Millisecond
	opt.ReadTimeout = time.Second
	opt.WriteTimeout = time.Second
	opt.MaxRetries = -1
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// deleteKeys deletes every key matching prefix+"*" with SCAN, never KEYS, which would block a
// shared server.
func deleteKeys(u, prefix string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 500).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// unavailable skips t, or fails it under CI, where every test must run; how says what would
// let it run.
func unavailable(t testing.TB, why, how string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("redistest: %s, and CI=true forbids skipping: %s", why, how)
		return
	}
	t.Skipf("redistest: %s; to run this test, %s", why, how)
}

// server is a redis-server process: one test's own, or a node of a Cluster.
type server struct {
	bin  string
	dir  string
	port int
	args []string // more redis-server arguments, such as a cluster node's

	mu     sync.Mutex
	cmd    *exec.Cmd  // nil while stopped
	exited chan error // receives cmd.Wait's result
}

func startServer(t testing.TB) (string, func(), func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "no Redis at REDIS_URL or "+localAddr+" and no redis-server on PATH", howTo)
		return "", nil, nil // not reached: unavailable ends t
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	s := &server{bin: bin, dir: t.TempDir(), port: port}
	s.start(t)
	t.Cleanup(s.stop)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), s.stop, func() { s.start(t) }
}

// freePort asks the kernel for a port that is free now. Another process could take it before
// redis-server binds it; start then fails loudly with redis-server's log rather than flaking.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// start is launch for t, which fails if redis-server does not start.
func (s *server) start(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// launch runs redis-server and waits until it answers PING. It does nothing if it is running.
func (s *server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logPath := filepath.Join(s.dir, "redis.log")
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "", // no RDB snapshots: a restart comes back empty, like a lost cache
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", logPath,
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = diesWithTest()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server on port %d exited at start (%v); its log:\n%s", s.port, err, tail(logPath))
		default:
		}
		if rawPing(s.addr()) == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on port %d did not answer PING within 10s; its log:\n%s", s.port, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = cmd
	s.exited = exited
	return nil
}

// running reports whether the process is up (not stopped by stop).
func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// stop kills redis-server at once, as a crash would, and waits for it to exit so that its port
// is closed when stop returns. It does nothing if the server is not running.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// tail returns the last lines of a log file for a failure message.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		lines = append(lines, "(reading log: "+err.Error()+")")
	}
	return strings.Join(lines, "\n")
}

// NoLeakedGoroutines notes the goroutines running now and returns a check that fails t if any
// other is still running then (go.uber.org/goleak names them with their stacks). It waits up to
// 5 s for goroutines that end lazily: go-redis ends some a while after its client closes (a dial
// prober sleeps 1 s between tries).
func NoLeakedGoroutines(t testing.TB) (check func()) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := goleak.Find(current) // itself retries for a while
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Error(err)
				return
			}
		}
	}
}
