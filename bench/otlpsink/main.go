// Command otlpsink is the load benchmark's stand-in for an OpenTelemetry collector: it accepts
// OTLP/HTTP trace exports (POST /v1/traces) and drops them, answering as a collector does, so
// that the facade's exporter does all its work (batching, encoding, sending) and nothing waits
// on a real backend. It counts the exports and their bytes and reports them at GET /stats, so the
// benchmark can tell that spans were sent.
//
//	go -C bench run ./otlpsink -addr 127.0.0.1:9106
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9106", "listen address (loopback)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("OTLP sink on http://%s/v1/traces\n", ln.Addr())
	srv := &http.Server{Handler: (&sink{}).routes(), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// sink counts what it is sent.
type sink struct{ exports, bytes atomic.Int64 }

func (s *sink) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.exports.Add(1)
		s.bytes.Add(n)
		// An empty ExportTraceServiceResponse: nothing rejected.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{"exports": s.exports.Load(), "bytes": s.bytes.Load()})
	})
	return mux
}
