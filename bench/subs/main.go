// Command subs measures live updates under load: it starts an upstream of its own (each
// contract's history grows by a ticket when the command says so) and the facade binary over it,
// opens -subs subscriptions over -contracts contracts (server-sent events, -subs/-contracts
// subscribers per contract, each contract's with one token of its own), then for -duration
// sends Enneo's webhook once a second for the next contract, after adding a ticket to it, and
// measures the time from each webhook to the event of the last of that contract's
// subscribers. It reports that time's p50 and p99, the upstream calls per change, and the
// facade's peak RSS, in one BENCH line, and writes -out (Markdown) when given.
//
//	go -C bench run ./subs -facade /tmp/facade -subs 2000 -contracts 100 -duration 60s
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"
)

func main() {
	facade := flag.String("facade", "", "the facade binary (built with .ci/build)")
	subs := flag.Int("subs", 2000, "subscriptions")
	contracts := flag.Int("contracts", 100, "contracts they watch")
	duration := flag.Duration("duration", 60*time.Second, "how long webhooks are sent, one a second")
	out := flag.String("out", "", "Markdown report to write (empty: none)")
	flag.Parse()
	if *facade == "" {
		log.Fatal("-facade is required")
	}

	// The upstream: contract c<i>'s history holds tickets[i] tickets; every call is counted.
	tickets := make([]atomic.Int64, *contracts)
	var calls atomic.Int64
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(upLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/contract/c%d/history", &i); err != nil || i < 0 || i >= *contracts {
			w.Write([]byte(`{"tickets":[]}`))
			return
		}
		var b bytes.Buffer
		b.WriteString(`{"tickets":[`)
		for t := range tickets[i].Load() + 1 {
			if t > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%d,"contractId":"c%d","status":"open","subject":"ticket %d","createdAt":"2026-12-07 10:00:00"}`, i*1000+int(t), i, t)
		}
		b.WriteString(`]}`)
		w.Write(b.Bytes())
	}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(*facade)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "UPSTREAM_URL=http://"+upLn.Addr().String(),
		"WEBHOOK_SECRET=bench-hook", "CACHE_KEY_SECRET=bench", "LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil && resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		if i == 200 {
			log.Fatal("the facade did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var peak atomic.Int64
	go func() {
		for {
			if p, err := procfs.NewProc(cmd.Process.Pid); err == nil {
				if st, err := p.Stat(); err == nil {
					peak.Store(max(peak.Load(), int64(st.ResidentMemory()/1024)))
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()

	// The subscribers: each records when it got its event of each contract's change.
	type receipt struct {
		contract int
		at       time.Time
	}
	receipts := make(chan receipt, *subs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *subs, MaxConnsPerHost: 0}}
	var open sync.WaitGroup
	for s := range *subs {
		c := s % *contracts
		open.Add(1)
		go func() {
			body := fmt.Sprintf(`{"query":"subscription { contractChanged(ids: [\"c%d\"]) { id history { tickets { id subject } } } }"}`, c)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", fmt.Sprintf("Bearer desk-%d", c))
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				log.Fatalf("subscription %d: %v", s, err)
			}
			defer resp.Body.Close()
			lines := bufio.NewScanner(resp.Body)
			lines.Buffer(make([]byte, 64<<10), 1<<20)
			opened := false
			for lines.Scan() {
				line := lines.Text()
				if !opened && line == ": subscribed" {
					opened = true
					open.Done()
				}
				if strings.HasPrefix(line, "data: {") {
					receipts <- receipt{c, time.Now()}
				}
			}
		}()
	}
	open.Wait()
	log.Printf("%d subscriptions open over %d contracts", *subs, *contracts)

	perContract := *subs / *contracts
	var lags []time.Duration
	var changes int
	callsBefore := calls.Load()
	start := time.Now()
	for i := 0; time.Since(start) < *duration; i++ {
		c := i % *contracts
		tickets[c].Add(1)
		sent := time.Now()
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/enneo", strings.NewReader(fmt.Sprintf(`{"event":"TicketCreated","contractId":"c%d"}`, c)))
		req.Header.Set("Authorization", "Bearer bench-hook")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			log.Fatalf("webhook: %v", err)
		}
		resp.Body.Close()
		var last time.Time
		deadline := time.After(10 * time.Second)
		for got := 0; got < perContract; {
			select {
			case r := <-receipts:
				if r.contract != c {
					log.Fatalf("an event for c%d after the webhook for c%d", r.contract, c)
				}
				got++
				last = r.at
			case <-deadline:
				log.Fatalf("change %d: %d of %d subscribers got their event within 10 s", i, got, perContract)
			}
		}
		lags = append(lags, last.Sub(sent))
		changes++
		time.Sleep(time.Until(sent.Add(time.Second)))
	}
	upstreamPerChange := float64(calls.Load()-callsBefore) / float64(changes)
	slices.Sort(lags)
	pct := func(p float64) time.Duration { return lags[int(p*float64(len(lags)-1))] }
	line := fmt.Sprintf("BENCH subscriptions=%d contracts=%d changes=%d p50_us=%d p99_us=%d max_us=%d upstream_calls_per_change=%.2f peak_rss_kib=%d",
		*subs, *contracts, changes, pct(0.5).Microseconds(), pct(0.99).Microseconds(), lags[len(lags)-1].Microseconds(), upstreamPerChange, peak.Load())
	fmt.Println(line)
	if *out != "" {
		report := fmt.Sprintf(`# Live updates under load

Written by bench/subs on %s. %d subscriptions (server-sent events), %d per contract over %d
contracts, each contract's subscribers with one token of their own; one webhook a second for %d
s, each after a new ticket in the next contract's history (the upstream is bench/subs' own).
Time from the webhook's request to the event of the last of that contract's subscribers:

| changes | p50 | p99 | max | upstream calls per change | facade peak RSS |
|---|---|---|---|---|---|
| %d | %.1f ms | %.1f ms | %.1f ms | %.2f | %d MiB |

%s
`, time.Now().UTC().Format("2006-01-02 15:04 UTC"), *subs, perContract, *contracts, int(duration.Seconds()),
			changes, ms(pct(0.5)), ms(pct(0.99)), ms(lags[len(lags)-1]), upstreamPerChange, peak.Load()/1024, "`"+line+"`")
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
