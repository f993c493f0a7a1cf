package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is what SOAK.md is written from.
type report struct {
	c        *config
	plan     plan
	start    time.Time
	load     *load
	verdict  verdict
	snaps    []snapshot
	timeline []event
	logs     []logSummary
	balancer map[string]string // HAProxy's log lines of the detailed queries, by request id
	meta     map[string]string // key=value facts about the run (-meta)
}

// phaseFigures are one phase's counts.
type phaseFigures struct {
	sent, data, stale, failed int
	codes                     map[string]int // failed queries by code (a query with two codes counts under both)
	took                      map[string][]time.Duration
	all                       []time.Duration
	skipped                   int
	invalidations, acked      int
	refused                   map[string]int
	ackTook                   []time.Duration // from the bump to the webhook's 200
	upstreamCalls             int64           // -1: unknown
	lookups                   map[string]float64
}

func (r *report) phaseOf(t time.Time) int { return r.plan.phaseAt(t.Sub(r.start)) }

func (r *report) figures() []phaseFigures {
	fs := make([]phaseFigures, len(r.plan.phases))
	for i := range fs {
		fs[i] = phaseFigures{codes: map[string]int{}, took: map[string][]time.Duration{}, refused: map[string]int{}, upstreamCalls: -1}
	}
	for _, q := range r.load.queries {
		f := &fs[r.phaseOf(q.sent)]
		f.sent++
		if q.transport == "" {
			f.took[q.kind] = append(f.took[q.kind], q.took)
			f.all = append(f.all, q.took)
		}
		if q.stale > 0 {
			f.stale++
		}
		if q.data {
			f.data++
			continue
		}
		f.failed++
		codes := q.codes
		if len(codes) == 0 {
			codes = []string{q.primary()}
		}
		for _, c := range codes {
			f.codes[c]++
		}
	}
	for _, s := range r.load.skips {
		fs[r.phaseOf(s.at)].skipped++
	}
	for _, inv := range r.load.invalidations {
		if inv.bumped.IsZero() {
			continue
		}
		f := &fs[r.phaseOf(inv.bumped)]
		f.invalidations++
		if !inv.acked.IsZero() {
			f.acked++
			f.ackTook = append(f.ackTook, inv.acked.Sub(inv.bumped))
		}
		for k, n := range inv.refused {
			f.refused[k] += n
		}
	}
	for i, ph := range r.plan.phases {
		a, okA := r.snapAt(ph.start)
		b, okB := r.snapAt(r.plan.end(i))
		if !okA || !okB {
			continue
		}
		if a.stubCalls >= 0 && b.stubCalls >= 0 {
			fs[i].upstreamCalls = b.stubCalls - a.stubCalls
		}
		fs[i].lookups = lookupsBetween(a, b)
	}
	for i := range fs { // once, for the ranks the report takes
		slices.Sort(fs[i].all)
		slices.Sort(fs[i].ackTook)
		for _, d := range fs[i].took {
			slices.Sort(d)
		}
	}
	return fs
}

func (r *report) snapAt(t time.Duration) (snapshot, bool) {
	for _, s := range r.snaps {
		if s.at == t {
			return s, true
		}
	}
	return snapshot{}, false
}

// nearestRank is the value at rank ⌈p/100·n⌉ of d sorted; zero for none. d is sorted here (a
// copy) unless it already is: sort a data set once before taking several ranks of it.
func nearestRank(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !slices.IsSorted(d) {
		d = slices.Sorted(slices.Values(d))
	}
	return d[max((p*len(d)+99)/100, 1)-1]
}

func ms(d time.Duration) string {
	v := float64(d.Microseconds()) / 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func pct(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()) }

