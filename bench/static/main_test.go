package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "q1.request.json"), []byte(`{"query":"{ a }"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "q1.response.json"), []byte(`{"data":{"a":1}}`), 0o644)
	answers, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := handler(answers)
	for _, tt := range []struct {
		body, want string
		code       int
	}{
		{`{"query":"{ a }"}`, `{"data":{"a":1}}`, 200},
		{`{"query":"{ b }"}`, `not a benchmark query`, 400},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tt.body)))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("POST %s = %d %s, want %d %s", tt.body, rec.Code, rec.Body, tt.code, tt.want)
		}
	}
}
