// Command report turns the raw results of bench/run (a TSV file of runs and a file of
// key=value facts about the run) into bench/RESULTS.md: throughput, latency, errors, upstream
// calls and memory of every server in every scenario, the facade's ratio to each peer and to the
// static limit, and issue 4's targets checked against them.
//
//	cd bench && go run ./report -results results.tsv -meta meta.env -out RESULTS.md
//
// bench/fleet scale measures through Redis Cluster and writes its own section at the end of the
// same file (-fleet SCALE.md). Each command keeps the other's part, so running one never loses
// the other's figures.
//
//	cd bench && go run ./report -fleet SCALE.md -out RESULTS.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
)

func main() {
	results := flag.String("results", "results.tsv", "runs, as bench/run writes them")
	metaFile := flag.String("meta", "meta.env", "key=value facts about the run")
	out := flag.String("out", "bench/RESULTS.md", "the report")
	fleet := flag.String("fleet", "", "replace the report's fleet section with this file (bench/fleet scale's table) and do nothing else")
	flag.Parse()
	old, err := os.ReadFile(*out)
	if err != nil && !os.IsNotExist(err) {
		log.Fatal(err)
	}
	head, tail := split(string(old))
	if *fleet != "" {
		section, err := os.ReadFile(*fleet)
		if err != nil {
			log.Fatal(err)
		}
		if head == "" {
			head = "# Load benchmark results\n\nbench/run has not written its part yet.\n"
		}
		if err := os.WriteFile(*out, []byte(strings.TrimRight(head, "\n")+"\n\n"+fleetSection(string(section))), 0o644); err != nil {
			log.Fatal(err)
		}
		return
	}
	runs, err := readRuns(*results)
	if err != nil {
		log.Fatal(err)
	}
	meta, err := readMeta(*metaFile)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	write(f, runs, meta)
	if tail != "" {
		io.WriteString(f, "\n"+tail)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// run is one measured scenario of one server.
type run struct {
	rps, p50, p99             float64 // req/s, µs, µs
	requests, non2xx, gqlErrs int
	sockErrs                  int
	calls                     float64 // upstream calls per request
	hasCalls                  bool
	rssKiB                    int
	extra                     map[string]string
}

// runs is keyed by server, then scenario.
type runs map[string]map[string]*run

// fleetMarker starts bench/fleet scale's section, which runs to the end of the file.
const fleetMarker = "<!-- written by bench/fleet scale: everything below this line -->"

// split returns the report's bench/run part and its fleet section (with its marker).
func split(doc string) (head, tail string) {
	i := strings.Index(doc, fleetMarker)
	if i < 0 {
		return doc, ""
	}
	return doc[:i], doc[i:]
}

// fleetSection frames bench/fleet scale's table as the report's last section.
func fleetSection(table string) string {
	return fleetMarker + "\n\n## Through Redis Cluster: 100,000 contracts, one replica and three\n\n" +
		"Written by `bench/fleet scale` (see `bench/README.md`). The hot-layer rows are the same replica " +
		"answering from its in-process layer, for comparison with the Redis rows; the throughput tables above " +
		"are bench/run's, with Redis on one node and a working set that fits the hot layer.\n\n" +
		strings.TrimSpace(table) + "\n"
}

func readRuns(path string) (runs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs := runs{}
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		c := strings.Split(sc.Text(), "\t")
		if line == 0 || len(c) < 11 {
			continue
		}
		num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		r := &run{rps: num(c[2]), p50: num(c[3]), p99: num(c[4]), requests: int(num(c[5])),
			non2xx: int(num(c[6])), gqlErrs: int(num(c[7])), sockErrs: int(num(c[8])),
			calls: num(c[9]), hasCalls: c[9] != "", rssKiB: int(num(c[10])), extra: map[string]string{}}
		if len(c) > 11 {
			for _, kv := range strings.Fields(c[11]) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					r.extra[k] = v
				}
			}
		}
		if rs[c[0]] == nil {
			rs[c[0]] = map[string]*run{}
		}
		rs[c[0]][c[1]] = r
	}
	return rs, sc.Err()
}

