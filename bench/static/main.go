// Command static is the load benchmark's limit: a Go HTTP server that answers each benchmark
// query with bytes saved from the facade's own answer, doing no GraphQL work at all. -dir holds
// pairs NAME.request.json (a request body, matched exactly) and NAME.response.json (the bytes
// to answer it with).
//
//	go -C bench run ./static -addr 127.0.0.1:9102 -dir /tmp/bench/static
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9102", "listen address (loopback)")
	dir := flag.String("dir", ".", "folder of NAME.request.json and NAME.response.json pairs")
	flag.Parse()
	answers, err := load(*dir)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("static on http://%s: %d answers\n", ln.Addr(), len(answers))
	srv := &http.Server{Handler: handler(answers), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Fatal(srv.Serve(ln))
}

// load reads the pairs of dir into a map from request body to response bytes.
func load(dir string) (map[string][]byte, error) {
	reqs, err := filepath.Glob(filepath.Join(dir, "*.request.json"))
	if err != nil || len(reqs) == 0 {
		return nil, fmt.Errorf("no *.request.json in %s", dir)
	}
	answers := map[string][]byte{}
	for _, req := range reqs {
		body, err := os.ReadFile(req)
		if err != nil {
			return nil, err
		}
		resp, err := os.ReadFile(strings.TrimSuffix(req, ".request.json") + ".response.json")
		if err != nil {
			return nil, err
		}
		answers[string(bytes.TrimSpace(body))] = resp
	}
	return answers, nil
}

// handler answers POST /graphql with the saved bytes of its body's query.
func handler(answers map[string][]byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		resp, ok := answers[string(bytes.TrimSpace(body))]
		if err != nil || !ok {
			http.Error(w, `{"errors":[{"message":"not a benchmark query"}]}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	})
	return mux
}
