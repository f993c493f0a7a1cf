package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enneo-facade/facade/bench/lookups"
	"github.com/prometheus/procfs"
)

// replica is one facade replica of the fleet.
type replica struct {
	name    string
	url     string // its own address, past the balancer
	pidFile string // written by bench/fleet's supervisor for each process it starts
	logFile string
}

func (r replica) pid() (int, error) {
	b, err := os.ReadFile(r.pidFile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// snapshot is the fleet's state at one moment.
type snapshot struct {
	at        time.Duration
	stubCalls int64
	replicas  []replicaState
}

// replicaState is one replica's process and counters.
type replicaState struct {
	pid     int
	rssKiB  int64              // 0: not read
	lookups map[string]float64 // facade_cache_lookups_total by "layer_result"; nil: not read
}

// sampler reads the fleet's state.
type sampler struct {
	c    *config
	http *http.Client
}

func (s *sampler) take(ctx context.Context, at time.Duration) snapshot {
	sn := snapshot{at: at, stubCalls: -1}
	var st struct{ Calls int64 }
	if err := s.getJSON(ctx, s.c.stub+"/stats", &st); err == nil {
		sn.stubCalls = st.Calls
	}
	for _, r := range s.c.replicas {
		var rs replicaState
		rs.pid, _ = r.pid()
		if rs.pid > 0 {
			rs.rssKiB = rssKiB(rs.pid)
		}
		if resp, err := s.get(ctx, r.url+"/metrics"); err == nil {
			rs.lookups, _ = lookups.Parse(resp)
			resp.Close()
		}
		sn.replicas = append(sn.replicas, rs)
	}
	return sn
}

func (s *sampler) get(ctx context.Context, url string) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return cancelCloser{resp.Body, cancel}, nil
}

type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelCloser) Close() error { defer c.cancel(); return c.ReadCloser.Close() }

func (s *sampler) getJSON(ctx context.Context, url string, v any) error {
	body, err := s.get(ctx, url)
	if err != nil {
		return err
	}
	defer body.Close()
	return json.NewDecoder(body).Decode(v)
}

// rssKiB reads VmRSS of pid from /proc, in KiB; 0 when it is gone.
func rssKiB(pid int) int64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return int64(st.VmRSS >> 10)
}

// lookupsBetween adds up the replicas' cache lookups from a to b. A replica whose process
// changed in between (restarted) counts from zero: what its old process did after a is lost.
// A replica not read at b counts nothing; one read at b but not at a counts from zero too.
func lookupsBetween(a, b snapshot) map[string]float64 {
	out := map[string]float64{}
	for i := range min(len(a.replicas), len(b.replicas)) {
		ra, rb := a.replicas[i], b.replicas[i]
		if rb.lookups == nil {
			continue
		}
		same := ra.pid == rb.pid && ra.lookups != nil
		for k, v := range rb.lookups {
			if same {
				v -= ra.lookups[k]
			}
			if v > 0 {
				out[k] += v
			}
		}
	}
	return out
}

// redisHitRatio is the share of lookups that reached Redis and found a fresh entry there.
func redisHitRatio(l map[string]float64) (float64, bool) {
	n := l["store_hit"] + l["store_miss"] + l["store_error"]
	if n == 0 {
		return 0, false
	}
	return l["store_hit"] / n, true
}

// sampleTimes are the moments the sampler takes a snapshot: every interval, and at each phase's
// start and the end, in order and without repeats.
func sampleTimes(p plan, interval time.Duration) []time.Duration {
	var out []time.Duration
	for t := time.Duration(0); t <= p.duration; t += interval {
		out = append(out, t)
	}
	for _, ph := range p.phases {
		out = append(out, ph.start)
	}
	out = append(out, p.duration)
	slices.Sort(out)
	return slices.Compact(out)
}
