// Command fill puts a working set of contracts into the facade's cache before bench/fleet scale
// measures warm queries over it: it asks for contracts -first to -first+n-1, -batch at a time
// with contracts(ids:), -c requests at once, and fails on any error. It prints one line:
//
//	FILL contracts=100000 requests=1000 seconds=41.2 upstream_calls=100000
//
// (upstream_calls from the stub's counter, -stats, when given).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("fill: ")
	url := flag.String("url", "http://127.0.0.1:19500/graphql", "the GraphQL endpoint")
	token := flag.String("token", "bench-token", "bearer token: the cache's entries are the token's")
	first := flag.Int("first", 100001, "the first contract id")
	n := flag.Int("n", 100000, "contracts")
	batch := flag.Int("batch", 100, "contracts a request (at most the facade's MAX_CONTRACTS, 200)")
	conc := flag.Int("c", 4, "requests at once")
	stats := flag.String("stats", "", "the upstream stub's call counter")
	flag.Parse()
	f := &filler{url: *url, token: *token, http: &http.Client{Timeout: time.Minute}}
	ctx := context.Background()
	before, err := f.calls(ctx, *stats)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	requests, err := f.fill(ctx, batches(*first, *n, *batch), *conc)
	if err != nil {
		log.Fatal(err)
	}
	took := time.Since(start)
	after, err := f.calls(ctx, *stats)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("FILL contracts=%d requests=%d seconds=%.1f", *n, requests, took.Seconds())
	if *stats != "" {
		fmt.Printf(" upstream_calls=%d", after-before)
	}
	fmt.Println()
}

// batches cuts contracts first..first+n-1 into lists of at most size ids.
func batches(first, n, size int) [][]string {
	var out [][]string
	for i := 0; i < n; i += size {
		var ids []string
		for j := i; j < min(i+size, n); j++ {
			ids = append(ids, strconv.Itoa(first+j))
		}
		out = append(out, ids)
	}
	return out
}

type filler struct {
	url, token string
	http       *http.Client
}

const fillQuery = `query Fill($ids: [ID!]!) { contracts(ids: $ids) { id history { tickets { id } } } }`

// fill asks for every batch, conc at a time, and stops at the first failure.
func (f *filler) fill(ctx context.Context, bs [][]string, conc int) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bs) || ctx.Err() != nil {
					return
				}
				if err := f.ask(ctx, bs[i]); err != nil {
					cancel(fmt.Errorf("contracts %s-%s: %w", bs[i][0], bs[i][len(bs[i])-1], err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return len(bs), nil
}

func (f *filler) ask(ctx context.Context, ids []string) error {
	body, _ := json.Marshal(map[string]any{"query": fillQuery, "variables": map[string]any{"ids": ids}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return checkAnswer(resp.StatusCode, b, len(ids))
}

// checkAnswer wants a 200 with n contracts and no error.
func checkAnswer(status int, b []byte, n int) error {
	var a struct {
		Data struct {
			Contracts []*struct{ ID string }
		}
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("%d: not JSON: %.200s", status, b)
	}
	if status != http.StatusOK || len(a.Errors) > 0 {
		return fmt.Errorf("%d: %.300s", status, b)
	}
	if len(a.Data.Contracts) != n {
		return fmt.Errorf("%d contracts answered, want %d", len(a.Data.Contracts), n)
	}
	for _, c := range a.Data.Contracts {
		if c == nil {
			return errors.New("a contract is null")
		}
	}
	return nil
}

// calls reads the stub's call counter; 0 without a URL.
func (f *filler) calls(ctx context.Context, url string) (int64, error) {
	if url == "" {
		return 0, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var s struct{ Calls int64 }
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s.Calls, err
}
