package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		body := s.history(tt.id)
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