func byCount(m map[string]int) string {
	if len(m) == 0 {
		return "–"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(m[b]-m[a], strings.Compare(a, b)) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *report) markdown() []byte {
	var b bytes.Buffer
	m, v, p := r.meta, r.verdict, r.plan
	fs := r.figures()
	fmt.Fprintf(&b, "# Soak with faults\n\n")
	fmt.Fprintf(&b, "Written by `bench/fleet soak` (`bench/soak`) on %s: %s of mixed load through HAProxy in front of three facade "+
		"replicas over a Redis Cluster of three masters with a replica each, while faults are injected (below). "+
		"See `bench/README.md` for how it is made.\n\n", m["date"], r.c.duration)
	if v.failed() {
		b.WriteString("**Result: FAILED.**\n\n")
	} else {
		b.WriteString("**Result: passed.**\n\n")
	}
	total := phaseFigures{codes: map[string]int{}}
	for _, f := range fs {
		total.sent += f.sent
		total.data += f.data
		total.stale += f.stale
		total.failed += f.failed
		total.invalidations += f.invalidations
		total.acked += f.acked
		total.skipped += f.skipped
		for k, n := range f.codes {
			total.codes[k] += n
		}
	}
	fmt.Fprintf(&b, "| check | found | |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| queries sent | %d | %d answered with data (%s), %d failed; %d answers served stale histories; %d not sent, the client being at its limit |\n",
		total.sent, total.data, pct(total.data, total.sent), total.failed, total.stale, total.skipped)
	fmt.Fprintf(&b, "| cross-token leaks | %d | answers for one token holding the other token's canary (%d marks of the right token read) |\n", len(v.leaks), v.marks)
	fmt.Fprintf(&b, "| stale after invalidation | %d | answers to queries sent after an invalidation's 200 that show the contract's version from before (%d invalidations acknowledged) |\n", len(v.stale), total.acked)
	fmt.Fprintf(&b, "| failures with a code not expected in their phase | %d | by code: %s |\n", len(v.unexpected), byCount(codesOf(v.unexpected)))
	fmt.Fprintf(&b, "| answers that could not be checked | %d | data without a canary mark for each contract asked for |\n", len(v.unmarked))
	fmt.Fprintf(&b, "| invalidations never acknowledged | %d | the webhook did not answer 200 within %s |\n\n", len(v.unacked), webhookGiveUp)

	b.WriteString("## Per phase\n\n")
	b.WriteString("A query belongs to the phase it was sent in. Latencies are the client's, through HAProxy, over every answer (failed ones too), " +
		"nearest-rank. Upstream calls per query: the stub's counter over the phase, over the queries sent in it. " +
		"Redis hit ratio: lookups that found a fresh entry in Redis, of all lookups that reached Redis (the replicas' `facade_cache_lookups_total`).\n\n")
	b.WriteString("| phase | s | sent | with data | served stale | failed (by code) | p50 ms | p99 ms | upstream calls / query | Redis hit ratio |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---:|---:|---:|---:|\n")
	for i, f := range fs {
		calls := "–"
		if f.upstreamCalls >= 0 && f.sent > 0 {
			calls = fmt.Sprintf("%.2f", float64(f.upstreamCalls)/float64(f.sent))
		}
		hit := "–"
		if h, ok := redisHitRatio(f.lookups); ok {
			hit = fmt.Sprintf("%.0f%%", 100*h)
		}
		failed := fmt.Sprint(f.failed)
		if f.failed > 0 {
			failed += ": " + byCount(f.codes)
		}
		fmt.Fprintf(&b, "| %s | %.0f–%.0f | %d | %d | %d | %s | %s | %s | %s | %s |\n", p.phases[i].name, p.phases[i].start.Seconds(), p.end(i).Seconds(),
			f.sent, f.data, f.stale, failed, ms(nearestRank(f.all, 50)), ms(nearestRank(f.all, 99)), calls, hit)
	}
	b.WriteString("\nBy kind, p50 / p99 ms (answers):\n\n| phase | list view | full tickets | historyStats ×100 | verification |\n|---|---|---|---|---|\n")
	for i, f := range fs {
		fmt.Fprintf(&b, "| %s |", p.phases[i].name)
		for _, k := range kinds {
			if d := f.took[k]; len(d) > 0 {
				fmt.Fprintf(&b, " %s / %s (%d) |", ms(nearestRank(d, 50)), ms(nearestRank(d, 99)), len(d))
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}

	b.WriteString("\n## Invalidations\n\n")
	fmt.Fprintf(&b, "The load changes %.1f hot contracts a second: it bumps the contract's version at the stub, then POSTs "+
		"`{\"contractId\"}` to `/webhooks/enneo` through HAProxy until it answers 200 (every 100 ms, for at most %s), and then "+
		"sends %d list views of it per token. Any answer to a query sent after that 200 must show the new version or a later one.\n\n",
		r.c.rates.invalidations, webhookGiveUp, r.c.rates.verify)
	b.WriteString("| phase | invalidations | acknowledged | webhook answers other than 200 | bump to 200, p50 / p99 ms |\n|---|---:|---:|---|---|\n")
	for i, f := range fs {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s / %s |\n", p.phases[i].name, f.invalidations, f.acked, byCount(f.refused),
			ms(nearestRank(f.ackTook, 50)), ms(nearestRank(f.ackTook, 99)))
	}

	b.WriteString("\n## Which failures are expected where\n\n")
	b.WriteString("Serving a stale history (marked `\"cache\":\"stale\"` in `extensions.histories`) while the upstream fails is correct, and is " +
		"counted apart, not as a failure. A failure is expected only where its phase's fault explains it:\n\n")
	b.WriteString("| phase | code | why |\n|---|---|---|\n")
	for _, ph := range p.phases {
		for _, code := range slices.Sorted(maps.Keys(expected[ph.name])) {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", ph.name, code, expected[ph.name][code])
		}
	}
	b.WriteString("\nEverywhere else nothing may fail: a Redis master's death and a replica's restart must cost no query " +
		"(Redis trouble falls back to the upstream; HAProxy sends a connection a stopping replica refuses to another, " +
		"and the replica finishes what it has), nor may a dropped pub/sub connection.\n")

	b.WriteString("\n## Fault timeline\n\n| s | |\n|---:|---|\n")
	for _, e := range r.timeline {
		fmt.Fprintf(&b, "| %s | %s |\n", secs(e.at), e.what)
	}

	b.WriteString("\n## Over time\n\n")
	b.WriteString("Each row covers the time since the row before. RSS is each replica's `VmRSS` at the row's time (a replica " +
		"restarted shows its new process from then on, marked *).\n\n")
	b.WriteString("| s | phase | sent | failed | served stale | Redis hit ratio | upstream calls |")
	for _, rp := range r.c.replicas {
		fmt.Fprintf(&b, " %s RSS MiB |", rp.name)
	}
	b.WriteString("\n|---:|---|---:|---:|---:|---:|---:|" + strings.Repeat("---:|", len(r.c.replicas)) + "\n")
	var prev *snapshot
	for i := range r.snaps {
		s := &r.snaps[i]
		if prev != nil {
			var sent, failed, stale int
			for _, q := range r.load.queries {
				if at := q.sent.Sub(r.start); at >= prev.at && at < s.at {
					sent++
					if q.failed() {
						failed++
					}
					if q.stale > 0 {
						stale++
					}
				}
			}
			hit := "–"
			if h, ok := redisHitRatio(lookupsBetween(*prev, *s)); ok {
				hit = fmt.Sprintf("%.0f%%", 100*h)
			}
			calls := "–"
			if s.stubCalls >= 0 && prev.stubCalls >= 0 {
				calls = fmt.Sprint(s.stubCalls - prev.stubCalls)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s | %s |", secs(s.at), p.phases[p.phaseAt(prev.at)].name, sent, failed, stale, hit, calls)
			for j := range s.replicas {
				mark := ""
				if j < len(prev.replicas) && prev.replicas[j].pid != s.replicas[j].pid {
					mark = "*"
				}
				if s.replicas[j].rssKiB > 0 {
					fmt.Fprintf(&b, " %.0f%s |", float64(s.replicas[j].rssKiB)/1024, mark)
				} else {
					b.WriteString(" down |")
				}
			}
			b.WriteString("\n")
		}
		prev = s
	}

	b.WriteString("\n## What the replicas logged\n\n")
	b.WriteString("Every message at warning level or above, and the notes that something came back, by replica (the line per request left out); times from the soak's start.\n\n")
	b.WriteString("| replica | level | message | count | first s | last s |\n|---|---|---|---:|---:|---:|\n")
	for _, s := range r.logs {
		if len(s.messages) == 0 {
			fmt.Fprintf(&b, "| %s | | (nothing) | | | |\n", s.replica)
		}
		for _, lm := range s.messages {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s |\n", s.replica, lm.level, mdEscape(lm.msg), lm.count, secs(lm.first), secs(lm.last))
		}
	}

	r.details(&b)

	b.WriteString("\n## Set-up\n\n")
	fmt.Fprintf(&b, "- Load (open loop, each kind at its rate whatever the answers take, at most %d of its queries in flight, verification queries and invalidations not counted): %.0f list views, %.0f full-ticket queries "+
		"(every field, as q2) and %.1f `historyStats` over 100 contracts (every aggregate, per contract and in total, at a fixed `now`, "+
		"so the response cache may answer) a second, over contracts %d–%d, half the single-contract queries on the first %d (the hot ones, "+
		"which are also the ones invalidated); each query with one of two tokens, at random.\n",
		r.c.maxInFlight, r.c.rates.list, r.c.rates.full, r.c.rates.stats, r.c.first, r.c.first+r.c.contracts-1, r.c.hot)
	b.WriteString("- Canary data (`bench/stub -canary`): each ticket's subject and first tag name are `canary tok-<digest of the token> c=<contract> v=<version>`; " +
		"`historyStats` shows them as `byTag` keys. Each answer's marks are checked against the token it was sent with and the versions acknowledged before it was sent.\n")
	fmt.Fprintf(&b, "- Faults: a Redis master killed at %s s, replica %s restarted at %s s, the upstream answering 503 from %s s for %s and then %s slower per call for as long, "+
		"every pub/sub connection dropped at %s s; recovery from %s s.\n",
		secs(p.faults[0].at), r.c.replicas[min(1, len(r.c.replicas)-1)].name, secs(p.faults[1].at), secs(p.faults[2].at), r.c.upstreamFault, r.c.slowDelay,
		secs(p.faults[5].at), secs(p.phases[6].start))
	for _, k := range []string{"fleet", "facade_env", "stub"} {
		if v := m[k]; v != "" {
			fmt.Fprintf(&b, "- %s: %s\n", map[string]string{"fleet": "Fleet", "facade_env": "Facade settings", "stub": "Upstream"}[k], v)
		}
	}

	b.WriteString("\n## Machine\n\n")
	for _, k := range []string{"commit", "date", "cpu", "nproc", "memory", "kernel", "os", "go", "redis", "haproxy", "pinning", "load_before", "load_after"} {
		if v := m[k]; v != "" {
			fmt.Fprintf(&b, "- %s: %s\n", map[string]string{"commit": "Commit", "date": "Date", "cpu": "CPU", "nproc": "Cores", "memory": "Memory",
				"kernel": "Kernel", "os": "OS", "go": "Go", "redis": "Redis", "haproxy": "HAProxy", "pinning": "Pinning",
				"load_before": "Load average before", "load_after": "Load average after"}[k], v)
		}
	}
	return b.Bytes()
}

// details lists the queries the checks flagged, each with the line the replica that answered it
// logged, found by its request id.
func (r *report) details(b *bytes.Buffer) {
	v := r.verdict
	if len(v.unexpected)+len(v.stale)+len(v.leaks)+len(v.unacked)+len(v.unmarked) == 0 {
		return
	}
	lines := map[string]requestLine{}
	for _, s := range r.logs {
		maps.Copy(lines, s.requests)
	}
	served := func(q *query) string {
		if l, ok := lines[q.id]; ok {
			return fmt.Sprintf("%s: `%s`", l.replica, l.line)
		}
		if l, ok := r.balancer[q.id]; ok {
			return fmt.Sprintf("no replica logged it; HAProxy: `%s`", l)
		}
		return "no replica logged it"
	}
	p := r.plan
	row := func(q *query, what string) {
		at := q.sent.Sub(r.start)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", secs(at), p.phases[p.phaseAt(at)].name, q.kind, r.load.tokens[q.token].name,
			what, ms(q.took), q.id, mdEscape(served(q)))
	}
	head := "| sent s | phase | kind | token | what | took ms | request id | answered by |\n|---:|---|---|---|---|---:|---|---|\n"
	if len(v.unexpected) > 0 {
		fmt.Fprintf(b, "\n## Unexpected failures (%d; the first 20)\n\n%s", len(v.unexpected), head)
		for i, q := range v.unexpected {
			if i == 20 {
				break
			}
			what := q.primary()
			if q.message != "" || q.transport != "" {
				what += ": " + mdEscape(cmp.Or(q.message, q.transport))
			}
			row(q, what)
		}
	}
	if len(v.stale) > 0 {
		fmt.Fprintf(b, "\n## Stale after invalidation (%d)\n\n%s\n\n", len(v.stale), staleSummary(v.stale, lines))
		staleRow := func(s staleAnswer) {
			by := "a replica that did not log it"
			if l, ok := lines[s.inv.ackID]; ok {
				by = l.replica
			}
			row(s.q, fmt.Sprintf("contract %s at version %d, sent %s ms after %s acknowledged version %d's invalidation", s.contract, s.shown, ms(s.after), by, s.inv.version))
		}
		b.WriteString("The first 20:\n\n" + head)
		for _, s := range v.stale[:min(20, len(v.stale))] {
			staleRow(s)
		}
		// Those long after the acknowledgement are no race with pub/sub: show them all (up to 20).
		var late []staleAnswer
		for _, s := range v.stale[min(20, len(v.stale)):] {
			if s.after > lateAfter && len(late) < 20 {
				late = append(late, s)
			}
		}
		if len(late) > 0 {
			fmt.Fprintf(b, "\nOf the others, those sent more than %s ms after the 200 (up to 20):\n\n%s", ms(lateAfter), head)
			for _, s := range late {
				staleRow(s)
			}
		}
	}
	if len(v.leaks) > 0 {
		fmt.Fprintf(b, "\n## Cross-token leaks (%d; the first 20)\n\n%s", len(v.leaks), head)
		for i, l := range v.leaks {
			if i == 20 {
				break
			}
			row(l.q, "holds "+l.mark.String())
		}
	}
	if len(v.unmarked) > 0 {
		fmt.Fprintf(b, "\n## Answers that could not be checked (%d; the first 20)\n\n%s", len(v.unmarked), head)
		for i, q := range v.unmarked {
			if i == 20 {
				break
			}
			row(q, "no mark for "+strings.Join(q.unmarked, ", "))
		}
	}
	if len(v.unacked) > 0 {
		fmt.Fprintf(b, "\n## Invalidations never acknowledged (%d)\n\n| bumped s | contract | version | attempts | answers |\n|---:|---|---:|---:|---|\n", len(v.unacked))
		for _, inv := range v.unacked {
			bumped := "– (bump failed)"
			if !inv.bumped.IsZero() {
				bumped = secs(inv.bumped.Sub(r.start))
			}
			fmt.Fprintf(b, "| %s | %s | %d | %d | %s |\n", bumped, inv.contract, inv.version, inv.attempts, byCount(inv.refused))
		}
	}
}

// lateAfter is how long after an acknowledgement a stale answer is shown even when it is not
// among the first: later than pub/sub takes to reach a replica.
const lateAfter = 5 * time.Millisecond

// staleSummary says when the stale answers came and from where: how long after the
// acknowledgement the query was sent, whether the replica that answered was the one that
// acknowledged the invalidation, and which layer answered (the access log's cache field).
func staleSummary(stale []staleAnswer, lines map[string]requestLine) string {
	var after []time.Duration
	same, other, unknown := 0, 0, 0
	layers := map[string]int{}
	for _, s := range stale {
		after = append(after, s.after)
		answered, okA := lines[s.q.id]
		acked, okB := lines[s.inv.ackID]
		switch {
		case !okA || !okB:
			unknown++
		case answered.replica == acked.replica:
			same++
		default:
			other++
		}
		layers[cacheLayer(answered.line)]++
	}
	slices.Sort(after) // once, for the three ranks
	return fmt.Sprintf("Sent %s to %s ms after the invalidation's 200 (median %s ms). Answered by the replica that had "+
		"acknowledged the invalidation: %d; by another replica: %d; not known: %d. Where the answer came from, by the "+
		"answering replica's access log: %s.", ms(nearestRank(after, 0)), ms(nearestRank(after, 100)), ms(nearestRank(after, 50)),
		same, other, unknown, byCount(layers))
}

// cacheLayer reads where an access log line says a query's histories came from: "response cache", or
// the counts of hits, misses and stale histories.
func cacheLayer(line string) string {
	switch {
	case line == "":
		return "not logged"
	case strings.Contains(line, `"cache":"response"`):
		return "response cache"
	case strings.Contains(line, `"hit":0,`):
		return "fetched (no hit)"
	}
	return "hot layer or Redis (a hit)"
}

func codesOf(qs []*query) map[string]int {
	m := map[string]int{}
	for _, q := range qs {
		m[q.primary()]++
	}
	return m
}

// mdEscape keeps text inside a table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// summary prints the verdict in a few lines.
func (r *report) summary(w io.Writer) {
	v := r.verdict
	n, data := len(r.load.queries), 0
	for _, q := range r.load.queries {
		if q.data {
			data++
		}
	}
	fmt.Fprintf(w, "soak: %d queries, %d with data; leaks %d, stale after invalidation %d, unexpected failures %d, unchecked %d, unacknowledged invalidations %d; wrote %s\n",
		n, data, len(v.leaks), len(v.stale), len(v.unexpected), len(v.unmarked), len(v.unacked), r.c.out)
	if v.failed() {
		fmt.Fprintf(w, "soak: FAILED (see %s)\n", r.c.out)
	}
}