func readMeta(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

var servers = []struct{ key, name string }{
	{"facade", "facade"},
	{"tailcall", "Tailcall"},
	{"hive", "Hive"},
	{"hive-cache", "Hive + response cache"},
	{"bare", "bare gqlgen"},
	{"static", "static"},
}

var peers = []string{"tailcall", "hive", "hive-cache"}

type scenario struct{ key, name string }

func scenarios(latency, text string) []scenario {
	return []scenario{
		{"warm-q1", "q1 warm"},
		{"warm-q2", "q2 warm"},
		{"warm-q3", "q3 warm, 0 ms upstream"},
		{"warm-q3-" + latency, "q3 warm, " + text + " upstream"},
		{"rcoff-q1", "q1 response cache off"},
		{"rcoff-q2", "q2 response cache off"},
		{"rcoff-q3", "q3 response cache off"},
		{"off-q1", "q1 caching off"},
		{"off-q2", "q2 caching off"},
		{"off-q3-" + latency, "q3 caching off, " + text + " upstream"},
	}
}

// get returns a server's run of a scenario. Hive without a cache has no warm state: its q1 and q2
// "warm" runs are its caching-off runs (the same server and settings; it shares nothing between
// requests, so the request ids of those runs change nothing).
func (rs runs) get(server, scen string) *run {
	if r := rs[server][scen]; r != nil {
		return r
	}
	if server == "hive" && (scen == "warm-q1" || scen == "warm-q2") {
		return rs[server]["off-"+strings.TrimPrefix(scen, "warm-")]
	}
	return nil
}

func write(w io.Writer, rs runs, m map[string]string) {
	lat := m["latency"]
	latText := spaced(lat)
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Load benchmark results\n\n")
	p("Written by `bench/run` (see `bench/README.md`) on %s, commit `%s`.\n\n", m["date"], m["commit"])
	p("- Machine: %s CPUs (%s), %s, %s, %s; load average before / after the run: %s / %s (anything else running on the machine skews the figures).\n",
		m["nproc"], m["cpu"], m["memory"], m["kernel"], m["os"], m["load_before"], m["load_after"])
	p("- Pinning: the server under test alone on CPU %s; wrk, the upstream stub and Redis on CPU %s.\n", m["server_cpu"], m["load_cpu"])
	inspected := "every answer's body checked for GraphQL errors (which costs wrk 15–25% of its rate with q2's 37 KB answers, so it caps the static server's q2 figure; see bench/README.md)"
	if m["inspect"] == "0" {
		inspected = "bodies not read in the measured runs (BENCH_INSPECT=0; GraphQL errors n/a)"
	}
	p("- Load: %s (1 thread, %s connections, POST), %s warm-up then %s measured per run, %s; cold: %s sequential requests.\n",
		m["wrk"], m["connections"], m["warmup"], m["duration"], inspected, m["cold_requests"])
	p("- Upstream stub: %s tickets per contract (%s bytes of JSON), 0 ms or %s latency. Facade answers: q1 %s, q2 %s, q3 %s bytes.\n",
		m["tickets"], m["history_bytes"], latText, m["facade_q1_bytes"], m["facade_q2_bytes"], m["facade_q3_bytes"])
	if m["facade_binary"] != "" {
		p("- Facade: the binary %s, not the checkout's build.\n", m["facade_binary"])
	}
	if env := m["facade_env"]; env != "" {
		p("- Facade environment beyond the scenario's: `%s`%s.\n", env, orEmpty(m["otlp_exports"], "; the OTLP sink received %s"))
	}
	p("- Peers: Tailcall %s (%s); %s (%s). Built with %s.\n\n",
		strings.TrimPrefix(m["tailcall_version"], "tailcall "), m["tailcall_status"], orDash(m["hive_version"]), m["hive_status"], m["go"])

	scens := scenarios(lat, latText)
	p("## Throughput (req/s)\n\n")
	header(w, "scenario")
	for _, s := range scens {
		p("| %s |", s.name)
		for _, sv := range servers {
			p(" %s |", cell(rs.get(sv.key, s.key), func(r *run) string { return thousands(r.rps) }))
		}
		p("\n")
	}
	p("\nIn the warm and cold rows Tailcall runs with `@cache` (and `dedupe`), in the caching-off rows with neither; Hive runs without a cache in every row (its warm q1 and q2 are its caching-off runs). The static server does not call the upstream, so it has no caching-off rows and its 0 ms q3 run stands for both latencies. In the response-cache-off rows every answer is executed: the facade keeps its histories (Redis and the hot layer, filled by the warm-up) but no whole answers (`CACHE_RESPONSE_BYTES=1`), and bare gqlgen is gqlgen's executor over the facade's schema and generated code with resolvers that answer from histories in memory, and nothing else (`bench/bare`: no field middleware, extension, limit, loader, log or response cache), at the facade's `GOGC`: the practical limit for an executed answer.\n\n")

	p("## The facade's throughput as a ratio\n\n")
	p("| scenario | ÷ Tailcall | ÷ Hive | ÷ Hive + response cache | ÷ best peer | of bare gqlgen | of static |\n|---|---|---|---|---|---|---|\n")
	for _, s := range scens {
		f := rs.get("facade", s.key)
		p("| %s |", s.name)
		for _, peer := range peers {
			p(" %s |", ratio(f, rs.get(peer, s.key)))
		}
		p(" %s | %s | %s |\n", ratio(f, best(rs, s.key)), percent(f, rs.get("bare", s.key)), percent(f, staticRun(rs, s.key)))
	}

	p("\n## Latency p50 / p99 (ms)\n\n")
	header(w, "scenario")
	for _, s := range scens {
		p("| %s |", s.name)
		for _, sv := range servers {
			p(" %s |", cell(rs.get(sv.key, s.key), func(r *run) string { return ms(r.p50) + " / " + ms(r.p99) }))
		}
		p("\n")
	}

	p("\n## Errors and upstream calls\n\n")
	p("Each cell: non-2xx answers / 2xx answers with GraphQL `errors` / socket errors (wrk) / upstream calls per request. The upstream calls are the stub's count over the measured run divided by the requests wrk completed, so requests still in flight when wrk stops (up to %s) add a little.\n\n", m["connections"])
	header(w, "scenario")
	for _, s := range scens {
		p("| %s |", s.name)
		for _, sv := range servers {
			p(" %s |", cell(rs.get(sv.key, s.key), func(r *run) string {
				gql := strconv.Itoa(r.gqlErrs)
				if r.gqlErrs < 0 {
					gql = "n/a"
				}
				return fmt.Sprintf("%d / %s / %d / %s", r.non2xx, gql, r.sockErrs, callsText(r))
			}))
		}
		p("\n")
	}

	coldKey := "cold-q3-" + lat
	p("\n## Cold q3 (%s upstream)\n\n", latText)
	p("q3 sent %s times one after another (after one uncounted request that opens the connection), each time with its 15 contract ids replaced by ids never asked for before, so no cache can answer; the upstream stub's call count is read around each request. One upstream round trip is %s.\n\n", m["cold_requests"], latText)
	p("| server | p50 ms | p99 ms | mean ms | max ms | upstream calls per request (min–max) | non-2xx | GraphQL errors |\n|---|---|---|---|---|---|---|---|\n")
	for _, sv := range servers {
		r := rs.get(sv.key, coldKey)
		if r == nil {
			continue
		}
		mean, _ := strconv.ParseFloat(r.extra["mean_us"], 64)
		max, _ := strconv.ParseFloat(r.extra["max_us"], 64)
		p("| %s | %s | %s | %s | %s | %s (%s–%s) | %d | %d |\n", sv.name, ms(r.p50), ms(r.p99), ms(mean), ms(max),
			callsText(r), r.extra["calls_min"], r.extra["calls_max"], r.non2xx, r.gqlErrs)
	}

	p("\n## Server memory (RSS, MiB)\n\n")
	p("The largest resident set of the server's process tree, sampled every 200 ms during each measured run and at its end.\n\n")
	header(w, "scenario")
	for _, s := range append(scens, scenario{coldKey, "q3 cold, " + latText + " upstream"}) {
		p("| %s |", s.name)
		for _, sv := range servers {
			p(" %s |", cell(rs.get(sv.key, s.key), func(r *run) string { return mib(r.rssKiB) }))
		}
		p("\n")
	}
	p("| **largest** |")
	for _, sv := range servers {
		p(" %s |", mibOrDash(maxRSS(rs, sv.key)))
	}
	p("\n")

	overload(w, rs.get("facade", "overload"), m)
	targets(w, rs, m)
	notes(w)
}

// overload reports bench/overload's run: heavy clients, and a probe beside them.
func overload(w io.Writer, r *run, m map[string]string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\n## Under overload\n\n")
	if r == nil {
		p("Not measured in this run.\n")
		return
	}
	num := func(k string) float64 { v, _ := strconv.ParseFloat(r.extra[k], 64); return v }
	p("`bench/overload` against the facade as deployed (Redis, the defaults): %s clients send a heavy legal operation (q2 over 4 contracts: every field of their tickets, estimated cost %s) again and again for %s, each time with contract ids never asked for before, so no cache answers it; refused ones wait for their `Retry-After`. Beside them a probe sends a one-field query, also with a fresh id, one after another.\n\n",
		m["overload_clients"], r.extra["heavy_cost"], m["overload_duration"])
	p("| probe p50 ms | probe p99 ms | probe max ms | probe errors | heavy completed per s | heavy refused (`OVERLOADED`) | other failures | peak RSS |\n|---|---|---|---|---|---|---|---|\n")
	p("| %s | %s | %s | %s | %.1f | %s | %s | %s |\n", ms(num("probe_p50_us")), ms(num("probe_p99_us")), ms(num("probe_max_us")),
		r.extra["probe_errors"], num("heavy_rps"), r.extra["refused"], r.extra["other"], mibOrDash(r.rssKiB))
}

func header(w io.Writer, first string) {
	fmt.Fprintf(w, "| %s |", first)
	for _, sv := range servers {
		fmt.Fprintf(w, " %s |", sv.name)
	}
	fmt.Fprint(w, "\n|---|")
	for range servers {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprint(w, "\n")
}

// targets checks issue 4's targets. "Best peer" is the peer with the most req/s in that row.
func targets(w io.Writer, rs runs, m map[string]string) {
	lat := m["latency"]
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\n## Issue 4's targets, checked against this run\n\n| target | measured | met |\n|---|---|---|\n")
	check := func(target, measured string, ok, known bool) {
		verdict := "no"
		switch {
		case !known:
			verdict = "n/a"
		case ok:
			verdict = "yes"
		}
		p("| %s | %s | %s |\n", target, measured, verdict)
	}
	f1, b1, s1 := rs.get("facade", "warm-q1"), best(rs, "warm-q1"), staticRun(rs, "warm-q1")
	check("warm q1 ≥ 3× the best peer", ratio(f1, b1), f1 != nil && b1 != nil && f1.rps >= 3*b1.rps, f1 != nil && b1 != nil)
	check("warm q1 ≥ 40% of static", percent(f1, s1), f1 != nil && s1 != nil && f1.rps >= 0.4*s1.rps, f1 != nil && s1 != nil)
	for _, k := range []string{"warm-q2", "warm-q3", "warm-q3-" + lat} {
		f, s := rs.get("facade", k), staticRun(rs, k)
		check(k+" ≥ 25% of static", percent(f, s), f != nil && s != nil && f.rps >= 0.25*s.rps, f != nil && s != nil)
	}
	for _, k := range []string{"warm-q1", "warm-q2", "warm-q3", "warm-q3-" + lat} {
		f := rs.get("facade", k)
		var bp *run
		for _, peer := range peers {
			if r := rs.get(peer, k); r != nil && r.requests > 0 && (bp == nil || r.p50 < bp.p50) {
				bp = r
			}
		}
		known := f != nil && bp != nil
		measured := "—"
		if known {
			measured = ms(f.p99) + " ms vs " + ms(bp.p50) + " ms"
		}
		check(k+": facade p99 < the best peer's p50", measured, known && f.p99 < bp.p50, known)
	}
	for _, k := range []string{"off-q1", "off-q2"} {
		f, t := rs.get("facade", k), rs.get("tailcall", k)
		check(k+" ≥ Tailcall without cache", ratio(f, t), f != nil && t != nil && f.rps >= t.rps, f != nil && t != nil)
	}
	c := rs.get("facade", "cold-q3-"+lat)
	latMs := durationMs(lat)
	if c != nil {
		distinct := c.extra["distinct_ids"]
		check("cold q3: upstream calls = distinct ids ("+distinct+")", c.extra["calls_min"]+"–"+c.extra["calls_max"],
			c.extra["calls_min"] == distinct && c.extra["calls_max"] == distinct, true)
		check(fmt.Sprintf("cold q3: latency ≤ 1.5 × one upstream round trip (%s ms)", ms(1500*latMs)),
			"p50 "+ms(c.p50)+" ms, p99 "+ms(c.p99)+" ms", c.p50 <= 1500*latMs, latMs > 0)
	} else {
		check("cold q3", "—", false, false)
	}
	r := maxRSS(rs, "facade")
	// The soft memory limit the defaults give with Redis is 208 MiB (server.go, tuneProcess); the
	// binary, stacks and buffers outside the heap come on top (about 12 MiB, measured).
	check("facade RSS ≤ 240 MiB", mibOrDash(r), r > 0 && r <= 240<<10, r > 0)

	p("\n## Issue 19's targets, checked against this run\n\n| target | measured | met |\n|---|---|---|\n")
	vs := func(target, a, b string, serverA, serverB string, times float64) {
		f, o := rs.get(serverA, a), rs.get(serverB, b)
		known := f != nil && o != nil && o.rps > 0 && f.requests > 0
		check(target, ratio(f, o), known && f.rps >= times*o.rps, known)
	}
	vs("q2 response cache off ≥ 2× Tailcall's q2 caching off", "rcoff-q2", "off-q2", "facade", "tailcall", 2)
	vs("q2 caching off ≥ Tailcall's", "off-q2", "off-q2", "facade", "tailcall", 1)
	vs("q1 caching off ≥ 1.4× Tailcall's", "off-q1", "off-q1", "facade", "tailcall", 1.4)
	vs("q3 caching off ("+latText(lat)+" upstream) ≥ 2× Tailcall's", "off-q3-"+lat, "off-q3-"+lat, "facade", "tailcall", 2)
	f, b := rs.get("facade", "rcoff-q2"), rs.get("bare", "rcoff-q2")
	check("q2 response cache off ≥ 85% of bare gqlgen", percent(f, b), f != nil && b != nil && b.rps > 0 && f.rps >= 0.85*b.rps, f != nil && b != nil && b.rps > 0)
	if o := rs.get("facade", "overload"); o != nil {
		p99, _ := strconv.ParseFloat(o.extra["probe_p99_us"], 64)
		done, _ := strconv.ParseFloat(o.extra["heavy_rps"], 64)
		check("under overload: the probe's p99 < 50 ms", ms(p99)+" ms", p99 > 0 && p99 < 50000, p99 > 0)
		check("under overload: heavy operations keep completing", fmt.Sprintf("%.1f/s, no other failures: %s", done, o.extra["other"]), done > 0 && o.extra["other"] == "0", true)
		check("under overload: RSS ≤ 240 MiB", mibOrDash(o.rssKiB), o.rssKiB > 0 && o.rssKiB <= 240<<10, o.rssKiB > 0)
	} else {
		check("under overload", "—", false, false)
	}
}

func latText(lat string) string { return spaced(lat) }

func notes(w io.Writer) {
	fmt.Fprint(w, `
## How the peers were set up, and how they differ

- All servers get the same query texts (graph/queries/q1.graphql, q2.graphql, q3.graphql) and the
  same Authorization header; no peer query needed adapting. Tailcall (bench/tailcall.graphql) and
  Hive (bench/openapi.yaml, bench/hive/) expose contract(id) { history { tickets { ... } } } with
  every ticket field of the facade's schema, so q2 selects the same fields everywhere.
- The answers differ in values, not in shape: the facade converts (dates to RFC 3339, ids to
  strings, 0/1 to booleans) and adds extensions.histories; Tailcall passes the upstream's values
  through as they are; Hive converts ids, numbers and booleans through its GraphQL types but not
  dates. The static server returns the facade's own bytes.
- Caching off means every request is computed from an upstream answer of its own: in those runs
  each request carries its own X-Request-Id (post.lua), because Tailcall executes concurrent
  requests that are identical down to their headers only once (with 32 connections on one
  contract that answered about 97% of requests without an upstream call, whatever its caching
  settings), and Tailcall runs without @cache and without dedupe, which shares one in-flight
  upstream answer among concurrent requests. The warm runs send identical requests, and every
  server may use whatever sharing it has.
- Tailcall: @http with dedupe on Contract.history and @cache(maxAge: 600000) on it, forwarding
  Authorization; run through Debian 13's glibc loader, with usage tracking and the update check
  off.
- Hive Gateway: Mesh Compose with @omnigraph/openapi over bench/openapi.yaml; Query.contract and
  Contract.history are gateway resolvers that delegate to the generated contractHistory field;
  NODE_ENV=production, one process (--fork 1). The response cache is keyed per Authorization
  header, with a TTL of 10 minutes and an LRU of 1,000,000 entries (the default 1,000 is too small
  for the entity entries it stores per response, so it would miss).
- The facade: warm runs use Redis (a redis-server started by bench/run on the load CPU, a prefix
  unique to the run) with CACHE_TTL=10m; caching off is CACHE_TTL=0.
`)
}

func best(rs runs, scen string) *run {
	var b *run
	for _, peer := range peers {
		if r := rs.get(peer, scen); r != nil && r.requests > 0 && (b == nil || r.rps > b.rps) {
			b = r
		}
	}
	return b
}

// staticRun is the static server's run of a scenario; it does not call the upstream, so its 0 ms
// q3 run stands for every latency.
func staticRun(rs runs, scen string) *run {
	if strings.HasPrefix(scen, "warm-q3") {
		return rs.get("static", "warm-q3")
	}
	return rs.get("static", scen)
}

func maxRSS(rs runs, server string) int {
	m := 0
	for _, r := range rs[server] {
		m = max(m, r.rssKiB)
	}
	return m
}

func cell(r *run, f func(*run) string) string {
	if r == nil {
		return "—"
	}
	if r.requests == 0 {
		return "none done"
	}
	return f(r)
}

func ratio(a, b *run) string {
	if a == nil || b == nil || b.rps == 0 || a.requests == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a.rps/b.rps)
}

func percent(a, b *run) string {
	if a == nil || b == nil || b.rps == 0 || a.requests == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*a.rps/b.rps)
}

func callsText(r *run) string {
	if !r.hasCalls {
		return "—"
	}
	return strconv.FormatFloat(r.calls, 'f', 2, 64)
}

func ms(us float64) string {
	switch {
	case us >= 100000:
		return fmt.Sprintf("%.0f", us/1000)
	case us >= 10000:
		return fmt.Sprintf("%.1f", us/1000)
	default:
		return fmt.Sprintf("%.2f", us/1000)
	}
}

func mib(kib int) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

func mibOrDash(kib int) string {
	if kib == 0 {
		return "—"
	}
	return mib(kib) + " MiB"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// spaced writes a duration such as 20ms as 20 ms.
func spaced(d string) string {
	i := strings.IndexFunc(d, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return d
	}
	return d[:i] + " " + d[i:]
}

// durationMs reads a latency such as 20ms or 1s, in milliseconds.
func durationMs(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"ms", 1}, {"us", 0.001}, {"s", 1000}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f * u.ms
			}
		}
	}
	return 0
}

// thousands writes a rate as a whole number with comma separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// orEmpty formats v into format, or is empty when v is.
func orEmpty(v, format string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(format, v)
}
