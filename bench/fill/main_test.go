package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBatches(t *testing.T) {
	bs := batches(100001, 250, 100)
	if len(bs) != 3 || len(bs[0]) != 100 || len(bs[2]) != 50 || bs[0][0] != "100001" || bs[2][49] != "100250" {
		t.Errorf("batches(100001, 250, 100) = %d batches, want 100, 100 and 50 ids from 100001 to 100250", len(bs))
	}
}

func TestCheckAnswer(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		ok     bool
	}{
		{200, `{"data":{"contracts":[{"id":"1"},{"id":"2"}]}}`, true},
		{200, `{"data":{"contracts":[{"id":"1"},null]},"errors":[{"message":"x"}]}`, false},
		{200, `{"data":{"contracts":[{"id":"1"},null]}}`, false},
		{200, `{"data":{"contracts":[{"id":"1"}]}}`, false},
		{429, `{"errors":[{"message":"slow down"}]}`, false},
		{502, `<html>`, false},
	} {
		if err := checkAnswer(tt.status, []byte(tt.body), 2); (err == nil) != tt.ok {
			t.Errorf("checkAnswer(%d, %s) = %v, want ok %v", tt.status, tt.body, err, tt.ok)
		}
	}
}

func TestFillAsksForEveryBatchAndStopsAtAFailure(t *testing.T) {
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		w.Write([]byte(`{"data":{"contracts":[{"id":"a"},{"id":"b"}]}}`))
	}))
	defer srv.Close()
	f := &filler{url: srv.URL, token: "tok", http: srv.Client()}
	n, err := f.fill(context.Background(), batches(1, 10, 2), 3)
	if err != nil || n != 5 || asked.Load() != 5 {
		t.Errorf("fill = %d, %v after %d requests; want 5 batches, 5 requests", n, err, asked.Load())
	}
	f.token = "wrong"
	if _, err := f.fill(context.Background(), batches(1, 10, 2), 1); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("fill with a refused token = %v, want a 401 error", err)
	}
}
