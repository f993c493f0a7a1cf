package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// A result file holds one line per run, as bench/stats writes them: its labels (latency=...
// facade=...), then bi's own line, whose first word (BENCH, CHECK) is the kind of line.
// The meta file holds key=value facts, one per line, in the order they were learnt.

// line is one result line's fields.
type line map[string]string

func (l line) num(k string) float64 {
	v, _ := strconv.ParseFloat(l[k], 64)
	return v
}

func parseLine(s string) line {
	l := line{}
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			l[k] = v
		} else {
			l["kind"] = f
		}
	}
	return l
}

// meta is key=value facts, in their order.
type meta struct {
	keys []string
	vals map[string]string
}

func (m meta) get(k string) string { return m.vals[k] }

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

func writeReport(resultsPath, metaPath, out string) error {
	rs, err := readLines(resultsPath)
	if err != nil {
		return err
	}
	ms, err := readLines(metaPath)
	if err != nil {
		return err
	}
	m := meta{vals: map[string]string{}}
	for _, s := range ms {
		k, v, _ := strings.Cut(s, "=")
		m.keys = append(m.keys, k)
		m.vals[k] = v
	}
	var lines []line
	for _, s := range rs {
		lines = append(lines, parseLine(s))
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	report(f, lines, m)
	return f.Close()
}

// report writes the Markdown report.
func report(w io.Writer, lines []line, m meta) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	var facades []string // labels, in the order of the meta file
	for _, k := range m.keys {
		if l, ok := strings.CutPrefix(k, "facade_"); ok {
			facades = append(facades, l)
		}
	}
	latencies := distinct(lines, "latency")
	check := line{"contracts": "100"} // the first check: the data's figures
	if cs := filter(lines, "kind", "CHECK"); len(cs) > 0 {
		check = cs[0]
	}
	contracts := check.num("contracts")
	find := func(kind, latency, facade, mode, conc, rest string) line {
		for _, l := range lines {
			if l["kind"] == kind && l["latency"] == latency && (facade == "" || l["facade"] == facade) &&
				(mode == "" || l["mode"] == mode) && (conc == "" || l["concurrency"] == conc) && (rest == "" || l["rest_concurrency"] == rest) {
				return l
			}
		}
		return nil
	}

	p("# historyStats over 100 contracts: the facade and the REST way\n\n")
	p("Written by `bench/stats` (see `bench/README.md`) on %s, commit `%s`.\n\n", m.get("date"), m.get("commit"))
	p("- Machine: %s CPUs (%s), %s, %s, %s; load average before / after the run: %s / %s (anything else running on the machine skews the figures). Built with %s.\n",
		m.get("nproc"), m.get("cpu"), m.get("memory"), m.get("kernel"), m.get("os"), m.get("load_before"), m.get("load_after"), m.get("go"))
	p("- Pinning: the facade alone on CPU %s; the load client (`bench/bi`), the upstream stub and Redis on CPU %s. The REST way's client runs on CPU %s in the facade's place, since it does the facade's work (decoding and aggregating), with the upstream on CPU %s.\n",
		m.get("server_cpu"), m.get("load_cpu"), m.get("server_cpu"), m.get("load_cpu"))
	p("- Upstream: `bench/stub -demo`, the demo upstream's generated histories over real HTTP, after %s. The 100 contracts (`queries.DemoContracts`, 100001 to 100100) hold %s tickets in %s bytes of JSON.\n",
		orList(latencies), thousands(check.num("tickets")), thousands(check.num("history_bytes")))
	p("- The question: `graph/queries/stats.graphql`, `historyStats` over the 100 contracts with `filter: {createdFrom: %s}` and `now: %s`: contracts, failed, totals and one row per contract, each with count, open, byStatus, byChannel, byPriority, byIntent, byMonth, timeToClose (count, median, p90) and dueBreaches. %s of the tickets count; the facade's answer is %s bytes.\n",
		m.get("from"), m.get("now"), thousands(check.num("counted")), thousands(check.num("answer_bytes")))
	p("- Facades (the release build of `.ci/build`, `UPSTREAM_URL` the stub, `CACHE_TTL=1h`, defaults otherwise):\n")
	for _, f := range facades {
		p("  - **%s**: %s\n", f, m.get("facade_"+f))
	}
	p("- Method: a closed loop (`bench/bi`): each client asks its next question as soon as its last is answered; %s warm-up (after one cold question that fills the caches), then %s measured; p50 and p99 are nearest-rank percentiles of every question of the measured run, req/s is questions answered per second. Upstream calls per question are the stub's count over the measured run; cache lookups per question are the facade's `facade_cache_lookups_total` over it.\n\n",
		m.get("warmup"), m.get("duration"))

	p("**Which is which.** *Response cache*: every question is the same request (the same `now`), so after the first the facade's response cache answers it without executing anything. *Executed*: `now` is one second later in every request, so the response cache cannot answer and the operation runs: 100 histories from the cache layers (the decoded hot layer, else the store, which decodes them again), filtered and aggregated, and the answer encoded. *REST way*: a Go client GETs the 100 histories from the upstream, at most 16 (or 100) at once, decodes each and aggregates them itself.\n\n")

	p("## Summary: p50 / p99 (ms) of one question at a time\n\n")
	first := ""
	if len(facades) > 0 {
		first = facades[0]
	}
	restBounds := distinct(filter(lines, "mode", "rest"), "rest_concurrency")
	p("| upstream latency | facade, response cache | facade, executed |")
	for _, b := range restBounds {
		p(" REST way, %s GETs at once |", b)
	}
	p(" REST ÷ facade executed (p50) |\n|---|---|---|")
	for range restBounds {
		p("---|")
	}
	p("---|\n")
	for _, lat := range latencies {
		cached, exec := find("BENCH", lat, first, "cached", "1", ""), find("BENCH", lat, first, "executed", "1", "")
		p("| %s | %s | %s |", spaced(lat), pair(cached), pair(exec))
		var ratios []string
		for _, b := range restBounds {
			r := find("BENCH", lat, "", "rest", "1", b)
			p(" %s |", pair(r))
			if r != nil && exec != nil && exec.num("p50_us") > 0 {
				ratios = append(ratios, fmt.Sprintf("%.0f× (%s at once)", r.num("p50_us")/exec.num("p50_us"), b))
			}
		}
		p(" %s |\n", strings.Join(ratios, ", "))
	}
	p("\nFacade: the **%s** facade with one client. The facade's warm figures do not depend on the upstream's latency: it is not called.\n\n", first)

	p("## The facade, warm\n\n")
	p("| upstream latency | facade | answered by | clients | questions | req/s | p50 ms | p99 ms | upstream calls / question | histories per question from | errors |\n")
	p("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, lat := range latencies {
		for _, f := range facades {
			for _, l := range lines {
				if l["kind"] != "BENCH" || l["latency"] != lat || l["facade"] != f || l["mode"] == "rest" {
					continue
				}
				by := "response cache"
				if l["mode"] == "executed" {
					by = "executed"
				}
				p("| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |\n", spaced(lat), f, by, l["concurrency"],
					thousands(l.num("questions")), thousands(l.num("rps")), ms(l.num("p50_us")), ms(l.num("p99_us")),
					l.num("calls_per_q"), sources(l, contracts), l["errors"])
			}
		}
	}
	p("\nHistories per question: `hot` is the decoded histories the process keeps (`CACHE_HOT_BYTES`), `store` the compressed entries (in-process or Redis) that a hot miss falls back to and decodes again, `store error` a store read that failed (Redis past `REDIS_TIMEOUT`). From the facade's `facade_cache_lookups_total` over the run (hot misses and store results); the hot hits are the %.0f contracts less the hot misses.\n\n", contracts)

	p("## The REST way\n\n")
	p("| upstream latency | GETs at once | questions | questions/s | p50 ms | p99 ms | upstream calls / question | bytes / question | errors |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, lat := range latencies {
		for _, l := range lines {
			if l["kind"] == "BENCH" && l["latency"] == lat && l["mode"] == "rest" {
				p("| %s | %s | %s | %s | %s | %s | %.2f | %s | %s |\n", spaced(lat), l["rest_concurrency"],
					thousands(l.num("questions")), fmt.Sprintf("%.1f", l.num("rps")), ms(l.num("p50_us")), ms(l.num("p99_us")),
					l.num("calls_per_q"), thousands(l.num("bytes_per_q")), l["errors"])
			}
		}
	}
	p("\nOne question at a time; the client keeps its connections open (`MaxIdleConnsPerHost` at the number of GETs at once), decodes each history with `encoding/json` into a struct of the seven fields the question needs as it arrives, and aggregates once all are in. With few questions the p99 is close to the slowest one.\n\n")

	p("## Same question, same answer; cold\n\n")
	p("Before its warm runs each facade is asked the question once, cold; the same question is then answered the REST way, and the two answers must be equal in every figure of the totals and of all 100 rows (`bench/bi -mode check`).\n\n")
	p("| upstream latency | facade | cold question ms | upstream calls | answer bytes | REST way's answer equal |\n")
	p("|---|---|---:|---:|---:|---|\n")
	for _, l := range lines {
		if l["kind"] == "CHECK" {
			p("| %s | %s | %s | %s | %s | %s |\n", spaced(l["latency"]), l["facade"], ms(l.num("cold_us")), l["cold_calls"],
				thousands(l.num("answer_bytes")), l["equal"])
		}
	}
}

