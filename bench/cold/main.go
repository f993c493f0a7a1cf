// Command cold measures cold queries: it sends -n requests one after another, each the -query
// text with every distinct contract id replaced by one never asked for before, so no cache can
// answer any of it. Around each request it reads the upstream stub's call count, so it reports
// upstream calls per request exactly. One uncounted request first opens the connection. It
// prints one line in the format of post.lua's summary:
//
//	BENCH requests=50 rps=30.1 p50_us=... p99_us=... non2xx=0 gqlerrors=0 calls_per_req=15.00 ...
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:9100/graphql", "GraphQL endpoint under test")
	stats := flag.String("stats", "http://127.0.0.1:9101/stats", "the stub's call counter")
	queryFile := flag.String("query", "graph/queries/q3.graphql", "query whose contract ids are replaced")
	n := flag.Int("n", 50, "measured requests")
	token := flag.String("token", "bench-token", "bearer token sent")
	nonce := flag.Int64("nonce", time.Now().UnixNano()%1e6, "makes this run's ids differ from every other run's")
	flag.Parse()
	q, err := os.ReadFile(*queryFile)
	if err != nil {
		log.Fatal(err)
	}
	c := &client{url: *url, stats: *stats, token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	var took []time.Duration
	var calls []int64
	var non2xx, gqlErrors int
	var distinct int
	for i := -1; i < *n; i++ {
		query, d := freshIDs(string(q), fmt.Sprintf("9%06d%04d", *nonce, i+1))
		distinct = d
		before, err := c.calls()
		if err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		status, body, err := c.post(query)
		elapsed := time.Since(start)
		if err != nil {
			log.Fatal(err)
		}
		after, err := c.calls()
		if err != nil {
			log.Fatal(err)
		}
		if i < 0 {
			continue
		}
		took = append(took, elapsed)
		calls = append(calls, after-before)
		if status/100 != 2 {
			non2xx++
		} else if bytes.Contains(body, []byte(`"errors"`)) {
			gqlErrors++
		}
	}
	var total time.Duration
	var sumCalls int64
	for i := range took {
		total += took[i]
		sumCalls += calls[i]
	}
	slices.Sort(took)
	slices.Sort(calls)
	pct := func(p float64) int64 { return took[int(p*float64(len(took)-1)+0.5)].Microseconds() }
	fmt.Printf("BENCH requests=%d rps=%.1f p50_us=%d p99_us=%d mean_us=%d max_us=%d non2xx=%d gqlerrors=%d sockerr=0 calls_per_req=%.2f calls_min=%d calls_max=%d distinct_ids=%d\n",
		len(took), float64(len(took))/total.Seconds(), pct(0.50), pct(0.99), (total / time.Duration(len(took))).Microseconds(),
		took[len(took)-1].Microseconds(), non2xx, gqlErrors, float64(sumCalls)/float64(len(calls)), calls[0], calls[len(calls)-1], distinct)
}

var contractArg = regexp.MustCompile(`(contract\(id:\s*")([^"]+)(")`)

// freshIDs replaces each distinct contract id of query by prefix followed by a two-digit
// number, keeping which aliases share an id. It returns the new query and how many ids it has.
func freshIDs(query, prefix string) (string, int) {
	ids := map[string]string{}
	out := contractArg.ReplaceAllStringFunc(query, func(m string) string {
		parts := contractArg.FindStringSubmatch(m)
		id, ok := ids[parts[2]]
		if !ok {
			id = prefix + fmt.Sprintf("%02d", len(ids))
			ids[parts[2]] = id
		}
		return parts[1] + id + parts[3]
	})
	return out, len(ids)
}

type client struct {
	url, stats, token string
	http              *http.Client
}

func (c *client) post(query string) (int, []byte, error) {
	body, _ := json.Marshal(map[string]string{"query": query})
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *client) calls() (int64, error) {
	resp, err := c.http.Get(c.stats)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var s struct{ Calls json.Number }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, fmt.Errorf("stub stats: %w", err)
	}
	return strconv.ParseInt(s.Calls.String(), 10, 64)
}
