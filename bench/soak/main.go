// Command soak is bench/fleet's soak with faults (issue 11): for -d it sends mixed load through
// the fleet's balancer (list views, full tickets, 100-contract historyStats, with two tokens,
// and contracts changed at the upstream and invalidated through the webhook), while it injects
// the faults of newPlan: a Redis master killed, a facade replica restarted, the upstream failing
// with 503 and then slow, every pub/sub connection dropped. It checks every answer against the
// canary marks of the upstream stub (bench/stub -canary, bench/canary): no answer for one token
// may hold another token's data, and no answer to a query sent after an invalidation was
// acknowledged may show the contract as it was before; every failure must have a code its phase
// allows (see expected). It writes -out (bench/SOAK.md) and exits 1 when a check fails, 2 when
// it could not run.
//
//	soak -url http://127.0.0.1:19500/graphql -webhook http://127.0.0.1:19500/webhooks/enneo \
//	  -webhook-secret s -stub http://127.0.0.1:19504 -redis 127.0.0.1:19510,127.0.0.1:19511,... \
//	  -replica facade-1,http://127.0.0.1:19501,/tmp/w/run/facade-1.pid,/tmp/w/logs/facade-1.log ...
//
// bench/fleet soak starts the fleet and runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func main() {
	log.SetFlags(0)
	log.SetPrefix("soak: ")
	// go-redis logs each failed dial; the timeline says what the soak's own Redis calls met.
	redis.SetLogger(quiet{})
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	failed, err := run(context.Background(), c, os.Stderr)
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	url, webhook, webhookSecret, stub string
	replicas                          []replica
	redis                             []string
	duration, upstreamFault           time.Duration
	slowDelay, interval               time.Duration
	first, contracts, hot             int
	rates                             rates
	maxInFlight                       int
	meta, out, raw, balancerLog       string
}

// rates are the load's, per second, but verify, which is per token and invalidation.
type rates struct {
	list, full, stats, invalidations float64
	verify                           int
}

type replicasFlag struct{ list *[]replica }

func (f replicasFlag) String() string { return "" }

func (f replicasFlag) Set(v string) error {
	p := strings.Split(v, ",")
	if len(p) != 4 {
		return errors.New("want NAME,URL,PIDFILE,LOGFILE")
	}
	*f.list = append(*f.list, replica{name: p[0], url: strings.TrimSuffix(p[1], "/"), pidFile: p[2], logFile: p[3]})
	return nil
}

func parseFlags(args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:19500/graphql", "the balancer's GraphQL endpoint")
	fs.StringVar(&c.webhook, "webhook", "http://127.0.0.1:19500/webhooks/enneo", "the balancer's webhook")
	fs.StringVar(&c.webhookSecret, "webhook-secret", "", "the facades' WEBHOOK_SECRET")
	fs.StringVar(&c.stub, "stub", "http://127.0.0.1:19504", "the upstream stub (bench/stub -canary)")
	redisAddrs := fs.String("redis", "", "the Redis Cluster's nodes, host:port, comma-separated; the first master listed is the one killed")
	fs.Var(replicasFlag{&c.replicas}, "replica", "a facade replica: NAME,URL,PIDFILE,LOGFILE (repeat; the second is the one restarted)")
	fs.DurationVar(&c.duration, "d", 5*time.Minute, "how long the load runs")
	upstreamFault := fs.Duration("upstream-fault", 0, "how long the upstream answers 503, and then how long slow (default: -d/15)")
	fs.DurationVar(&c.slowDelay, "slow", time.Second, "the slow upstream's extra latency per call")
	fs.DurationVar(&c.interval, "interval", 0, "how often the fleet is sampled (default: -d/30)")
	fs.IntVar(&c.first, "first", 200001, "the first contract id")
	fs.IntVar(&c.contracts, "contracts", 500, "contracts the load asks for")
	fs.IntVar(&c.hot, "hot", 100, "the first this many are asked for half the time, and are the ones invalidated")
	fs.Float64Var(&c.rates.list, "list", 30, "list views a second")
	fs.Float64Var(&c.rates.full, "full", 6, "full-ticket queries a second")
	fs.Float64Var(&c.rates.stats, "stats", 1, "100-contract historyStats a second")
	fs.Float64Var(&c.rates.invalidations, "invalidations", 2, "contracts changed and invalidated a second")
	fs.IntVar(&c.rates.verify, "verify", 2, "list views per token of each contract once its invalidation is acknowledged")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 256, "the mixed load's queries in flight at most (verification queries and invalidations not counted); a tick beyond is skipped and counted")
	fs.StringVar(&c.meta, "meta", "", "key=value facts about the run for the report (commit, machine, ...)")
	fs.StringVar(&c.out, "out", "bench/SOAK.md", "the report")
	fs.StringVar(&c.raw, "raw", "", "also write every query as a line of TSV here")
	fs.StringVar(&c.balancerLog, "balancer-log", "", "HAProxy's log (option httplog, the X-Request-Id captured), to say what became of a query no replica logged")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *redisAddrs != "" {
		c.redis = strings.Split(*redisAddrs, ",")
	}
	c.upstreamFault = *upstreamFault
	if c.upstreamFault == 0 {
		c.upstreamFault = c.duration / 15
	}
	if c.interval == 0 {
		c.interval = max(c.duration/30, time.Second)
	}
	switch {
	case c.webhookSecret == "":
		return nil, errors.New("-webhook-secret is required")
	case len(c.replicas) == 0:
		return nil, errors.New("at least one -replica is required")
	case len(c.redis) == 0:
		return nil, errors.New("-redis is required")
	case c.hot <= 0 || c.hot > c.contracts:
		return nil, errors.New("-hot must be between 1 and -contracts")
	}
	return &c, nil
}