func filter(lines []line, k, v string) []line {
	var out []line
	for _, l := range lines {
		if l[k] == v {
			out = append(out, l)
		}
	}
	return out
}

// distinct returns the values of k in their first order.
func distinct(lines []line, k string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lines {
		if v := l[k]; v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func pair(l line) string {
	if l == nil {
		return "—"
	}
	return ms(l.num("p50_us")) + " / " + ms(l.num("p99_us"))
}

// sources says where a run's questions found their histories, per question, from the facade's
// cache lookups: an executed question looks each of its contracts up in the hot layer first, and
// a hot miss in the store. Hot hits are contracts less hot misses (facade builds before 0e0190b
// did not count the hits of the loaders' Peek, which answers most of them).
func sources(l line, contracts float64) string {
	if l.num("cache_response_hit") > 0 && l.num("cache_response_miss") == 0 {
		return "the response cache"
	}
	f := func(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") }
	var out []string
	if v := l.num("cache_response_hit"); v > 0 {
		out = append(out, "response cache "+f(v)+" of 1")
	}
	// Only the questions the response cache missed look their histories up.
	out = append(out, "hot "+f(contracts*l.num("cache_response_miss")-l.num("cache_hot_miss")))
	for _, r := range []string{"hit", "error", "stale", "revalidating", "miss"} {
		if v := l.num("cache_store_" + r); v > 0 {
			name := "store"
			if r != "hit" {
				name = "store " + r
			}
			out = append(out, name+" "+f(v))
		}
	}
	if v := l.num("calls_per_q"); v > 0 {
		out = append(out, "upstream "+f(v))
	}
	return strings.Join(out, ", ")
}

// ms writes microseconds as milliseconds with three significant digits.
func ms(us float64) string {
	v := us / 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// spaced writes 20ms as "20 ms".
func spaced(d string) string {
	for i, c := range d {
		if (c < '0' || c > '9') && c != '.' {
			return d[:i] + " " + d[i:]
		}
	}
	return d
}

func orList(in []string) string {
	v := make([]string, len(in))
	for i := range in {
		v[i] = spaced(in[i])
	}
	switch len(v) {
	case 0:
		return "no latency"
	case 1:
		return v[0]
	}
	return strings.Join(v[:len(v)-1], ", ") + " or " + v[len(v)-1]
}
