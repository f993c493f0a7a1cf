package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// scrape reads /metrics into a map from sample (name and labels, as Prometheus writes them) to
// value.
func scrape(t *testing.T, url string) map[string]string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	samples := map[string]string{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if line := lines.Text(); line != "" && !strings.HasPrefix(line, "#") {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				samples[line[:i]] = line[i+1:]
			}
		}
	}
	return samples
}

// TestMetricsCountKnownTraffic sends known traffic and reads the counts back from /metrics.
func TestMetricsCountKnownTraffic(t *testing.T) {
	url, _ := countingDemo(t)
	base, _ := startTestServer(t, map[string]string{"UPSTREAM_URL": url, "METRICS_OPERATION_NAMES": "ContractTickets"})
	named := []byte(`{"query":"query ContractTickets { contract(id: \"746839\") { history { tickets { id } } } }"}`)
	for _, body := range [][]byte{
		named, // executed: a miss in every layer, one upstream call
		named, // from the response cache
		[]byte(`{"query":"{ contract(id: \"746839\") { history { tickets { subject } } } }"}`),                                                                            // executed on the hot history
		[]byte(`{"query":"query Other { contract(id: \"not-found\") { id } }"}`),                                                                                          // errors, a 404
		[]byte(`{"query":"{ contract(id: \"1\") { ` + strings.Repeat("history { tickets { customer { contracts { ", 5) + `id` + strings.Repeat(" } } } }", 5) + ` } }"}`), // refused
	} {
		post(t, base, "metrics-token", body)
	}
	got := scrape(t, base+"/metrics")
	for sample, want := range map[string]string{
		`facade_operations_total{operation="ContractTickets",outcome="ok"}`:    "2",
		`facade_operations_total{operation="other",outcome="errors"}`:          "1",
		`facade_operations_total{operation="anonymous",outcome="refused"}`:     "1",
		`facade_operations_total{operation="anonymous",outcome="ok"}`:          "1",
		`facade_operation_duration_seconds_count{operation="ContractTickets"}`: "2",
		`facade_refusals_total{code="QUERY_TOO_DEEP"}`:                         "1",
		`facade_cache_lookups_total{layer="response",result="hit"}`:            "1",
		`facade_cache_lookups_total{layer="response",result="miss"}`:           "4",
		`facade_cache_lookups_total{layer="hot",result="hit"}`:                 "1",
		`facade_cache_lookups_total{layer="hot",result="miss"}`:                "2",
		`facade_cache_lookups_total{layer="store",result="miss"}`:              "2",
		`facade_upstream_calls_total{status="2xx"}`:                            "1",
		`facade_upstream_calls_total{status="4xx"}`:                            "1",
		`facade_upstream_call_duration_seconds_count{status="2xx"}`:            "1",
		`facade_loader_batch_size_count`:                                       "2",
		`facade_upstream_retries_total`:                                        "0",
		`facade_upstream_breaker_state`:                                        "0",
	} {
		if got[sample] != want {
			t.Errorf("%s = %q, want %s", sample, got[sample], want)
		}
	}
	for _, family := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := got[family]; !ok {
			t.Errorf("no %s: Go's and the process's collectors are missing", family)
		}
	}
}

// TestMetricsAside: with METRICS_ADDR, /metrics is served there and not on the public port.
func TestMetricsAside(t *testing.T) {
	addr := freeAddr(t)
	base, _ := startTestServer(t, map[string]string{"METRICS_ADDR": addr})
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", resp.StatusCode)
	}
	if got := scrape(t, "http://"+addr+"/metrics"); got["facade_upstream_breaker_state"] != "0" {
		t.Errorf("the metrics listener has no breaker state: %v", len(got))
	}
}
