package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// howToCluster is appended to skip and fail messages of the cluster helpers.
const howToCluster = "install redis-server and redis-cli (apt-get install redis-server brings both) " +
	"so tests can start a Redis Cluster"

// clusterNodeTimeout is the nodes' cluster-node-timeout: a master that stops answering is
// failed over about two of these later.
const clusterNodeTimeout = 2 * time.Second

// Cluster is a Redis Cluster on this machine: three masters with one replica each, six
// redis-server processes on 127.0.0.1, formed with redis-cli --cluster create. A test that kills
// or restarts nodes starts a Cluster of its own (StartCluster); tests that only read and write
// share one per test binary (SharedCluster) and keep apart through Prefix.
//
// Its methods take the calling test, which they fail when the cluster does not do what they
// wait for; they are safe for concurrent use.
type Cluster struct {
	// URL names every node in go-redis's seed-list form,
	// redis://127.0.0.1:p1?addr=127.0.0.1:p2&addr=..., which redisstore takes for a cluster.
	URL string

	shared bool

	mu     sync.Mutex
	nodes  []*server
	killed map[string][]slotRange // address of a killed master -> the slots it served
}

// slotRange is the slots from first to last, inclusive.
type slotRange struct{ first, last int }

// StartCluster starts a Cluster of t's own, stopped when t ends whether it passed or not. It
// returns once every node agrees on the slots and roles, every slot is served and every replica's
// link to its master is up (about two seconds, most of it redis-cli's own wait for the nodes to
// meet). A link that is up does not mean that the replica has every write yet: see KillMaster.
// Without redis-server and redis-cli on PATH it skips t, or fails it when CI=true.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, cli, ok := clusterBins(t)
	if !ok {
		return nil // not reached: clusterBins ended t
	}
	c, err := startCluster(bin, cli, t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.stop)
	return c
}

// shared is the test binary's one SharedCluster.
var shared struct {
	once sync.Once
	dir  string
	c    *Cluster
	err  error
}

// SharedCluster returns a Cluster shared by every test of the test binary that asks for it,
// started by the first. Such tests must not kill, restart or reconfigure nodes (KillMaster
// refuses to), and keep their keys apart with Prefix. The package's TestMain stops it:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		redistest.StopSharedCluster()
//		os.Exit(code)
//	}
//
// Without redis-server and redis-cli on PATH it skips t, or fails it when CI=true.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, cli, ok := clusterBins(t)
	if !ok {
		return nil
	}
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "redistest-cluster-"); shared.err != nil {
			return
		}
		if shared.c, shared.err = startCluster(bin, cli, shared.dir); shared.err == nil {
			shared.c.shared = true
		}
	})
	if shared.err != nil {
		t.Fatalf("redistest: shared cluster: %v", shared.err)
	}
	return shared.c
}

// StopSharedCluster stops the SharedCluster, if one was started, and deletes its files.
func StopSharedCluster() {
	if shared.c != nil {
		shared.c.stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}

// clusterBins finds redis-server and redis-cli, or ends t (skipped, or failed under CI).
func clusterBins(t testing.TB) (bin, cli string, ok bool) {
	t.Helper()
	bin, errServer := exec.LookPath("redis-server")
	cli, errCLI := exec.LookPath("redis-cli")
	if errServer != nil || errCLI != nil {
		unavailable(t, "no redis-server and redis-cli on PATH to start a Redis Cluster", howToCluster)
		return "", "", false
	}
	return bin, cli, true
}

func startCluster(bin, cli, dir string) (_ *Cluster, err error) {
	c := &Cluster{killed: map[string][]slotRange{}}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	// The nodes start in parallel: each takes a while to answer its first PING.
	c.nodes = make([]*server, 6)
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Go(func() { c.nodes[i], errs[i] = startNode(bin, dir) })
	}
	wg.Wait()
	c.nodes = slices.DeleteFunc(c.nodes, func(n *server) bool { return n == nil }) // for stop
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v; it said:\n%s", err, out)
	}
	if err := c.waitSettled(20 * time.Second); err != nil {
		return nil, fmt.Errorf("the new cluster did not settle: %w", err)
	}
	c.URL = "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	return c, nil
}

