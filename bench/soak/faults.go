package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enneo-facade/facade/upstream/redisstore"
)

// event is one line of the fault timeline.
type event struct {
	at   time.Duration // from the soak's start
	what string
}

// timeline collects what the faults did and when, as it happened: in order, each event's time
// being taken under the lock it is appended under.
type timeline struct {
	start  time.Time
	mu     sync.Mutex
	events []event
}

func (t *timeline) add(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, event{time.Since(t.start), fmt.Sprintf(format, args...)})
}

func (t *timeline) list() []event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.events)
}

// injector injects the faults, each into the real process or service: the Redis nodes, a facade
// replica's process, the stub's fault mode.
type injector struct {
	c    *config
	tl   *timeline
	http *http.Client
	wg   sync.WaitGroup // watchers still following a fault's effects
}

func (in *injector) inject(ctx context.Context, f fault) {
	var err error
	switch f.kind {
	case killMaster:
		err = in.killMaster(ctx)
	case restartReplica:
		err = in.restartReplica(ctx)
	case upstream503:
		err = in.upstream("503")
	case upstreamSlow:
		err = in.upstream("slow")
	case upstreamOK:
		err = in.upstream("ok")
	case dropPubSub:
		err = in.dropPubSub(ctx)
	}
	if err != nil {
		in.tl.add("%s failed: %v", f.kind, err)
	}
}

// node is one line of CLUSTER NODES.
type node struct {
	id, addr, master string
	flags            []string
	slots            []string
}

func (n node) is(flag string) bool { return slices.Contains(n.flags, flag) }

// parseNodes reads CLUSTER NODES' answer: <id> <ip:port@cport[,hostname]> <flags> <master>
// <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
func parseNodes(s string) []node {
	var out []node
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out = append(out, node{id: f[0], addr: addr, flags: strings.Split(f[2], ","), master: f[3], slots: f[8:]})
	}
	return out
}

func (in *injector) redis(addr string) *redis.Client {
	o := &redis.Options{Addr: addr, Protocol: 2}
	redisstore.ApplyPolicy(o, 500*time.Millisecond, time.Second)
	return redis.NewClient(o)
}

// nodes asks the live nodes, in the order given, for the cluster's view, and returns the first
// answer.
func (in *injector) nodes(ctx context.Context) ([]node, error) {
	var errs []error
	for _, addr := range in.c.redis {
		rdb := in.redis(addr)
		s, err := rdb.ClusterNodes(ctx).Result()
		rdb.Close()
		if err == nil {
			return parseNodes(s), nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// killMaster kills the first master of the seed list with SIGKILL, as a crash would, and
// follows the failover: when its replica is promoted, and when every live node says the
// cluster is ok again.
func (in *injector) killMaster(ctx context.Context) error {
	nodes, err := in.nodes(ctx)
	if err != nil {
		return err
	}
	var victim, heir node
	for _, addr := range in.c.redis {
		for _, n := range nodes {
			if n.addr == addr && n.is("master") && !n.is("fail") && len(n.slots) > 0 && victim.id == "" {
				victim = n
			}
		}
	}
	if victim.id == "" {
		return errors.New("no master found")
	}
	for _, n := range nodes {
		if n.master == victim.id {
			heir = n
		}
	}
	rdb := in.redis(victim.addr)
	info, err := rdb.Info(ctx, "server").Result()
	rdb.Close()
	if err != nil {
		return err
	}
	pid := infoField(info, "process_id")
	if pid <= 0 {
		return fmt.Errorf("INFO server of %s names no process_id", victim.addr)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	killed := time.Now()
	in.tl.add("Redis master %s (pid %d, slots %s) killed with SIGKILL; its replica is %s", victim.addr, pid, strings.Join(victim.slots, " "), heir.addr)
	if heir.id == "" {
		return nil
	}
	in.wg.Go(func() {
		promoted := false
		for time.Since(killed) < 60*time.Second && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			if !promoted {
				rdb := in.redis(heir.addr)
				s, err := rdb.ClusterNodes(ctx).Result()
				rdb.Close()
				for _, n := range parseNodes(s) {
					if err == nil && n.is("myself") && n.is("master") {
						promoted = true
						in.tl.add("replica %s promoted to master, %.1f s after the kill", heir.addr, time.Since(killed).Seconds())
					}
				}
				continue
			}
			if in.clusterOK(ctx, victim.addr) {
				in.tl.add("cluster_state:ok on every live node, %.1f s after the kill", time.Since(killed).Seconds())
				return
			}
		}
	})
	return nil
}

// clusterOK reports whether every node but dead says cluster_state:ok.
func (in *injector) clusterOK(ctx context.Context, dead string) bool {
	for _, addr := range in.c.redis {
		if addr == dead {
			continue
		}
		rdb := in.redis(addr)
		s, err := rdb.ClusterInfo(ctx).Result()
		rdb.Close()
		if err != nil || !strings.Contains(s, "cluster_state:ok") {
			return false
		}
	}
	return true
}

// infoField reads an integer field of INFO's answer.
func infoField(info, name string) int {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// restartReplica stops the second replica (the only one if there is just one) with SIGTERM, as
// an orchestrator does; its supervisor in bench/fleet starts it again once it has exited. It
// follows the restart until the new process is ready.
func (in *injector) restartReplica(ctx context.Context) error {
	r := in.c.replicas[min(1, len(in.c.replicas)-1)]
	pid, err := r.pid()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	stopped := time.Now()
	in.tl.add("%s (pid %d) sent SIGTERM", r.name, pid)
	in.wg.Go(func() {
		exited := false
		for time.Since(stopped) < 60*time.Second && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			if !exited {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					continue
				}
				exited = true
				in.tl.add("%s exited, %.1f s after SIGTERM", r.name, time.Since(stopped).Seconds())
			}
			now, err := r.pid()
			if err != nil || now == pid {
				continue
			}
			if ready(ctx, in.http, r.url+"/readyz") {
				in.tl.add("%s ready again (pid %d), %.1f s after SIGTERM", r.name, now, time.Since(stopped).Seconds())
				return
			}
		}
	})
	return nil
}

func ready(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// upstream switches the stub's fault mode, and notes it in the timeline.
func (in *injector) upstream(mode string) error {
	if err := in.setUpstream(mode); err != nil {
		return err
	}
	switch mode {
	case "503":
		in.tl.add("upstream answers every history call 503")
	case "slow":
		in.tl.add("upstream answers each history call after %s more", in.c.slowDelay)
	default:
		in.tl.add("upstream answers normally again")
	}
	return nil
}

func (in *injector) setUpstream(mode string) error {
	body := fmt.Sprintf(`{"mode":%q,"delay":%q}`, mode, in.c.slowDelay)
	resp, err := in.http.Post(in.c.stub+"/fault", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /fault: %s", resp.Status)
	}
	return nil
}

// dropPubSub closes every pub/sub connection of every live Redis node.
func (in *injector) dropPubSub(ctx context.Context) error {
	var total int64
	var per []string
	for _, addr := range in.c.redis {
		rdb := in.redis(addr)
		n, err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Int64()
		rdb.Close()
		if err != nil {
			per = append(per, addr+": not reachable")
			continue
		}
		total += n
		per = append(per, fmt.Sprintf("%s: %d", addr, n))
	}
	in.tl.add("CLIENT KILL TYPE pubsub on every node: %d connections closed (%s)", total, strings.Join(per, ", "))
	return nil
}
