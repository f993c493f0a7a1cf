package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enneo-facade/facade/bench/canary"
	"github.com/enneo-facade/facade/upstream/demo"
)

func newTestStub(t *testing.T, n int) *stub {
	t.Helper()
	s, err := newStub(demo.ExampleHistory(), n, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHistory(t *testing.T) {
	s := newTestStub(t, 5)
	for _, tt := range []struct {
		id          string
		customerCID any
	}{
		{"4711", json.Number("4711")},
		{"C-1001", "C-1001"},
	} {
		body := s.history(tt.id, "")
		var h struct {
			Tickets []struct {
				ID         json.Number
				ContractID string
				CreatedAt  string
				Customer   struct{ Contracts []struct{ ID any } }
				Intents    []struct{ ContractID string }
			}
		}
		d := json.NewDecoder(strings.NewReader(string(body)))
		d.UseNumber()
		if err := d.Decode(&h); err != nil {
			t.Fatalf("history(%q) is not JSON: %v", tt.id, err)
		}
		if len(h.Tickets) != 5 {
			t.Fatalf("history(%q) has %d tickets, want 5", tt.id, len(h.Tickets))
		}
		seen := map[json.Number]bool{}
		for i, tk := range h.Tickets {
			if seen[tk.ID] {
				t.Errorf("history(%q) repeats ticket id %s", tt.id, tk.ID)
			}
			seen[tk.ID] = true
			if tk.ContractID != tt.id || tk.Intents[0].ContractID != tt.id || tk.Customer.Contracts[0].ID != tt.customerCID {
				t.Errorf("history(%q) ticket %d: contract ids %q, %q, %v", tt.id, i, tk.ContractID, tk.Intents[0].ContractID, tk.Customer.Contracts[0].ID)
			}
			if i > 0 && tk.CreatedAt <= h.Tickets[i-1].CreatedAt {
				t.Errorf("history(%q): ticket %d created %s, not after %s", tt.id, i, tk.CreatedAt, h.Tickets[i-1].CreatedAt)
			}
		}
		if n := len(body); n < 30000 || n > 40000 {
			t.Errorf("history(%q) is %d bytes, want about 34 KB", tt.id, n)
		}
	}
}

func TestRoutesCountCalls(t *testing.T) {
	srv := httptest.NewServer(newTestStub(t, 1).routes())
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/contract/100001/history"); code != 200 {
		t.Errorf("GET history = %d, want 200", code)
	}
	if code, _ := get("/contract/bad%20id/history"); code != 400 {
		t.Errorf("GET history of a bad id = %d, want 400", code)
	}
	if _, body := get("/stats"); strings.TrimSpace(body) != `{"calls":2}` {
		t.Errorf("GET /stats = %s, want 2 calls", body)
	}
}

func TestDemoMode(t *testing.T) {
	s := newTestStub(t, 1)
	s.demo = demo.NewHandler()
	srv := httptest.NewServer(s.routes())
	defer srv.Close()
	for _, id := range []string{"100001", "C-1001"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/contract/"+id+"/history", nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want, _ := demo.History(id)
		if resp.StatusCode != 200 || string(got) != string(want) {
			t.Errorf("GET history of %s = %d with %d bytes, want 200 with the demo's %d bytes", id, resp.StatusCode, len(got), len(want))
		}
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(b)) != `{"calls":2}` {
		t.Errorf("GET /stats = %s, want 2 calls", b)
	}
}

func TestHistoryKeepsTheExamplesTextWithoutCanary(t *testing.T) {
	s := newTestStub(t, 2)
	var h struct {
		Tickets []struct {
			Subject string
			Tags    []struct{ Name, FullName string }
		}
	}
	if err := json.Unmarshal(s.history("100001", ""), &h); err != nil {
		t.Fatal(err)
	}
	for i, tk := range h.Tickets {
		if tk.Subject != "I want to relocate and send you a meter reading" || tk.Tags[0].Name != "Complaint" || tk.Tags[0].FullName != "Second Level: Complaint" {
			t.Errorf("ticket %d: subject %q, tag %q (%q), want the example's", i, tk.Subject, tk.Tags[0].Name, tk.Tags[0].FullName)
		}
	}
}

// post sends body to path and returns the status and the answer.
func post(t *testing.T, srv *httptest.Server, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getHistory GETs id's history with token (none when empty).
func getHistory(t *testing.T, srv *httptest.Server, id, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/contract/"+id+"/history", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestCanaryMarksTokenAndVersion(t *testing.T) {
	s := newTestStub(t, 3)
	s.canary = true
	srv := httptest.NewServer(s.routes())
	defer srv.Close()

	if code, _ := getHistory(t, srv, "100001", ""); code != http.StatusUnauthorized {
		t.Errorf("GET history without a token = %d, want 401", code)
	}
	check := func(id, token string, version int64) {
		t.Helper()
		code, body := getHistory(t, srv, id, token)
		if code != 200 {
			t.Fatalf("GET history of %s = %d", id, code)
		}
		want := canary.Mark{Tag: canary.Tag(token), Contract: id, Version: version}
		marks := canary.Find(body)
		if len(marks) != 6 { // subject and first tag of 3 tickets
			t.Errorf("history of %s for %s has %d marks, want 6: %v", id, token, len(marks), marks)
		}
		for _, m := range marks {
			if m != want {
				t.Errorf("history of %s for %s has mark %v, want %v", id, token, m, want)
			}
		}
		var h struct{ Tickets []any }
		if err := json.Unmarshal(body, &h); err != nil || len(h.Tickets) != 3 {
			t.Errorf("history of %s is not JSON with 3 tickets: %v", id, err)
		}
	}
	check("100001", "alpha", 1)
	check("100001", "bravo", 1)
	if code, body := post(t, srv, "/bump?id=100001", ""); code != 200 || strings.TrimSpace(body) != `{"id":"100001","version":2}` {
		t.Errorf("POST /bump = %d %s, want version 2", code, body)
	}
	if code, _ := post(t, srv, "/bump?id=bad%20id", ""); code != 400 {
		t.Errorf("POST /bump of a bad id = %d, want 400", code)
	}
	check("100001", "alpha", 2)
	check("C-1001", "bravo", 1)
}

func TestFaults(t *testing.T) {
	s := newTestStub(t, 1)
	srv := httptest.NewServer(s.routes())
	defer srv.Close()

	if code, body := post(t, srv, "/fault", `{"mode":"503"}`); code != 200 || !strings.Contains(body, `"mode":"503"`) {
		t.Errorf("POST /fault 503 = %d %s", code, body)
	}
	if code, _ := getHistory(t, srv, "100001", "x"); code != http.StatusServiceUnavailable {
		t.Errorf("GET history in mode 503 = %d, want 503", code)
	}
	if code, body := post(t, srv, "/fault", `{"mode":"slow","delay":"50ms"}`); code != 200 || !strings.Contains(body, `"refused":1`) {
		t.Errorf("POST /fault slow = %d %s, want 200 and one refused call", code, body)
	}
	start := time.Now()
	if code, _ := getHistory(t, srv, "100001", "x"); code != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("GET history in mode slow = %d after %s, want 200 after 50ms", code, time.Since(start))
	}
	for _, bad := range []string{`{"mode":"down"}`, `{"mode":"slow","delay":"soon"}`, `nonsense`} {
		if code, _ := post(t, srv, "/fault", bad); code != 400 {
			t.Errorf("POST /fault %s = %d, want 400", bad, code)
		}
	}
	post(t, srv, "/fault", `{"mode":"ok"}`)
	if code, _ := getHistory(t, srv, "100001", "x"); code != 200 {
		t.Errorf("GET history in mode ok = %d, want 200", code)
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(body)) != `{"calls":3}` {
		t.Errorf("GET /stats = %s, want 3 calls, the refused one included", body)
	}
}
