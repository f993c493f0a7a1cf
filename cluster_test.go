package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream/redisstore/redistest"
)

// TestReplicasShareARedisCluster: two facades on one Redis Cluster, through REDIS_URL's seed
// list, share what they fetch, their callers' budgets, the queries clients register, and
// invalidations.
func TestReplicasShareARedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	upstreamURL, calls := countingDemo(t)
	prefix := redistest.Prefix(t)
	env := map[string]string{
		"UPSTREAM_URL": upstreamURL, "REDIS_URL": cluster.URL, "CACHE_PREFIX": prefix,
		"CACHE_KEY_SECRET": "shared-secret", "WEBHOOK_SECRET": "hook-secret",
		"RATE_LIMIT_BURST": "200000", "RATE_LIMIT_PER_SECOND": "1",
		// Generous, for a loaded machine: these tests count hits, not how Redis copes when slow.
		"REDIS_TIMEOUT": "5s", "REDIS_DIAL_TIMEOUT": "5s",
	}
	a, _ := startTestServer(t, env)
	b, _ := startTestServer(t, env)

	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprint(200001 + i)
	}
	quoted, _ := json.Marshal(ids)
	list := []byte(`{"query":"{ contracts(ids: ` + strings.ReplaceAll(string(quoted), `"`, `\"`) + `) { id history { tickets { id subject } } } }"}`)
	type answer struct {
		Data       map[string]any `json:"data"`
		Errors     []any          `json:"errors"`
		Extensions struct {
			Cost struct {
				ThrottleStatus struct{ CurrentlyAvailable int64 } `json:"throttleStatus"`
			} `json:"cost"`
			Histories map[string]struct{ Cache string } `json:"histories"`
		} `json:"extensions"`
	}
	ask := func(base string, body []byte) answer {
		t.Helper()
		status, out := post(t, base, "cluster-token", body)
		raw, _ := json.Marshal(out)
		var ans answer
		json.Unmarshal(raw, &ans)
		if status != http.StatusOK || len(ans.Errors) > 0 {
			t.Fatalf("%d %.500s", status, raw)
		}
		return ans
	}
	caches := func(ans answer) map[string]int {
		n := map[string]int{}
		for _, h := range ans.Extensions.Histories {
			n[h.Cache]++
		}
		return n
	}

	base := calls.Load() // the replicas' own checks of the upstream at start
	first := ask(a, list)
	if got := calls.Load() - base; got != 30 {
		t.Fatalf("replica a's cold list: %d upstream calls, want 30", got)
	}
	// a writes its entries behind its answer: wait until all 30 are in the cluster.
	rdb := cluster.Client(t)
	masters := map[string]bool{}
	for _, id := range ids {
		sum := sha256.Sum256([]byte(id))
		key := prefix + "c:{" + hex.EncodeToString(sum[:16]) + "}"
		masters[cluster.MasterOf(t, key)] = true
		for deadline := time.Now().Add(10 * time.Second); rdb.Exists(t.Context(), key).Val() == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("contract %s's entry not in the cluster 10s after a answered", id)
			}
		}
	}
	if len(masters) != 3 {
		t.Errorf("the 30 contracts landed on %d masters, want all 3", len(masters))
	}

	// Invalidations go by sharded pub/sub: both replicas subscribe on the channel's shard.
	for deadline := time.Now().Add(10 * time.Second); rdb.PubSubShardNumSub(t.Context(), prefix+"invalidate").Val()[prefix+"invalidate"] != 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not two sharded subscribers on %sinvalidate within 10s", prefix)
		}
	}

	second := ask(b, list)
	if got := calls.Load() - base; got != 30 || caches(second)["hit"] != 30 {
		t.Errorf("replica b's list: %d upstream calls in all, caches %v; want 30 and 30 hits", got, caches(second))
	}
	// One budget per caller, shared: b's answer says what is left after a's take and its own.
	if a, b := first.Extensions.Cost.ThrottleStatus.CurrentlyAvailable, second.Extensions.Cost.ThrottleStatus.CurrentlyAvailable; b >= a {
		t.Errorf("budget left after a's query %d, after b's %d: b did not draw on the same bucket", a, b)
	}

	// A query registered with a (APQ) is known to b by its hash.
	query := `{ contract(id: \"200001\") { id } }`
	hash := sha256.Sum256([]byte(strings.ReplaceAll(query, `\"`, `"`)))
	ext := `"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(hash[:]) + `"}}`
	ask(a, []byte(`{"query":"`+query+`",`+ext+`}`))
	if ans := ask(b, []byte(`{`+ext+`}`)); ans.Data["contract"] == nil {
		t.Errorf("b did not know the query a registered: %v", ans)
	}

	// An invalidation through a reaches b's memory and the cluster.
	req, _ := http.NewRequest(http.MethodPost, a+"/webhooks/enneo", strings.NewReader(`{"contractId":"200005"}`))
	req.Header.Set("Authorization", "Bearer hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	third := ask(b, list)
	if got := calls.Load() - base; got != 31 || caches(third)["miss"] != 1 {
		t.Errorf("b's list after the invalidation: %d upstream calls in all, caches %v; want 31 and one miss", got, caches(third))
	}
}
