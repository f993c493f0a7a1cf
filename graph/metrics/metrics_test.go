package metrics

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// documented reads the table of docs/metrics.md: each row's metric names (a name may end in *)
// and label names, which are the backquoted words of its second cell outside parentheses.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile("`([^`]+)`")
	parens := regexp.MustCompile(`\([^)]*\)`)
	rows := map[string][]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !strings.HasPrefix(line, "| `") || len(cells) < 3 {
			continue
		}
		labels := []string{}
		for _, m := range quoted.FindAllStringSubmatch(parens.ReplaceAllString(cells[1], ""), -1) {
			labels = append(labels, m[1])
		}
		for _, m := range quoted.FindAllStringSubmatch(cells[0], -1) {
			rows[m[1]] = labels
		}
	}
	return rows
}

// TestMetricsAreDocumented: every metric the facade serves, with Redis and once each method has
// counted something, is a row of docs/metrics.md with the same labels, and every row names
// metrics it serves.
func TestMetricsAreDocumented(t *testing.T) {
	m := New()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // its pool's statistics only: never dialled
	defer rdb.Close()
	m.RedisPool(rdb)
	m.Operation("ContractTickets", "ok", time.Millisecond)
	m.Refused("QUERY_TOO_DEEP")
	m.LoaderBatch(1)
	m.CacheLookup("hot", "hit")
	m.UpstreamCall(200, time.Millisecond)
	m.UpstreamRetry()
	m.BreakerChanged("closed", "open")
	m.RedisError("mget")
	m.HeavyOperations(func() int64 { return 1 }, func() int64 { return 2 })
	m.Subscriptions(func() (int, int) { return 3, 4 })
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	rows := documented(t)
	if len(rows) == 0 {
		t.Fatal("docs/metrics.md has no table of metrics")
	}
	used := map[string]bool{}
	for _, f := range families {
		row := ""
		for pattern := range rows {
			if ok, _ := path.Match(pattern, f.GetName()); ok {
				row = pattern
			}
		}
		if row == "" {
			t.Errorf("docs/metrics.md does not list %s", f.GetName())
			continue
		}
		used[row] = true
		if strings.HasSuffix(row, "*") {
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		if !slices.Equal(labels, rows[row]) {
			t.Errorf("%s has labels %v, docs/metrics.md lists %v", row, labels, rows[row])
		}
	}
	for row := range rows {
		if !used[row] {
			t.Errorf("docs/metrics.md lists %s, which is not served", row)
		}
	}
}
