// Command overload measures fairness under overload: -heavy clients send a heavy legal
// operation (q2 over 4 contracts, every field of their tickets) again and again, each time with
// contract ids never asked for before, so that no cache answers it; beside them one probe sends
// a one-field query, also with a fresh id each time, one after another. It reports the probe's
// latency, how many heavy operations completed and how many were refused (OVERLOADED, 503), and
// the server's peak RSS (its process, -pid), in one line in the format of post.lua's summary:
//
//	BENCH probe_requests=... probe_p50_us=... probe_p99_us=... heavy_ok=... heavy_rps=... refused=... other=... peak_rss_kib=... heavy_cost=...
//
// Refused clients wait for the Retry-After they were given, as clients should (-honor-retry).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"

	"github.com/vektah/gqlparser/v2"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/complexity"
	"github.com/enneo-facade/facade/graph/queries"
)

// heavyQuery is q2 (every field of a contract's tickets) over the contracts $ids names.
var heavyQuery = strings.Replace(strings.Replace(queries.Q2, `contract(id: "100001")`, `contracts(ids: $ids)`, 1),
	"query Q2 {", "query Heavy($ids: [ID!]!) {", 1)

// heavyCost is the heavy operation's estimated cost, as the facade reckons it.
func heavyCost() int64 {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	doc, err := gqlparser.LoadQuery(schema, heavyQuery)
	if err != nil {
		log.Fatal(err)
	}
	return complexity.Estimate(schema, doc.Operations[0], map[string]any{"ids": []any{"1", "2", "3", "4"}}, 200).Cost
}

const probeQuery = `query Probe($id: ID!) { contract(id: $id) { id } }`

func main() {
	url := flag.String("url", "http://127.0.0.1:9100/graphql", "GraphQL endpoint under test")
	pid := flag.Int("pid", 0, "the server's process id, for its RSS (0: not sampled)")
	heavy := flag.Int("heavy", 200, "clients sending heavy operations")
	duration := flag.Duration("duration", 20*time.Second, "how long the load lasts")
	token := flag.String("token", "bench-token", "bearer token sent")
	honor := flag.Bool("honor-retry", true, "refused clients wait for Retry-After before sending again")
	flag.Parse()

	transport := &http.Transport{MaxIdleConnsPerHost: *heavy + 1, MaxConnsPerHost: *heavy + 1}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	var fresh atomic.Int64
	fresh.Store(time.Now().UnixNano() % 1e9 * 1000)
	nextID := func() string { return "8" + strconv.FormatInt(fresh.Add(1), 10) }
	send := func(query string, vars map[string]any) (status int, retryAfter time.Duration, body []byte, err error) {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, *url, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+*token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, nil, err
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return resp.StatusCode, time.Duration(secs) * time.Second, body, err
	}

	stop := make(chan struct{})
	var peakRSS atomic.Int64
	var sampler sync.WaitGroup
	if *pid > 0 {
		proc, err := procfs.NewProc(*pid)
		if err != nil {
			log.Fatal(err)
		}
		sampler.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				if st, err := proc.Stat(); err == nil && int64(st.ResidentMemory()) > peakRSS.Load() {
					peakRSS.Store(int64(st.ResidentMemory()))
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
	}

	var ok, refused, other atomic.Int64
	var clients sync.WaitGroup
	for range *heavy {
		clients.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, retry, body, err := send(heavyQuery, map[string]any{"ids": []string{nextID(), nextID(), nextID(), nextID()}})
				switch {
				case err == nil && status == http.StatusOK && !bytes.Contains(body, []byte(`"errors"`)):
					ok.Add(1)
				case err == nil && status == http.StatusServiceUnavailable && bytes.Contains(body, []byte(`"OVERLOADED"`)):
					refused.Add(1)
					if *honor {
						select {
						case <-stop:
						case <-time.After(retry):
						}
					}
				default:
					other.Add(1)
				}
			}
		})
	}
	var took []time.Duration
	probeErrors := 0
	start := time.Now()
	deadline := start.Add(*duration)
	time.Sleep(time.Second) // the heavy clients fill the queue first
	for time.Now().Before(deadline) {
		t0 := time.Now()
		status, _, body, err := send(probeQuery, map[string]any{"id": nextID()})
		if err != nil || status != http.StatusOK || bytes.Contains(body, []byte(`"errors"`)) {
			probeErrors++
		}
		took = append(took, time.Since(t0))
		time.Sleep(10 * time.Millisecond) // a person's clicks, not a load
	}
	elapsed := time.Since(start)
	heavyOK := ok.Load()
	close(stop)
	clients.Wait()
	sampler.Wait()
	if len(took) == 0 {
		log.Fatal("no probe was sent")
	}
	slices.Sort(took)
	pct := func(p float64) int64 { return took[int(p*float64(len(took)-1)+0.5)].Microseconds() }
	fmt.Printf("BENCH probe_requests=%d probe_p50_us=%d probe_p99_us=%d probe_max_us=%d probe_errors=%d heavy_ok=%d heavy_rps=%.1f refused=%d other=%d peak_rss_kib=%d heavy_cost=%d\n",
		len(took), pct(0.50), pct(0.99), took[len(took)-1].Microseconds(), probeErrors,
		heavyOK, float64(heavyOK)/elapsed.Seconds(), refused.Load(), other.Load(), peakRSS.Load()>>10, heavyCost())
}
