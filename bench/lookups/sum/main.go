// Command sum prints the cache lookups of facades, summed over them, as "layer_result=N" words:
// what bench/fleet reads before and after each run.
//
//	sum http://127.0.0.1:19501 http://127.0.0.1:19502
package main

import (
	"fmt"
	"log"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/enneo-facade/facade/bench/lookups"
)

func main() {
	log.SetFlags(0)
	hc := &http.Client{Timeout: 5 * time.Second}
	total := map[string]float64{}
	for _, base := range os.Args[1:] {
		resp, err := hc.Get(base + "/metrics")
		if err != nil {
			log.Fatal(err)
		}
		n, err := lookups.Parse(resp.Body)
		resp.Body.Close()
		if err != nil {
			log.Fatalf("%s/metrics: %v", base, err)
		}
		for k, v := range n {
			total[k] += v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(total)) {
		fmt.Printf("%s=%.0f ", k, total[k])
	}
	fmt.Println()
}
