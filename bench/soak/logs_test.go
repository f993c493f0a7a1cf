package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReadLog(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	path := filepath.Join(dir, "facade-1.log")
	os.WriteFile(path, []byte(`listening on http://[::]:19501
{"time":"2026-01-02T03:04:06Z","level":"INFO","msg":"request","requestId":"soak-x-1","status":200}
{"time":"2026-01-02T03:04:07Z","level":"WARN","msg":"redis cache degraded; queries go to the upstream","op":"get"}
{"time":"2026-01-02T03:04:08Z","level":"INFO","msg":"redis cache recovered"}
{"time":"2026-01-02T03:04:09Z","level":"WARN","msg":"redis cache degraded; queries go to the upstream","op":"drop"}
{"time":"2026-01-02T03:04:10Z","level":"INFO","msg":"webhook: history invalidated"}
{"time":"2026-01-02T03:04:11Z","level":"INFO","msg":"request","requestId":"soak-x-2","status":200}
`), 0o644)
	s, err := readLog(replica{name: "facade-1", logFile: path}, start, map[string]bool{"soak-x-2": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.messages) != 2 {
		t.Fatalf("readLog: %d messages, want 2 (degraded, recovered): %+v", len(s.messages), s.messages)
	}
	if m := s.messages[0]; m.level != "WARN" || m.count != 2 || m.first != 2*time.Second || m.last != 4*time.Second {
		t.Errorf("messages[0] = %+v, want the warning twice, at 2 s and 4 s", m)
	}
	if len(s.requests) != 1 || s.requests["soak-x-2"].at != 6*time.Second || s.requests["soak-x-2"].replica != "facade-1" {
		t.Errorf("requests = %+v, want soak-x-2's line only", s.requests)
	}
}

func TestReadBalancerLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "haproxy.log")
	os.WriteFile(path, []byte(`127.0.0.1:50590 [04/Dec/2026:21:05:53.307] graphql facades/facade-3 0/0/0/8/8 200 834 - - ---- 30/30/5/1/0 0/0 {soak-a-1} "POST /graphql HTTP/1.1"
127.0.0.1:50591 [04/Dec/2026:21:05:53.308] graphql facades/facade-2 0/0/0/-1/1 -1 0 - - SH-- 30/30/5/1/0 0/0 {soak-a-2} "POST /graphql HTTP/1.1"
Proxy graphql started.
`), 0o644)
	got, err := readBalancerLog(path, map[string]bool{"soak-a-2": true})
	if err != nil || len(got) != 1 || got["soak-a-2"] == "" {
		t.Errorf("readBalancerLog = %v, %v; want soak-a-2's line", got, err)
	}
}