// startNode starts a cluster node in a directory of its own under dir. A node whose ports
// were taken between clusterPort's check and redis-server's bind is started again on others.
func startNode(bin, dir string) (*server, error) {
	var err error
	for range 3 {
		var port int
		if port, err = clusterPort(); err != nil {
			return nil, err
		}
		s := &server{bin: bin, dir: filepath.Join(dir, strconv.Itoa(port)), port: port, args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // in dir, kept for a restart
			"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout.Milliseconds())),
			// As a cache's cluster should be (see docs/replicas.md): the other masters keep serving
			// their slots while a dead one's are uncovered, rather than the whole cluster
			// refusing every command from the moment it declares the master failed.
			"--cluster-require-full-coverage", "no",
			// A replica syncs at once rather than after the 5 s a diskless sync waits by default
			// for more replicas to share it.
			"--repl-diskless-sync-delay", "0",
		}}
		if err = os.Mkdir(s.dir, 0o755); err != nil {
			return nil, err
		}
		if err = s.launch(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// clusterPort returns a port p such that p and p+10000, where a node listens for the cluster
// bus, are both free now. (Redis 7's cluster-port could name the bus port, but Redis 6 lacks
// it.) Both lie below Linux's ephemeral range (32768 up), where freePort's ports and every
// outgoing connection's come from, so only another listener can take them meanwhile.
func clusterPort() (int, error) {
	for range 100 {
		p := 10000 + rand.IntN(32768-20000)
		a, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		_ = a.Close()
		if err != nil {
			continue
		}
		_ = b.Close()
		return p, nil
	}
	return 0, errors.New("no free pair of ports p and p+10000 below 32768")
}

// stop kills every node.
func (c *Cluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		n.stop()
	}
}

// Client returns a go-redis cluster client of the cluster, closed when t ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	o, err := redis.ParseClusterURL(c.URL)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	cc := redis.NewClusterClient(o)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// MasterOf returns the address of the master serving key's slot.
func (c *Cluster) MasterOf(t testing.TB, key string) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.liveAddr()
	reply, err := command(at, "CLUSTER", "KEYSLOT", key)
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT on %s: %v", at, err)
	}
	slot, _ := strconv.Atoi(reply)
	v, err := viewOf(at)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for _, n := range v {
		if n.master && !n.failed && n.serves(slot) {
			return n.addr
		}
	}
	t.Fatalf("redistest: no master serves slot %d of %q in %s's view", slot, key, at)
	return ""
}

// Masters returns the addresses of the masters serving slots, in order of their first slot.
func (c *Cluster) Masters(t testing.TB) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := viewOf(c.liveAddr())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	var masters []*nodeView
	for _, n := range v {
		if n.master && !n.failed && len(n.slots) > 0 {
			masters = append(masters, n)
		}
	}
	slices.SortFunc(masters, func(a, b *nodeView) int { return a.slots[0].first - b.slots[0].first })
	addrs := make([]string, len(masters))
	for i, n := range masters {
		addrs[i] = n.addr
	}
	return addrs
}

