package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type line struct {
	Time, Level, Msg, RequestID, Caller, Policy, Operation string
	Contracts, Personal                                    []string
}

// TestFile: a line is one JSON object with every key, written out by Close; the file is
// created readable by its owner only, and appended to.
func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	at := time.Date(2026, 12, 7, 9, 14, 3, 0, time.FixedZone("CET", 3600))
	for range 2 {
		l, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Write(at, "req-1", "powerbi", Read{Policy: "mask", Operation: `Odd"Name`, Contracts: []string{"746839", "C-1001"}, Personal: []string{"EMAIL"}}.Tail())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (appended):\n%s", len(lines), b)
	}
	var got line
	d := json.NewDecoder(strings.NewReader(lines[1]))
	d.DisallowUnknownFields()
	if err := d.Decode(&got); err != nil {
		t.Fatalf("%s: %v", lines[1], err)
	}
	want := line{Time: "2026-12-07T08:14:03Z", Level: "INFO", Msg: "audit", RequestID: "req-1", Caller: "powerbi", Policy: "mask",
		Operation: `Odd"Name`, Contracts: []string{"746839", "C-1001"}, Personal: []string{"EMAIL"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("line %s\n read %+v\n want %+v", lines[1], got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestStderr: AUDIT_LOG=stderr writes into the writer of the process's other log lines.
func TestStderr(t *testing.T) {
	var logs bytes.Buffer
	l, err := Open("stderr", &logs)
	if err != nil {
		t.Fatal(err)
	}
	l.Write(time.Now(), "r", "c", Read{Policy: "allow", Contracts: []string{"1"}, Personal: []string{}}.Tail())
	if !strings.Contains(logs.String(), `"msg":"audit","requestId":"r","caller":"c","policy":"allow","operation":"","contracts":["1"],"personal":[]}`+"\n") {
		t.Errorf("stderr got %q", logs.String())
	}
}
