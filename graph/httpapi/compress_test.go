package httpapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// answering serves body as JSON with an ETag, as the GraphQL layer answers a GET.
func answering(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `W/"tag"`)
		io.WriteString(w, body)
	})
}

// fetch asks h for /graphql with Accept-Encoding ae (none if empty), over real HTTP and a
// client that does not decode, and returns the answer with its body decoded.
func fetch(t *testing.T, srv *httptest.Server, ae string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/graphql", nil)
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, decode(t, resp.Header.Get("Content-Encoding"), raw)
}

func decode(t *testing.T, encoding string, raw []byte) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(raw)
	switch encoding {
	case "":
		return string(raw)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("Content-Encoding %q", encoding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", encoding, err)
	}
	return string(out)
}

// TestCompression: answers of COMPRESS_MIN_BYTES or more go out in the encoding the client
// prefers, smaller ones and clients that accept none as they are; every answer varies by
// Accept-Encoding, and an encoded one's ETag names its encoding.
func TestCompression(t *testing.T) {
	big := `{"data":{"tickets":[` + strings.Repeat(`{"id":"1","subject":"Zählerstand"},`, 200) + `{}]}}`
	small := `{"data":{"contract":{"id":"746839"}}}`
	for _, tt := range []struct {
		name, body, acceptEncoding string
		minBytes                   int
		wantEncoding, wantETag     string
	}{
		{"gzip", big, "gzip", 1024, "gzip", `W/"tag-gzip"`},
		// @whatwg-node/node-fetch 0.9's header, which it sends on Node 20 without a zstd decoder.
		{"gzip before zstd", big, "gzip, deflate, br, zstd", 1024, "gzip", `W/"tag-gzip"`},
		{"zstd alone", big, "zstd", 1024, "zstd", `W/"tag-zstd"`},
		{"zstd by weight", big, "gzip;q=0.5, zstd;q=1", 1024, "zstd", `W/"tag-zstd"`},
		{"none accepted", big, "", 1024, "", `W/"tag"`},
		{"identity only", big, "identity", 1024, "", `W/"tag"`},
		{"small", small, "gzip", 1024, "", `W/"tag"`},
		{"off", big, "gzip", 0, "", `W/"tag"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(newTestHandlerWith(t, Options{CompressMinBytes: tt.minBytes}, answering(tt.body)))
			defer srv.Close()
			resp, body := fetch(t, srv, tt.acceptEncoding)
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Errorf("Content-Encoding %q, want %q", got, tt.wantEncoding)
			}
			if body != tt.body {
				t.Errorf("decoded body differs from the answer: %.80s", body)
			}
			if got := resp.Header.Get("ETag"); got != tt.wantETag {
				t.Errorf("ETag %s, want %s", got, tt.wantETag)
			}
			if tt.minBytes > 0 && !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary %q: a cache could give an encoded answer to a client that cannot read it", resp.Header.Values("Vary"))
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
}

// TestCompressedStreamsFlushEachPart: a part of a compressed stream (@defer's multipart/mixed)
// reaches the client when it is written, not when the stream ends: the handler writes its second
// part only once the client has read the first. (The parts here are lines, for the reading.)
func TestCompressedStreamsFlushEachPart(t *testing.T) {
	read := make(chan struct{})
	waited := make(chan bool, 1) // whether the client read the first part before the second
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", `multipart/mixed; boundary="-"`)
		io.WriteString(w, "event: next\ndata: {\"data\":{\"first\":true}}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-read:
			waited <- true
		case <-time.After(10 * time.Second): // the first part is stuck: go on, and fail below
			waited <- false
		}
		io.WriteString(w, "event: next\ndata: {\"data\":{\"second\":true}}\n\nevent: complete\ndata:\n\n")
	})
	srv := httptest.NewServer(newTestHandlerWith(t, Options{CompressMinBytes: 1024}, stream))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/graphql", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(zr)
	var got []string
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "data: {") {
			got = append(got, line)
			if len(got) == 1 {
				close(read)
			}
		}
	}
	if !<-waited {
		t.Error("the first part reached the client only with the rest: not flushed")
	}
	if len(got) != 2 || !strings.Contains(got[1], "second") {
		t.Errorf("parts %q, want both", got)
	}
}

// TestEventStreamsAreNotCompressed: a subscription's event stream goes out as it is, whatever
// the client accepts: a compressor's state for each of thousands of open streams would cost more
// than it saves.
func TestEventStreamsAreNotCompressed(t *testing.T) {
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		io.WriteString(w, strings.Repeat(": keep-alive\n\n", 200))
	})
	srv := httptest.NewServer(newTestHandlerWith(t, Options{CompressMinBytes: 1024}, stream))
	defer srv.Close()
	resp, body := fetch(t, srv, "gzip, zstd")
	if got := resp.Header.Get("Content-Encoding"); got != "" || !strings.HasPrefix(body, ": keep-alive") {
		t.Errorf("Content-Encoding %q, body %.40q; want the stream as it is", got, body)
	}
}