// KillMaster kills the master at addr with SIGKILL, as a crash would, and returns once the
// process is gone. Its replica is promoted about two cluster-node-timeouts (2 s) later; see
// WaitFailover.
//
// As in a crash, writes the replica has not received are lost. Replication is asynchronous, and
// a replica whose sync has just ended may receive no writes for up to a second: after a diskless
// sync Redis streams writes to it only from its next acknowledgement, which it sends once a
// second. A test whose write must survive the kill sends WAIT on the connection that wrote, which
// answers once replicas acknowledge that write; a WAIT on any other connection answers at once.
func (c *Cluster) KillMaster(t testing.TB, addr string) {
	t.Helper()
	if c.shared {
		t.Fatalf("redistest: KillMaster on the shared cluster; start one of the test's own with StartCluster")
		return // for a t whose Fatalf returns, as the refusal's own test has: it must kill nothing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.node(t, addr)
	v, err := viewOf(addr)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	self := v.self()
	if self == nil || !self.master || len(self.slots) == 0 {
		t.Fatalf("redistest: KillMaster(%s): not a master serving slots", addr)
	}
	n.stop()
	c.killed[addr] = self.slots
}

// WaitFailover waits until the slots of the master killed at addr are served by another node,
// normally its replica promoted, and the cluster is settled again (see StartCluster), and
// returns the new master's address. It fails t after 30 s.
func (c *Cluster) WaitFailover(t testing.TB, addr string) (promoted string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	slots, ok := c.killed[addr]
	if !ok {
		t.Fatalf("redistest: WaitFailover(%s): no master was killed there", addr)
	}
	if err := c.waitSettled(30 * time.Second); err != nil {
		t.Fatalf("redistest: no failover of %s: %v", addr, err)
	}
	v, err := viewOf(c.liveAddr())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	for _, n := range v {
		if n.master && !n.failed && n.serves(slots[0].first) {
			return n.addr
		}
	}
	t.Fatalf("redistest: no master serves %s's slots after the failover", addr)
	return ""
}

// Restart starts the node killed at addr again, with its cluster configuration, and waits
// until it has rejoined (as a replica of the master that took over) and the cluster is settled.
// It comes back empty and syncs from its master.
func (c *Cluster) Restart(t testing.TB, addr string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.node(t, addr)
	n.start(t)
	delete(c.killed, addr)
	if err := c.waitSettled(30 * time.Second); err != nil {
		t.Fatalf("redistest: the cluster did not settle after %s restarted: %v", addr, err)
	}
}

// ClientKillPubSub closes every pub/sub connection on every running node (CLIENT KILL TYPE
// pubsub), as a network blip or a proxy's idle timeout would, and returns how many there were.
func (c *Cluster) ClientKillPubSub(t testing.TB) int {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		reply, err := command(n.addr(), "CLIENT", "KILL", "TYPE", "pubsub")
		if err != nil {
			t.Fatalf("redistest: CLIENT KILL TYPE pubsub on %s: %v", n.addr(), err)
		}
		k, _ := strconv.Atoi(reply)
		total += k
	}
	return total
}

// node returns the node at addr. c.mu is held.
func (c *Cluster) node(t testing.TB, addr string) *server {
	t.Helper()
	for _, n := range c.nodes {
		if n.addr() == addr {
			return n
		}
	}
	t.Fatalf("redistest: no node of the cluster at %s", addr)
	return nil
}

// liveAddr returns the address of a running node. c.mu is held.
func (c *Cluster) liveAddr() string {
	for _, n := range c.nodes {
		if n.running() {
			return n.addr()
		}
	}
	return "(no node running)"
}

// waitSettled polls the running nodes until settled finds nothing amiss, for at most d. This is
// what a cluster does on its own (gossip, elections, replication), so there is no event to wait
// on but the state itself. c.mu is held.
func (c *Cluster) waitSettled(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := c.settled()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled returns nil when every running node says cluster_state:ok and sees the same roles
// and slots, every slot is served by a running master, and every running replica's link to
// its master is up; otherwise what it found amiss. c.mu is held.
func (c *Cluster) settled() error {
	var first string
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		info, err := command(n.addr(), "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok\r\n") {
			return fmt.Errorf("%s: cluster_state is not ok", n.addr())
		}
		v, err := viewOf(n.addr())
		if err != nil {
			return err
		}
		served := 0
		for _, m := range v {
			if m.master && len(m.slots) > 0 {
				if !c.runningAt(m.addr) || m.failed {
					return fmt.Errorf("%s: slots of %s, which is down", n.addr(), m.addr)
				}
				for _, r := range m.slots {
					served += r.last - r.first + 1
				}
			}
		}
		if served != 16384 {
			return fmt.Errorf("%s: %d of 16384 slots served", n.addr(), served)
		}
		s := v.summary(c.runningAt)
		if first == "" {
			first = s
		} else if s != first {
			return fmt.Errorf("%s sees %q, another node %q", n.addr(), s, first)
		}
		if self := v.self(); self != nil && !self.master {
			repl, err := command(n.addr(), "INFO", "replication")
			if err != nil {
				return err
			}
			if !strings.Contains(repl, "master_link_status:up\r\n") {
				return fmt.Errorf("%s: replica not in sync with its master", n.addr())
			}
		}
	}
	if first == "" {
		return errors.New("no node is running")
	}
	return nil
}

