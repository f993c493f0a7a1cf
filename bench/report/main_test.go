package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{thousands(1234567.4), "1,234,567"},
		{thousands(999), "999"},
		{spaced("20ms"), "20 ms"},
		{spaced("1.5s"), "1.5 s"},
		{ms(1234), "1.23"},
		{ms(23456), "23.5"},
		{ms(123456), "123"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for in, want := range map[string]float64{"20ms": 20, "1s": 1000, "500us": 0.5, "x": 0} {
		if got := durationMs(in); got != want {
			t.Errorf("durationMs(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.tsv")
	os.WriteFile(results, []byte("server\tscenario\trps\tp50_us\tp99_us\trequests\tnon2xx\tgqlerrors\tsockerr\tcalls_per_req\trss_kib\textra\n"+
		"facade\twarm-q1\t30000\t900\t4000\t300000\t0\t0\t0\t0.000\t40000\t\n"+
		"tailcall\twarm-q1\t7000\t4000\t8000\t70000\t0\t0\t0\t0.000\t50000\t\n"+
		"static\twarm-q1\t60000\t500\t2000\t600000\t0\t0\t0\t0.000\t12000\t\n"+
		"facade\tcold-q3-20ms\t40\t25000\t29000\t50\t0\t0\t0\t15.00\t41000\tmean_us=25100 max_us=29000 calls_min=15 calls_max=15 distinct_ids=15\n"+
		"facade\trcoff-q2\t1500\t20000\t40000\t15000\t0\t0\t0\t0.000\t60000\t\n"+
		"bare\trcoff-q2\t1600\t19000\t38000\t16000\t0\t0\t0\t0.000\t30000\t\n"+
		"facade\toff-q2\t800\t40000\t80000\t8000\t0\t0\t0\t1.000\t50000\t\n"+
		"tailcall\toff-q2\t700\t45000\t84000\t7000\t0\t0\t0\t1.000\t50000\t\n"+
		"facade\toverload\t\t\t\t\t\t\t\t\t200000\tprobe_p50_us=4000 probe_p99_us=35000 probe_max_us=46000 probe_errors=0 heavy_rps=100.5 refused=2000 other=0 heavy_cost=96808\n"), 0o644)
	metaFile := filepath.Join(dir, "meta.env")
	os.WriteFile(metaFile, []byte("latency=20ms\nconnections=32\noverload_clients=200\noverload_duration=20s\n"), 0o644)
	rs, err := readRuns(results)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readMeta(metaFile)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	write(&b, rs, m)
	for _, want := range []string{
		"| q1 warm | 30,000 | 7,000 | — | — | — | 60,000 |",
		"| q1 warm | 4.29× | — | — | 4.29× | — | 50% |",
		"| q2 response cache off | 1,500 | — | — | — | 1,600 | — |",
		"| q2 response cache off | — | — | — | — | 94% | — |",
		"| q2 response cache off ≥ 2× Tailcall's q2 caching off | 2.14× | yes |",
		"| q2 caching off ≥ Tailcall's | 1.14× | yes |",
		"| q2 response cache off ≥ 85% of bare gqlgen | 94% | yes |",
		"| 4.00 | 35.0 | 46.0 | 0 | 100.5 | 2000 | 0 | 195 MiB |",
		"| under overload: the probe's p99 < 50 ms | 35.0 ms | yes |",
		"| under overload: RSS ≤ 240 MiB | 195 MiB | yes |",
		"| warm q1 ≥ 3× the best peer | 4.29× | yes |",
		"| cold q3: upstream calls = distinct ids (15) | 15–15 | yes |",
		"| cold q3: latency ≤ 1.5 × one upstream round trip (30.0 ms) | p50 25.0 ms, p99 29.0 ms | yes |",
		"| facade RSS ≤ 240 MiB | 195 MiB | yes |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// Each of bench/run and bench/fleet scale rewrites its own part of RESULTS.md and keeps the
// other's.
func TestFleetSectionSurvivesEitherWriter(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "RESULTS.md")
	table := filepath.Join(dir, "SCALE.md")
	report := func(args ...string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
		cmd.Env = append(os.Environ(), "REPORT_MAIN=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("report %v: %v\n%s", args, err, b)
		}
	}
	read := func() string {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	os.WriteFile(table, []byte("| setup | query |\n| one | q1 |\n"), 0o644)
	report("-fleet", table, "-out", out)
	if got := read(); !strings.Contains(got, "| one | q1 |") || !strings.Contains(got, "has not written its part") {
		t.Fatalf("fleet section into a missing report:\n%s", got)
	}

	results := filepath.Join(dir, "results.tsv")
	os.WriteFile(results, []byte("server\tscenario\trps\tp50_us\tp99_us\trequests\tnon2xx\tgqlerrors\tsockerr\tcalls_per_req\trss_kib\textra\n"+
		"facade\twarm-q1\t30000\t900\t4000\t300000\t0\t0\t0\t0.000\t40000\t\n"), 0o644)
	metaFile := filepath.Join(dir, "meta.env")
	os.WriteFile(metaFile, []byte("latency=20ms\n"), 0o644)
	report("-results", results, "-meta", metaFile, "-out", out)
	got := read()
	if !strings.Contains(got, "| q1 warm | 30,000 |") || !strings.Contains(got, "| one | q1 |") || strings.Contains(got, "has not written") {
		t.Fatalf("bench/run's report lost the fleet section or kept the placeholder:\n%s", got)
	}

	os.WriteFile(table, []byte("| setup | query |\n| three | q3 |\n"), 0o644)
	report("-fleet", table, "-out", out)
	got = read()
	if !strings.Contains(got, "| q1 warm | 30,000 |") || !strings.Contains(got, "| three | q3 |") ||
		strings.Contains(got, "| one | q1 |") || strings.Count(got, fleetMarker) != 1 {
		t.Fatalf("a new fleet table must replace the old one and keep bench/run's part:\n%s", got)
	}
	report("-fleet", table, "-out", out)
	if again := read(); again != got {
		t.Fatalf("splicing the same table twice changed the file:\n%s\n---\n%s", got, again)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("REPORT_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