// run runs the soak, writes the report and says whether a check failed.
func run(ctx context.Context, c *config, stderr io.Writer) (failed bool, err error) {
	p, err := newPlan(c.duration, c.upstreamFault)
	if err != nil {
		return false, err
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if err := preflight(ctx, c, hc); err != nil {
		return false, err
	}
	meta, err := readMeta(c.meta)
	if err != nil {
		return false, err
	}

	start := time.Now()
	tl := &timeline{start: start}
	in := &injector{c: c, tl: tl, http: hc}
	smp := &sampler{c: c, http: hc}
	l := newLoad(c)
	loadCtx, stop := context.WithDeadline(ctx, start.Add(c.duration))
	defer stop()

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		snaps []snapshot
	)
	wg.Go(func() {
		for _, t := range sampleTimes(p, c.interval) {
			if !sleepUntil(ctx, start.Add(t)) {
				return
			}
			sn := smp.take(ctx, t)
			mu.Lock()
			snaps = append(snaps, sn)
			mu.Unlock()
			if t%c.interval == 0 {
				progress(stderr, p, t, l)
			}
		}
	})
	wg.Go(func() {
		for _, f := range p.faults {
			if !sleepUntil(loadCtx, start.Add(f.at)) {
				return
			}
			in.inject(loadCtx, f)
		}
	})
	fmt.Fprintf(stderr, "soak: %s of load through %s, faults from %s on\n", c.duration, c.url, p.faults[0].at)
	l.runUntil(loadCtx)
	wg.Wait()
	in.wg.Wait()
	if err := in.setUpstream("ok"); err != nil { // whatever happened, the stub serves again
		fmt.Fprintf(stderr, "soak: could not reset the stub: %v\n", err)
	}
	meta["load_after"] = loadAverage()
	// The replicas buffer their log lines and write them out every 200 ms: the last answers'
	// lines are not in the files yet.
	time.Sleep(time.Second)

	v := check(p, start, l.queries, l.invalidations)
	// The request ids of every query details() lists, so that each row gets its log line.
	wanted := map[string]bool{}
	for _, q := range slices.Concat(v.unexpected, v.unmarked) {
		wanted[q.id] = true
	}
	for _, lk := range v.leaks {
		wanted[lk.q.id] = true
	}
	for _, inv := range l.invalidations {
		wanted[inv.ackID] = true // the replica that acknowledged each, for the raw file
	}
	for _, s := range v.stale {
		wanted[s.q.id], wanted[s.inv.ackID] = true, true
	}
	logs := readLogs(c.replicas, start, wanted, stderr)
	balancer, err := readBalancerLog(c.balancerLog, wanted)
	if err != nil {
		fmt.Fprintf(stderr, "soak: HAProxy's log: %v\n", err)
	}
	if c.raw != "" {
		if err := writeRaw(c.raw, start, p, l, logs); err != nil {
			return false, err
		}
	}
	r := &report{c: c, plan: p, start: start, load: l, verdict: v, snaps: snaps, timeline: tl.list(), logs: logs, balancer: balancer, meta: meta}
	if err := os.WriteFile(c.out, r.markdown(), 0o644); err != nil {
		return false, err
	}
	r.summary(stderr)
	return v.failed(), nil
}