// runningAt reports whether the node at addr is running. c.mu is held.
func (c *Cluster) runningAt(addr string) bool {
	for _, n := range c.nodes {
		if n.addr() == addr {
			return n.running()
		}
	}
	return false
}

// view is one node's CLUSTER NODES: what it knows of every node.
type view []*nodeView

type nodeView struct {
	id, addr string
	myself   bool
	master   bool
	failed   bool // flagged fail or fail? (suspected)
	masterID string
	slots    []slotRange
}

func (n *nodeView) serves(slot int) bool {
	for _, r := range n.slots {
		if r.first <= slot && slot <= r.last {
			return true
		}
	}
	return false
}

// viewOf asks the node at addr for its view of the cluster.
func viewOf(addr string) (view, error) {
	reply, err := command(addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, fmt.Errorf("CLUSTER NODES on %s: %w", addr, err)
	}
	return parseNodes(reply)
}

// parseNodes reads CLUSTER NODES: "<id> <ip:port@cport> <flags> <master> <ping-sent>
// <pong-recv> <config-epoch> <link-state> <slot> ..." per node, where a slot is a number or a
// range "first-last", or a slot being migrated in brackets (skipped: the harness migrates none).
func parseNodes(reply string) (view, error) {
	var v view
	for line := range strings.Lines(reply) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q is short", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		flags := strings.Split(f[2], ",")
		n := &nodeView{
			id: f[0], addr: addr,
			myself:   slices.Contains(flags, "myself"),
			master:   slices.Contains(flags, "master"),
			failed:   slices.Contains(flags, "fail") || slices.Contains(flags, "fail?"),
			masterID: f[3],
		}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue
			}
			a, b, isRange := strings.Cut(s, "-")
			if !isRange {
				b = a
			}
			first, err1 := strconv.Atoi(a)
			last, err2 := strconv.Atoi(b)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("CLUSTER NODES slot %q", s)
			}
			n.slots = append(n.slots, slotRange{first, last})
		}
		v = append(v, n)
	}
	return v, nil
}

func (v view) self() *nodeView {
	for _, n := range v {
		if n.myself {
			return n
		}
	}
	return nil
}

// summary is the roles and slots of the running nodes, in a form two views can be compared by.
func (v view) summary(running func(addr string) bool) string {
	addrOf := map[string]string{}
	for _, n := range v {
		addrOf[n.id] = n.addr
	}
	var lines []string
	for _, n := range v {
		if !running(n.addr) {
			continue
		}
		role := "replica of " + addrOf[n.masterID]
		if n.master {
			role = "master"
		}
		lines = append(lines, fmt.Sprintf("%s %s %v", n.addr, role, n.slots))
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

// command sends one command to the Redis at addr over a connection of its own, and returns a
// simple, integer or bulk string reply (an error reply as an error). A raw connection keeps the
// harness free of go-redis, its pools, goroutines and log lines, which tests would notice.
//
// The connection is closed after the one command, so command must not be used for commands that
// act on what the connection did before: a WAIT sent this way waits for no write at all (see
// conn).
func command(addr string, args ...string) (string, error) {
	c, err := dial(addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.do(args...)
}

// conn is a raw connection to one Redis for commands that must share it. WAIT is the one that
// needs it: it waits until replicas acknowledge the replication offset of its own connection's
// last write, so a WAIT on a connection that wrote nothing waits for offset 0, which any
// replica that is online has acknowledged, and answers at once whatever other connections wrote.
type conn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration // for each command: sending it and reading its reply
}

// dial connects to the Redis at addr; each command on the connection may take up to timeout.
func dial(addr string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, r: bufio.NewReader(c), timeout: timeout}, nil
}

func (c *conn) Close() error { return c.c.Close() }

// do sends one command and returns its reply, as command does.
func (c *conn) do(args ...string) (string, error) {
	_ = c.c.SetDeadline(time.Now().Add(c.timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
