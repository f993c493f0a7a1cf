package main

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"time"
)

// logSummary is what one replica logged besides its per-request lines: each message at warn
// or above (and the invalidation feed's notes, at info), how often, first and last.
type logSummary struct {
	replica  string
	messages []logMessage
	requests map[string]requestLine // the request lines of the queries asked about, by request id
}

type logMessage struct {
	level, msg  string
	count       int
	first, last time.Duration // from the soak's start
	example     string        // the first such line, as logged
}

// requestLine is what a replica's access log said of one request.
type requestLine struct {
	replica string
	at      time.Duration
	line    string
}

// noted are the info messages the summary keeps besides warnings and errors: they say when a
// replica's Redis, its invalidation feed or its upstream came back, and when it was stopped.
var noted = []string{"redis cache recovered", "invalidations heard again", "upstream circuit breaker closed", "shutting down"}

// readLog summarises the log of replica r, and picks out the request lines of the ids wanted.
func readLog(r replica, start time.Time, wanted map[string]bool) (logSummary, error) {
	s := logSummary{replica: r.name, requests: map[string]requestLine{}}
	f, err := os.Open(r.logFile)
	if err != nil {
		return s, err
	}
	defer f.Close()
	byKey := map[string]*logMessage{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var l struct {
			Time      time.Time
			Level     string
			Msg       string
			RequestID string
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue // the startup banner, or a partial line
		}
		at := l.Time.Sub(start)
		if l.Msg == "request" {
			if wanted[l.RequestID] {
				s.requests[l.RequestID] = requestLine{r.name, at, line}
			}
			continue
		}
		if l.Level != "WARN" && l.Level != "ERROR" && !slices.ContainsFunc(noted, func(n string) bool { return strings.HasPrefix(l.Msg, n) }) {
			continue
		}
		key := l.Level + "\x00" + l.Msg
		m := byKey[key]
		if m == nil {
			m = &logMessage{level: l.Level, msg: l.Msg, first: at, example: line}
			byKey[key] = m
			order = append(order, key)
		}
		m.count++
		m.last = at
	}
	for _, k := range order {
		s.messages = append(s.messages, *byKey[k])
	}
	return s, sc.Err()
}

// readBalancerLog picks out HAProxy's log lines (option httplog, with the X-Request-Id captured
// as {id}) of the request ids wanted.
func readBalancerLog(path string, wanted map[string]bool) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		j := strings.IndexByte(line, '}')
		if i >= 0 && j > i && wanted[line[i+1:j]] {
			out[line[i+1:j]] = line
		}
	}
	return out, sc.Err()
}
