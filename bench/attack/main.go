// Command attack sends the attack corpus of graph/queries to a built facade over real HTTP and
// measures what each entry costs it: the server's own time (from its access log), the time the
// client waited, the upstream calls it caused (a counting upstream of its own), and the
// server's memory before and after the whole corpus. It then sends the legitimate queries, which
// must still answer. It prints a Markdown table and exits 1 when an entry is not refused with
// its code, causes an upstream call, takes longer than -max-ms of server time, or the RSS grows
// by more than -max-rss-growth.
//
// The server runs as in production, with introspection on (so that the introspection entries
// meet the limits, not the mode), its access log at debug level (a line, with the duration,
// for every request) and its profiles on a loopback port (for its allocation count).
//
//	.ci/build /tmp/facade && go -C bench run ./attack -bin /tmp/facade
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/queries"
	"github.com/enneo-facade/facade/upstream/demo"
	"github.com/prometheus/procfs"
)

func main() {
	bin := flag.String("bin", "", "the facade binary (go build -o ... .)")
	rounds := flag.Int("rounds", 3, "times each entry is sent")
	maxMS := flag.Float64("max-ms", 50, "server time an entry may take, in milliseconds")
	// The heap of an idle server (a few MiB live) may grow to 1+GOGC/100 = 9 times that before
	// it is first collected (the facade's GOGC=800; measured: +34 to +36 MiB over the corpus,
	// +30 at GOGC=400): that growth is the collector's pacing, not an attack's. Before the
	// limits, single entries took a gigabyte.
	maxGrowth := flag.Int64("max-rss-growth", 64, "MiB the server's RSS may grow by over the corpus")
	warm := flag.Int64("warm", 0, "MiB of legitimate queries' allocations to send first, so that the corpus meets a server in use (warm caches, a heap at its goal)")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-bin: the facade binary to run")
	}

	var calls atomic.Int64
	h := demo.NewHandler()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/contract/") {
			calls.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer up.Close()

	srv, err := start(*bin, up.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.stop()

	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()
	legit := queries.Legitimate(schema)
	if *warm > 0 {
		idle, start := int64(procStatus(srv.cmd.Process.Pid).VmRSS), srv.totalAlloc()
		for srv.totalAlloc()-start < *warm<<20 {
			for _, q := range legit {
				if _, err := srv.sendQuery(q); err != nil {
					log.Fatalf("warm-up %s: %v", q.Name, err)
				}
			}
		}
		fmt.Printf("Warm-up: the legitimate queries, %d MiB allocated: RSS %d MiB idle, %d MiB after.\n\n",
			(srv.totalAlloc()-start)>>20, idle>>20, procStatus(srv.cmd.Process.Pid).VmRSS>>20)
	}
	rssBefore := int64(procStatus(srv.cmd.Process.Pid).VmRSS)
	allocBefore := srv.totalAlloc()

	failed := false
	fmt.Printf("| entry | request | answer | server ms (max of %d) | client ms (max) | upstream calls |\n", *rounds)
	fmt.Println("|---|--:|---|--:|--:|--:|")
	for _, a := range queries.Attacks() {
		var serverMax, clientMax time.Duration
		var answer string
		before := calls.Load()
		ok := true
		for range *rounds {
			status, codes, took, server, err := srv.send(a.Body)
			if err != nil {
				log.Fatalf("%s: %v", a.Name, err)
			}
			serverMax, clientMax = max(serverMax, server), max(clientMax, took)
			answer = fmt.Sprint(status, " ", strings.Join(codes, ","))
			switch {
			case a.Status != 0:
				ok = ok && status == a.Status
			default:
				ok = ok && len(codes) > 0 && slices.Contains(a.Codes, codes[0])
			}
		}
		n := calls.Load() - before
		bad := !ok || n != 0 || ms(serverMax) > *maxMS
		mark := ""
		if bad {
			mark, failed = " **FAILED**", true
		}
		fmt.Printf("| %s%s | %s | %s | %.2f | %.2f | %d |\n", a.Name, mark, size(len(a.Body)), answer, ms(serverMax), ms(clientMax), n)
	}
	rssAfter := int64(procStatus(srv.cmd.Process.Pid).VmRSS)
	fmt.Printf("\nAllocated while answering the corpus: %d MiB.\n", (srv.totalAlloc()-allocBefore)>>20)
	peak := procStatus(srv.cmd.Process.Pid).VmHWM
	growth := (rssAfter - rssBefore) >> 20
	fmt.Printf("\nRSS: %d MiB before the corpus, %d MiB after it (%+d MiB), peak %d MiB; allowed growth %d MiB.\n",
		rssBefore>>20, rssAfter>>20, growth, peak>>20, *maxGrowth)
	if growth > *maxGrowth {
		failed = true
	}
	for _, q := range legit {
		if out, err := srv.sendQuery(q); err != nil {
			fmt.Printf("legitimate query %s after the corpus: %v %.300s\n", q.Name, err, out)
			failed = true
		}
	}
	fmt.Printf("The %d legitimate queries of graph/queries answered with data after the corpus.\n", len(legit))
	if failed {
		fmt.Println("\nFAILED")
		srv.stop()
		os.Exit(1)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func size(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// server is the facade under test, with its access log read line by line.
type server struct {
	cmd   *exec.Cmd
	base  string
	pprof string // its profiles' listener, for its allocation count
	log   *bufio.Scanner
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func start(bin, upstreamURL string) (*server, error) {
	cmd := exec.Command(bin, "--port", "0")
	pprof, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd.Env = append(os.Environ(), "UPSTREAM_URL="+upstreamURL, "INTROSPECTION=true", "LOG_LEVEL=debug", "PPROF_ADDR="+pprof)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "listening on ") {
		cmd.Process.Kill()
		return nil, fmt.Errorf("the server printed %q", lines.Text())
	}
	go io.Copy(io.Discard, stdout)
	s := &server{cmd: cmd, pprof: pprof, base: strings.Replace(strings.TrimPrefix(lines.Text(), "listening on "), "[::]", "127.0.0.1", 1)}
	s.log = bufio.NewScanner(stderr)
	s.log.Buffer(make([]byte, 1<<20), 1<<20)
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

// send POSTs body and returns the status, the answer's error codes, the time the client waited
// and the server's own duration, from its access log line for the request.
func (s *server) send(body []byte) (status int, codes []string, took, server time.Duration, err error) {
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer attack-token")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, 0, 0, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took = time.Since(start)
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	json.Unmarshal(raw, &out)
	for _, e := range out.Errors {
		c, _ := e.Extensions["code"].(string)
		codes = append(codes, c)
	}
	server, err = s.nextRequestDuration()
	return resp.StatusCode, codes, took, server, err
}

// nextRequestDuration reads the access log up to the next request's line.
func (s *server) nextRequestDuration() (time.Duration, error) {
	for s.log.Scan() {
		var line struct {
			Msg      string `json:"msg"`
			Duration int64  `json:"duration"`
		}
		if json.Unmarshal(s.log.Bytes(), &line) == nil && line.Msg == "request" {
			return time.Duration(line.Duration), nil
		}
	}
	return 0, fmt.Errorf("the server's log ended: %v", s.log.Err())
}

// sendQuery sends a legitimate query and fails unless it answers with data and no error.
func (s *server) sendQuery(q queries.Query) ([]byte, error) {
	body, _ := json.Marshal(map[string]any{"query": q.Query, "variables": q.Variables})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer attack-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := s.nextRequestDuration(); err != nil {
		return raw, err
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Errors) > 0 || string(out.Data) == "null" {
		return raw, fmt.Errorf("status %d, errors %v", resp.StatusCode, out.Errors)
	}
	return raw, nil
}

// procStatus reads /proc/pid/status, its memory figures (VmRSS, VmHWM) in bytes; the zero status
// when it cannot.
func procStatus(pid int) procfs.ProcStatus {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStatus{}
	}
	st, err := p.NewStatus()
	if err != nil {
		return procfs.ProcStatus{}
	}
	return st
}

// totalAlloc reads the bytes the server has allocated so far from its heap profile's
// MemStats.
func (s *server) totalAlloc() int64 {
	resp, err := http.Get("http://" + s.pprof + "/debug/pprof/heap?debug=1")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# TotalAlloc = "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
