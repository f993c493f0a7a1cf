package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

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

// TestRateLimitSharedByReplicas: two server processes on one Redis pay from one budget per
// credential: what alice spends on one, the other refuses her, with 429 and Retry-After, while
// bob is served; /readyz says the buckets are shared.
func TestRateLimitSharedByReplicas(t *testing.T) {
	env := map[string]string{
		"REDIS_URL": redistest.Start(t), "CACHE_PREFIX": redistest.Prefix(t), "CACHE_KEY_SECRET": "shared-secret",
		"MAX_COST": "100", "RATE_LIMIT_BURST": "160", "RATE_LIMIT_PER_SECOND": "1",
	}
	a, b := startProcess(t, env), startProcess(t, env)
	// Each costs 52 (1 contract, 1 history, 50 tickets); 160 points pay for three.
	query := []byte(`{"query":"{ contract(id: \"100001\") { history { tickets { id } } } }"}`)
	for i, p := range []*serverProcess{a, b, a} {
		if status, out := post(t, p.base, "alice", query); status != http.StatusOK || out["errors"] != nil {
			t.Fatalf("alice's query %d: %d %v", i+1, status, out)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/graphql", bytes.NewReader(query))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if codes := codesOf(out); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || len(codes) != 1 || codes[0] != "RATE_LIMITED" {
		t.Errorf("alice's fourth query, on the other replica: %d Retry-After %q %v, want 429 RATE_LIMITED", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	}
	if status, out := post(t, b.base, "bob", query); status != http.StatusOK || out["errors"] != nil {
		t.Errorf("bob while alice is limited: %d %v", status, out)
	}
	for _, p := range []*serverProcess{a, b} {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var ready map[string]string
		json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if ready["rateLimit"] != "shared" {
			t.Errorf("/readyz = %v, want rateLimit shared", ready)
		}
	}
}

// TestRateLimitFallsBackWhenRedisHangs: with Redis hung, queries are still served and still
// paid for, from a bucket in the process, and /readyz says so.
func TestRateLimitFallsBackWhenRedisHangs(t *testing.T) {
	base, _ := startTestServer(t, map[string]string{
		"REDIS_URL": redistest.Blackhole(t), "MAX_COST": "100", "RATE_LIMIT_BURST": "160", "RATE_LIMIT_PER_SECOND": "1",
	})
	query := []byte(`{"query":"{ contract(id: \"100001\") { history { tickets { id } } } }"}`)
	for i := range 3 {
		if status, out := post(t, base, "alice", query); status != http.StatusOK || out["errors"] != nil {
			t.Fatalf("alice's query %d with Redis hung: %d %v", i+1, status, out)
		}
	}
	if status, out := post(t, base, "alice", query); status != http.StatusTooManyRequests {
		t.Errorf("alice's fourth query: %d %v, want 429 from the bucket in process", status, out)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ready["rateLimit"] != "degraded" || ready["cache"] != "degraded" {
		t.Errorf("/readyz = %d %v, want ready, with the rate limit and the cache degraded", resp.StatusCode, ready)
	}
}

func TestWebhookInvalidatesEveryScope(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{} // "token contract" -> upstream calls
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, "/contract/"); ok { // not /readyz's ping
			mu.Lock()
			calls[r.Header.Get("Authorization")+" "+strings.TrimSuffix(id, "/history")]++
			mu.Unlock()
		}
		w.Write([]byte(`{"tickets":[{"id":1,"subject":"s"}]}`))
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{
		"UPSTREAM_URL": up.URL, "REDIS_URL": redistest.Start(t), "CACHE_PREFIX": redistest.Prefix(t),
		"WEBHOOK_SECRET": "hook-secret", "CACHE_KEY_SECRET": "scope-secret",
	})
	query := func(token, id string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ contract(id: \"`+id+`\") { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	queryAll := func() {
		for _, token := range []string{"alice", "bob"} {
			for _, id := range []string{"X", "Y"} {
				query(token, id)
			}
		}
	}
	count := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range calls {
			out[k] = v
		}
		return out
	}
	hook := func(secret, body string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/enneo", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	queryAll()
	queryAll() // all cached now
	want := map[string]int{"Bearer alice X": 1, "Bearer alice Y": 1, "Bearer bob X": 1, "Bearer bob Y": 1}
	if got := count(); !equalCounts(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	const event = `{"event":"TicketUpdated","contractId":"X","ticketId":123}`
	if status := hook("wrong", event); status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", status)
	}
	if status := hook("hook-secret", `{"event":"TicketUpdated","contractId":"../x"}`); status != http.StatusBadRequest {
		t.Errorf("bad contract id: %d, want 400", status)
	}
	queryAll()
	if got := count(); !equalCounts(got, want) {
		t.Fatalf("after refused webhooks calls = %v, want %v", got, want)
	}
	if status := hook("hook-secret", event); status != http.StatusOK {
		t.Fatalf("webhook: %d, want 200", status)
	}
	queryAll()
	want["Bearer alice X"], want["Bearer bob X"] = 2, 2
	if got := count(); !equalCounts(got, want) {
		t.Errorf("after the webhook calls = %v, want %v", got, want)
	}
	// A number works as contractId too, as older Enneo docs send it.
	if status := hook("hook-secret", `{"event":"TicketCreated","contractId":746839}`); status != http.StatusOK {
		t.Errorf("numeric contractId: %d, want 200", status)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWebhookAsksForARetryWhenRedisIsDown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"tickets":[]}`))
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{
		"UPSTREAM_URL": up.URL, "REDIS_URL": redistest.Blackhole(t), "WEBHOOK_SECRET": "hook-secret",
	})
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/enneo", strings.NewReader(`{"event":"TicketUpdated","contractId":"X"}`))
	req.Header.Set("Authorization", "Bearer hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("webhook with Redis hung: %d, want 503 so that Enneo retries", resp.StatusCode)
	}
}

// TestReplicaStartedLaterAnswersFromItsResponseCache: a replica started after another stored a
// history answers a repeated query from its response cache. Dating the history from its fetch,
// before the new replica's invalidation feed began, made every answer built on the store out of
// date at once: each repeat was executed again (bench/run's warm q3 fell from about 12,000
// req/s to 900).
func TestReplicaStartedLaterAnswersFromItsResponseCache(t *testing.T) {
	url, calls := countingDemo(t)
	redisURL, prefix := redistest.Start(t), redistest.Prefix(t)
	env := map[string]string{"UPSTREAM_URL": url, "REDIS_URL": redisURL, "CACHE_PREFIX": prefix, "CACHE_KEY_SECRET": "shared-secret"}
	query := []byte(`{"query":"{ contract(id: \"746839\") { history { tickets { id subject } } } }"}`)
	first, _ := startTestServer(t, env)
	if status, _ := post(t, first, "token", query); status != http.StatusOK {
		t.Fatalf("first replica: %d", status)
	}
	// The first replica writes the history behind its answer: wait until it is in Redis.
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	sum := sha256.Sum256([]byte("746839"))
	key := prefix + "c:{" + hex.EncodeToString(sum[:16]) + "}"
	for deadline := time.Now().Add(10 * time.Second); rdb.Exists(t.Context(), key).Val() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the history is not in Redis 10 s after the first replica answered")
		}
	}
	later, _ := startTestServer(t, env)
	// Until it hears invalidations the later replica keeps nothing in memory: wait for its
	// subscription beside the first's.
	for deadline := time.Now().Add(10 * time.Second); rdb.PubSubNumSub(t.Context(), prefix+"invalidate").Val()[prefix+"invalidate"] != 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the later replica does not listen for invalidations within 10 s")
		}
	}
	before := calls.Load() // the replicas' checks of the upstream at start, and the first's query
	for range 3 {
		if status, _ := post(t, later, "token", query); status != http.StatusOK {
			t.Fatalf("later replica: %d", status)
		}
	}
	got := scrape(t, later+"/metrics")
	for sample, want := range map[string]string{
		`facade_cache_lookups_total{layer="store",result="hit"}`:     "1",
		`facade_cache_lookups_total{layer="response",result="miss"}`: "1",
		`facade_cache_lookups_total{layer="response",result="hit"}`:  "2",
	} {
		if got[sample] != want {
			t.Errorf("later replica: %s = %q, want %s", sample, got[sample], want)
		}
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("later replica: %d upstream calls, want 0", n)
	}
}

// TestSubscribersOnEveryReplicaHearTheWebhook: a graphql-ws subscriber on replica a and a
// graphql-sse subscriber on replica b, of one contract, on one Redis, each get one event with
// the new ticket after Enneo's webhook reaches b; the change is read once per replica for the
// subscribers' scope, and a subscriber with another token gets only what its token reads.
func TestSubscribersOnEveryReplicaHearTheWebhook(t *testing.T) {
	var tickets atomic.Int64
	tickets.Store(1)
	var mu sync.Mutex
	reads := map[string]int{} // "token" -> history reads of X
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/contract/X/history" {
			w.Write([]byte(`{"tickets":[]}`))
			return
		}
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		reads[token]++
		mu.Unlock()
		var list []string
		for i := range tickets.Load() {
			list = append(list, fmt.Sprintf(`{"id":%d,"contractId":"X","subject":"%s's ticket %d"}`, i+1, token, i+1))
		}
		w.Write([]byte(`{"tickets":[` + strings.Join(list, ",") + `]}`))
	}))
	defer up.Close()
	env := map[string]string{
		"UPSTREAM_URL": up.URL, "REDIS_URL": redistest.Start(t), "CACHE_PREFIX": redistest.Prefix(t),
		"CACHE_KEY_SECRET": "shared-secret", "WEBHOOK_SECRET": "hook-secret",
	}
	a, _ := startTestServer(t, env)
	b, _ := startTestServer(t, env)
	subscribe := func(base, token string) <-chan string {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/graphql",
			strings.NewReader(`{"query":"subscription { contractChanged(ids: [\"X\"]) { id history { tickets { subject } } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("subscribe: %d", resp.StatusCode)
		}
		events := make(chan string, 8)
		go func() {
			defer resp.Body.Close()
			lines := bufio.NewScanner(resp.Body)
			for lines.Scan() {
				if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok && data != "" {
					events <- data
				}
			}
		}()
		return events
	}
	// graphql-ws: the token in connection_init.
	overWS := func(base, token string) <-chan string {
		c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		for _, m := range []string{
			`{"type":"connection_init","payload":{"Authorization":"Bearer ` + token + `"}}`,
			`{"id":"1","type":"subscribe","payload":{"query":"subscription { contractChanged(ids: [\"X\"]) { id history { tickets { subject } } } }"}}`,
		} {
			if err := c.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		events := make(chan string, 8)
		go func() {
			for {
				_, b, err := c.Read(t.Context())
				if err != nil {
					return
				}
				if m := string(b); strings.Contains(m, `"type":"next"`) {
					events <- m
				}
			}
		}()
		return events
	}
	onA, onB, other := overWS(a, "alice"), subscribe(b, "alice"), subscribe(a, "bob")
	for base, want := range map[string]string{a: "2", b: "1"} {
		for deadline := time.Now().Add(10 * time.Second); scrape(t, base+"/metrics")["facade_subscriptions"] != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %s subscriptions, want %s", base, scrape(t, base+"/metrics")["facade_subscriptions"], want)
			}
		}
	}

	tickets.Store(2)
	req, _ := http.NewRequest(http.MethodPost, b+"/webhooks/enneo", strings.NewReader(`{"event":"TicketCreated","contractId":"X","ticketId":2}`))
	req.Header.Set("Authorization", "Bearer hook-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	for name, events := range map[string]<-chan string{"alice on a": onA, "alice on b": onB, "bob on a": other} {
		owner := strings.Fields(name)[0]
		select {
		case e := <-events:
			if !strings.Contains(e, owner+"'s ticket 2") || strings.Contains(e, map[string]string{"alice": "bob", "bob": "alice"}[owner]) {
				t.Errorf("%s: %s, want %s's new ticket only", name, e, owner)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no event within 10 s of the webhook", name)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Each replica that holds alice's subscribers reads the change at most once for her scope
	// (the later may find the earlier's read in Redis already); only a reads it for bob's.
	if reads["alice"] < 1 || reads["alice"] > 2 || reads["bob"] != 1 {
		t.Errorf("reads of X after the webhook: %v, want alice 1 or 2 (at most one per replica), bob 1", reads)
	}
}

// TestPollingFindsAChangeWithoutAWebhook: with SUBSCRIPTION_POLL_INTERVAL, a change Enneo
// announced nowhere reaches the subscriber: the poll finds the upstream's history other than the
// one the cache holds, and invalidates it.
func TestPollingFindsAChangeWithoutAWebhook(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"tickets":[{"id":1,"contractId":"X","subject":"v%d"}]}`, version.Load())
	}))
	defer up.Close()
	base, _ := startTestServer(t, map[string]string{"UPSTREAM_URL": up.URL, "SUBSCRIPTION_POLL_INTERVAL": "20ms"})
	// The desk shows the contract, then subscribes to its changes.
	if status, out := post(t, base, "alice", []byte(`{"query":"{ contract(id: \"X\") { history { tickets { subject } } } }"}`)); status != http.StatusOK || out["data"] == nil {
		t.Fatalf("the query: %d %v", status, out)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/graphql",
		strings.NewReader(`{"query":"subscription { contractChanged(ids: [\"X\"]) { history { tickets { subject } } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for deadline := time.Now().Add(10 * time.Second); scrape(t, base+"/metrics")["facade_subscriptions"] != "1"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not subscribed within 10 s")
		}
	}
	version.Store(2)
	got := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(resp.Body)
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok && data != "" {
				got <- data
				return
			}
		}
	}()
	select {
	case e := <-got:
		if !strings.Contains(e, `"subject":"v2"`) {
			t.Errorf("event %s, want v2", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s of the change")
	}
}
