package graph

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/cache"
	"github.com/enneo-facade/facade/upstream/redisstore"
	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// TestHistoryStatsUpstreamCallsColdAndWarm: a 100-contract historyStats makes 100 upstream calls
// cold and none warm: not when repeated (the response cache may answer that), not with another
// filter (which only the histories' cache can answer), and not on another replica sharing the
// store. Over the in-process store and over a real Redis.
func TestHistoryStatsUpstreamCallsColdAndWarm(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		store := cache.NewMemoryStore(16 << 20)
		testStatsColdAndWarm(t, func(up *testUpstream) (*httptest.Server, *countingFetcher) {
			api, fetch, _ := newCachedAPIOver(t, up, store, cache.Options{})
			return api, fetch
		})
	})
	t.Run("redis", func(t *testing.T) {
		url, prefix := redistest.Start(t), redistest.Prefix(t)
		testStatsColdAndWarm(t, func(up *testUpstream) (*httptest.Server, *countingFetcher) {
			// A store client of its own: a replica shares Redis, not a connection pool.
			store, err := redisstore.New(redisstore.Options{URL: url, Prefix: prefix, IOTimeout: 5 * time.Second, DialTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			api, fetch, _ := newCachedAPIOver(t, up, store, cache.Options{})
			return api, fetch
		})
	})
}

// testStatsColdAndWarm runs the queries against two replicas that replica makes over one store.
func testStatsColdAndWarm(t *testing.T, replica func(up *testUpstream) (*httptest.Server, *countingFetcher)) {
	up := newStatsUpstream(t)
	first, firstFetch := replica(up)
	second, _ := replica(up)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%03d", i)
	}
	const q = `query($ids: [ID!]!, $filter: TicketFilter) { historyStats(contractIds: $ids, filter: $filter, now: ` + statsNow + `) {
		contracts failed totals { count open timeToClose { count medianSeconds p90Seconds } } rows { contractId } } }`
	type totals struct {
		Count, Open int
		TimeToClose durationStats
	}
	// ask sends the query with filter and checks the totals (every contract holds the fixture)
	// and how many upstream calls it made.
	ask := func(what string, api *httptest.Server, filter map[string]any, want totals, calls int) {
		t.Helper()
		before := up.total()
		resp := mustQuery(t, api, "token", q, map[string]any{"ids": ids, "filter": filter})
		var got struct {
			Contracts, Failed int
			Totals            totals
			Rows              []struct{ ContractID string }
		}
		mustDecode(t, resp.Data["historyStats"], &got)
		if len(resp.Errors) > 0 || got.Contracts != 100 || got.Failed != 0 || len(got.Rows) != 100 || got.Rows[99].ContractID != "c099" {
			t.Fatalf("%s: %.500s", what, resp.raw)
		}
		if !reflect.DeepEqual(got.Totals, want) {
			t.Errorf("%s: totals %+v, want %+v", what, got.Totals, want)
		}
		if n := up.total() - before; n != calls {
			t.Errorf("%s: %d upstream calls, want %d", what, n, calls)
		}
		if calls == 0 && strings.Count(resp.raw, `"cache":"miss"`) > 0 {
			t.Errorf("%s: histories missed the cache: %.500s", what, resp.raw)
		}
	}
	// 100 copies of the fixture: each of its durations 100 times, so the same ranks in hours.
	ask("cold", first, nil, totals{1400, 300, durationStats{1000, secs(28800), secs(198000)}}, 100)
	for _, id := range ids {
		if n := up.callsFor(id); n != 1 {
			t.Errorf("%d upstream calls for %s, want 1", n, id)
		}
	}
	firstFetch.flush() // the writes behind the cold answer, for the other replica
	ask("warm, the same query", first, nil, totals{1400, 300, durationStats{1000, secs(28800), secs(198000)}}, 0)
	ask("warm, another filter", first, map[string]any{"open": true}, totals{300, 300, durationStats{}}, 0)
	ask("warm, another replica", second, map[string]any{"channel": []string{"email"}},
		totals{600, 100, durationStats{500, secs(122400), secs(320400)}}, 0)
}