// preflight checks that the fleet answers before the clock starts: the balancer with data, the
// stub in its normal mode, every replica ready.
func preflight(ctx context.Context, c *config, hc *http.Client) error {
	for _, r := range c.replicas {
		if !ready(ctx, hc, r.url+"/readyz") {
			return fmt.Errorf("%s is not ready at %s/readyz", r.name, r.url)
		}
	}
	resp, err := hc.Get(c.stub + "/fault")
	if err != nil {
		return fmt.Errorf("the stub: %w", err)
	}
	var f struct{ Mode string }
	err = json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || f.Mode != "ok" {
		return fmt.Errorf("the stub at %s is not in its normal mode: GET /fault answered %s, mode %q (want 200 and mode \"ok\")", c.stub, resp.Status, f.Mode)
	}
	l := newLoad(c)
	q := l.send(kindList, 0, []string{l.contract(0)})
	if !q.data || len(q.unmarked) > 0 {
		return fmt.Errorf("a first list view through %s got no marked data: status %d, codes %v, %s %s", c.url, q.status, q.codes, q.message, q.transport)
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// progress prints one line of how the soak goes.
func progress(w io.Writer, p plan, t time.Duration, l *load) {
	l.mu.Lock()
	n, failed := len(l.queries), 0
	for _, q := range l.queries {
		if q.failed() {
			failed++
		}
	}
	invs := len(l.invalidations)
	l.mu.Unlock()
	fmt.Fprintf(w, "soak: %4.0fs %-18s %6d answers, %5d failed, %4d invalidations\n", t.Seconds(), p.phases[p.phaseAt(t)].name, n, failed, invs)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// readMeta reads key=value facts, a line each.
func readMeta(path string) (map[string]string, error) {
	m := map[string]string{}
	if path == "" {
		return m, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

// readLogs summarises every replica's log, with the request lines of the request ids wanted.
func readLogs(rs []replica, start time.Time, wanted map[string]bool, stderr io.Writer) []logSummary {
	var out []logSummary
	for _, r := range rs {
		s, err := readLog(r, start, wanted)
		if err != nil {
			fmt.Fprintf(stderr, "soak: the log of %s: %v\n", r.name, err)
		}
		out = append(out, s)
	}
	return out
}

// writeRaw writes every query as a line: request id, kind, token, sent (ms from the start),
// phase, took (ms), status, codes, data, stale histories, versions shown; and next to it
// (path.invalidations) every invalidation: contract, version, bumped and acknowledged (ms from
// the start), webhook calls, the replica that acknowledged it.
func writeRaw(path string, start time.Time, p plan, l *load, logs []logSummary) error {
	var inv strings.Builder
	inv.WriteString("contract\tversion\tbumped_ms\tacked_ms\tattempts\tacked_by\n")
	for _, i := range l.invalidations {
		by := ""
		for _, s := range logs {
			if _, ok := s.requests[i.ackID]; ok {
				by = s.replica
			}
		}
		acked := int64(-1)
		if !i.acked.IsZero() {
			acked = i.acked.Sub(start).Milliseconds()
		}
		fmt.Fprintf(&inv, "%s\t%d\t%d\t%d\t%d\t%s\n", i.contract, i.version, i.bumped.Sub(start).Milliseconds(), acked, i.attempts, by)
	}
	if err := os.WriteFile(path+".invalidations", []byte(inv.String()), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("id\tkind\ttoken\tsent_ms\tphase\ttook_ms\tstatus\tcodes\tdata\tstale\tshown\ttransport\n")
	for _, q := range l.queries {
		var shown []string
		for _, c := range slices.Sorted(maps.Keys(q.shown)) {
			shown = append(shown, fmt.Sprintf("%s:%d", c, q.shown[c]))
		}
		sent := q.sent.Sub(start)
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\t%.1f\t%d\t%s\t%t\t%d\t%s\t%s\n", q.id, q.kind, l.tokens[q.token].name, sent.Milliseconds(),
			p.phases[p.phaseAt(sent)].name, float64(q.took.Microseconds())/1000, q.status, strings.Join(q.codes, ","), q.data, q.stale,
			strings.Join(shown, ","), q.transport)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
