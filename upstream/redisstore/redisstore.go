// Package redisstore is the cache's Store on Redis (or Redis Cluster), shared by the
// facade's replicas: the one package that speaks to Redis for the cache.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/sony/gobreaker/v2"

	"github.com/enneo-facade/facade/upstream/cache"
)

// ErrUnavailable is returned, without calling Redis, while a Store's breaker is open after
// repeated failures. Callers treat it like any store error (a miss, a skipped write); it
// exists so they can tell "skipped" from "tried and failed" in metrics.
var ErrUnavailable = errors.New("redis unavailable: breaker open")

// Options configures a Store. Zero values take the defaults noted beside each field.
//
// The URL chooses the server, credentials, database, TLS and pool size. Timeouts and retries
// always come from these options, even if the URL has dial_timeout and the like, because the
// store's promise that a hung Redis costs each call a fraction of a second rests on them.
type Options struct {
	// URL is redis://[user:password@]host[:port][/db] or rediss:// for TLS, in go-redis's
	// conventions: for Redis Cluster, the other seed nodes as addr=host:port query parameters
	// (ParseClusterURL), or cluster=true when one seed is enough; for Sentinel, the sentinels
	// as the host and addr= parameters with master_name=<name> (ParseFailoverURL).
	URL string
	// Prefix namespaces every key and the invalidation channel (default "efc:v1:"). Bump its
	// version when the value format changes incompatibly, so old replicas and new ones don't
	// read each other's entries.
	Prefix string
	// DialTimeout bounds connecting, including the handshake's dial (default 250ms).
	DialTimeout time.Duration
	// IOTimeout bounds each read and each write on a connection (default 150ms).
	IOTimeout time.Duration
	// Logger gets one warning when Redis becomes unusable and one note when it recovers, never
	// per call, and never values or scopes. Nil discards.
	Logger *slog.Logger
	// Observer is told of every failed call (nil: none).
	Observer Observer
}

// Observer is told of the store's failed calls, for metrics. It runs on the call's path: it
// must be cheap and safe for concurrent use.
type Observer interface {
	// RedisError is a Redis call of op that failed (not one its caller gave up on).
	RedisError(op string)
}

// config holds what production leaves at its defaults and tests change.
type config struct {
	failThreshold int           // consecutive failures that open the breaker (default 3)
	coolDown      time.Duration // how long an open breaker skips Redis (default 5s)
	maxScopes     int           // entries per contract hash before one is evicted (default 64)
	heartbeat     time.Duration // a silent subscription is pinged after it (default 1s)
	// dialer replaces go-redis's dialer; tests count dials with it. It must do TLS itself.
	dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (c *config) setDefaults() {
	if c.failThreshold <= 0 {
		c.failThreshold = 3
	}
	if c.coolDown <= 0 {
		c.coolDown = 5 * time.Second
	}
	if c.maxScopes <= 0 {
		c.maxScopes = 64
	}
	if c.heartbeat <= 0 {
		c.heartbeat = time.Second
	}
}

// Store is a cache.Store on Redis, shared by the facade's replicas.
//
// Layout: one hash per contract, key Prefix+"c:{"+digest(contractID)+"}", one field per
// credential scope holding that scope's encoded entry. A contract's entries of every scope are
// thus dropped with one DEL, and a batch of lookups is one pipeline of HGETs: one round trip on
// a single node; on Redis Cluster, where an MGET across slots would fail, go-redis splits the
// pipeline by node and sends the parts in parallel. The digest is the key's hash tag, so that
// whatever else is ever kept for a contract lands in the same slot as its entries.
//
// Redis trouble never fails or slows every query: each call is bounded by the timeouts, nothing
// is retried, and after a few consecutive failures a breaker skips Redis for a cool-down,
// returning ErrUnavailable at once, until one trial call finds it working again. (On a
// cluster, only while no node answers: see newBreaker.)
//
// It is safe for concurrent use.
type Store struct {
	rdb         redis.UniversalClient
	prefix      string
	channel     string
	callTimeout time.Duration // bounds one whole call: pool wait, dial, write, read
	dialTimeout time.Duration
	ioTimeout   time.Duration
	log         *slog.Logger
	obs         Observer
	life        context.Context // ends with Close, and so does Invalidations
	end         context.CancelFunc
	heartbeat   time.Duration // how long a subscription may be silent before it is pinged
	id          string        // this store among the listeners (see confirm.go)
	// sharded is set on a cluster, whose invalidations go by sharded pub/sub (SPUBLISH): a
	// PUBLISH would be relayed to every node of the cluster, an SPUBLISH only within the shard
	// that holds the channel, where every replica subscribes.
	sharded   bool
	br        *gobreaker.CircuitBreaker[struct{}]
	maxScopes int

	mu        sync.Mutex
	downSince time.Time // the first failure of the current run of failures; zero: none
}

var _ cache.Store = (*Store)(nil)

// New returns a Store for o. It does not connect, so the facade starts while
// Redis is down (it then runs degraded and recovers by itself); its error names what is wrong
// with the URL, and never repeats the URL, which may hold a password.
func New(o Options) (*Store, error) {
	return newStore(o, config{})
}

func newStore(o Options, c config) (*Store, error) {
	c.setDefaults()
	if o.Prefix == "" {
		o.Prefix = "efc:v1:"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 250 * time.Millisecond
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 150 * time.Millisecond
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rdb, err := newClient(o, c)
	if err != nil {
		return nil, err
	}
	callTimeout := o.DialTimeout + 2*o.IOTimeout
	var othersAnswer func() bool // nil: one node, whose failure is Redis's
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		w := watchCluster(cc)
		// Within a cool-down, not a call's time: with the hot layer answering most reads, the
		// store may make few calls, and three that meet a dead master in a row must not open
		// the breaker while the others answered a moment ago (the soak saw webhooks refused
		// for 14 s after a failover: breaker open, no call to learn the new slot map, a trial
		// that met the dead master again, open again).
		othersAnswer = func() bool { return w.answeredWithin(c.coolDown) }
	}
	life, end := context.WithCancel(context.Background())
	return &Store{
		rdb:         rdb,
		life:        life,
		end:         end,
		prefix:      o.Prefix,
		channel:     o.Prefix + "invalidate",
		callTimeout: callTimeout,
		dialTimeout: o.DialTimeout,
		ioTimeout:   o.IOTimeout,
		log:         log,
		obs:         o.Observer,
		heartbeat:   c.heartbeat,
		id:          newNonce(),
		sharded:     othersAnswer != nil, // a cluster
		br:          newBreaker(c, othersAnswer),
		maxScopes:   c.maxScopes,
	}, nil
}

// newBreaker opens after c.failThreshold consecutive failures and stays open for c.coolDown;
// then exactly one trial call goes through, whose success closes it and whose failure opens it
// for another cool-down. A call its caller gave up on counts neither way.
//
// On a cluster (othersAnswer not nil) it opens only while no node answers. A failed master
// fails every call that touches its slots, which is most batches, until its replica is promoted
// and the client has the new slot map; meanwhile the other masters answer at once. Opening
// then would keep the whole cluster away, and a call that finds it healthy again, for a
// cool-down after every trial that still meets the dead master.
func newBreaker(c config, othersAnswer func() bool) *gobreaker.CircuitBreaker[struct{}] {
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "redis",
		MaxRequests: 1,
		Timeout:     c.coolDown,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return n.ConsecutiveFailures >= uint32(c.failThreshold) && (othersAnswer == nil || !othersAnswer())
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errGaveUp) },
	})
}

// clusterWatch is a hook on each node of a cluster client. It notes when a node last answered
// (a reply, an error reply too), for the breaker, and has the client reload its slot map when
// a node could not be reached. go-redis reloads the map on MOVED and ASK, which a crashed master
// never sends, and otherwise only every ClusterStateReloadInterval: after a failover it kept
// sending the promoted replica's slots to the dead master until then, every call touching them
// failed, and hits fell to a few percent for most of a minute (issue 11).
type clusterWatch struct {
	answered atomic.Int64 // time.Now().UnixNano() of the latest answer of any node
	reload   func()
}

// watchCluster installs a clusterWatch on cc's nodes. cc must not have made any yet: go-redis
// tells OnNewNode of nodes it makes afterwards only, and makes them on the first command.
func watchCluster(cc *redis.ClusterClient) *clusterWatch {
	// ReloadState returns at once; go-redis reloads in the background, one reload at a time at
	// most every 200 ms, however many calls ask.
	w := &clusterWatch{reload: func() { cc.ReloadState(context.Background()) }}
	cc.OnNewNode(func(node *redis.Client) { node.AddHook(w) })
	return w
}

func (w *clusterWatch) answeredWithin(d time.Duration) bool {
	return time.Since(time.Unix(0, w.answered.Load())) < d
}

func (w *clusterWatch) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			// Also a subscription's: one that cannot reconnect to a dead master makes no call
			// that could fail, and would otherwise wait for the slot map's periodic reload. (A
			// connection made is no answer: a hung node accepts them.)
			w.reload()
		}
		return conn, err
	}
}

func (w *clusterWatch) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		w.saw(err)
		return err
	}
}

func (w *clusterWatch) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		w.saw(err)
		return err
	}
}

// saw notes the outcome of a command or pipeline on a node. (A reload's own CLUSTER SLOTS
// failing on a dead node asks for no further reload: go-redis drops what is asked while it
// reloads.)
func (w *clusterWatch) saw(err error) {
	var reply redis.Error // redis.Nil and error replies: the node is there
	switch {
	case err == nil || errors.As(err, &reply):
		w.answered.Store(time.Now().UnixNano())
	case !errors.Is(err, context.Canceled):
		w.reload()
	}
}

// errGaveUp marks a call cut short by its caller, which says nothing of Redis.
var errGaveUp = errors.New("caller gave up")

// newClient parses o.URL and applies the store's client settings: a single-node client, a
// cluster client when the URL names several seeds (addr=) or says cluster=true, or a Sentinel
// (failover) client when it names a master_name.
func newClient(o Options, c config) (redis.UniversalClient, error) {
	if strings.TrimSpace(o.URL) == "" {
		return nil, errors.New("redis URL is empty")
	}
	scheme, _, ok := strings.Cut(o.URL, "://")
	if scheme = strings.ToLower(scheme); !ok || (scheme != "redis" && scheme != "rediss") {
		// Checked before parsing: net/url's complaint about a bare host:port is cryptic.
		return nil, errors.New("redis URL must start with redis:// or rediss://")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, urlError(err)
	}
	q := u.Query()
	sentinel := q.Has("master_name")
	cluster := q.Has("addr") && !sentinel
	if q.Has("cluster") {
		v, err := strconv.ParseBool(q.Get("cluster"))
		if err != nil {
			return nil, fmt.Errorf("redis URL: cluster=%q is not true or false", q.Get("cluster"))
		}
		if v && sentinel {
			return nil, errors.New("redis URL: cluster=true and master_name name two topologies; pick one")
		}
		cluster = cluster || v
		q.Del("cluster") // ours, not go-redis's: it rejects parameters it does not know
		u.RawQuery = q.Encode()
	}

	// The policy (ApplyPolicy) is set on a Sentinel's or a cluster's options as on a node's:
	// their clients hand it on to the nodes they connect to.
	if sentinel {
		fo, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, urlError(err)
		}
		ApplyPolicy(fo, o.DialTimeout, o.IOTimeout) // (go-redis turns maintenance notifications off itself)
		if c.dialer != nil {
			fo.Dialer = c.dialer
		}
		return redis.NewFailoverClient(fo), nil
	}
	if cluster {
		co, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, urlError(err)
		}
		ApplyPolicy(co, o.DialTimeout, o.IOTimeout)
		// MaxRedirects also bounds how often a cluster client resends a command to a node it
		// could not reach, after a backoff from 10 ms doubling: the default 3 made every read
		// touching a dead master wait about 100 ms before it failed. One is enough for what a
		// redirect is for (MOVED names the slot's owner; ASK, once, its new one), and one resend
		// after a reload of the slot map may already reach the promoted replica.
		co.MaxRedirects = 1
		// The slot map is reloaded on errors too (see clusterWatch); a reload at most this old
		// also catches a failover that no failed call has told of.
		co.ClusterStateReloadInterval = 2 * time.Second
		if c.dialer != nil {
			co.Dialer = c.dialer
		}
		return redis.NewClusterClient(co), nil
	}
	ro, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, urlError(err)
	}
	ApplyPolicy(ro, o.DialTimeout, o.IOTimeout)
	if c.dialer != nil {
		ro.Dialer = c.dialer
	}
	return redis.NewClient(ro), nil
}

// ApplyPolicy sets o to the go-redis policy of every client of the facade's Redis: the
// store's (on one node, a cluster's nodes, a Sentinel's master), and those of tests that need
// a client set up like the facade's. dialTimeout bounds connecting and ioTimeout each read and
// each write. Each setting keeps a hung Redis cheap, or drops a round trip from the handshake:
//   - no command retries (MaxRetries -1) and a single dial attempt (go-redis otherwise dials 5
//     times with backoff): the breaker, not the client, decides when to try again, and a failed
//     cache read is cheaper than a slow one;
//   - ContextTimeoutEnabled: a caller's earlier deadline cuts a call short;
//   - PoolTimeout one dial and one I/O: waiting longer for a connection than a call may take is
//     pointless;
//   - DisableIdentity and disabled maintenance notifications: CLIENT SETINFO and CLIENT
//     MAINT_NOTIFICATIONS would add round trips to every new connection, for telemetry and for
//     Redis Enterprise's live upgrades, neither of which a cache needs.
//
// The address, credentials, database, TLS and pool size stay as o has them (from a URL). o is
// a *redis.Options, *redis.FailoverOptions or *redis.ClusterOptions: go-redis has an options
// type per topology, whose fields of these names mean the same, and the policy is set by name
// on whichever one a URL makes, so that it is written once.
func ApplyPolicy(o any, dialTimeout, ioTimeout time.Duration) {
	v := reflect.ValueOf(o).Elem()
	for name, value := range policy(dialTimeout, ioTimeout) {
		if f := v.FieldByName(name); f.IsValid() { // a Sentinel's options have no maintenance notifications
			f.Set(reflect.ValueOf(value))
		}
	}
}

// policy is ApplyPolicy's settings, by the name of their field.
func policy(dialTimeout, ioTimeout time.Duration) map[string]any {
	return map[string]any{
		"MaxRetries": -1, "DialerRetries": 1,
		"DialTimeout": dialTimeout, "ReadTimeout": ioTimeout, "WriteTimeout": ioTimeout,
		"ContextTimeoutEnabled": true, "PoolTimeout": dialTimeout + ioTimeout,
		"DisableIdentity":          true,
		"MaintNotificationsConfig": &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// urlError keeps what is wrong with a URL and drops the URL itself: net/url and go-redis quote
// the whole string, password included, in their errors.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("redis URL: %s", strings.TrimPrefix(err.Error(), "redis: "))
}

// The contract id enters the key only as a SHA-256 digest: it comes from the client, and no
// client input, however well validated, forms part of a key.
func (s *Store) hashKey(contractID string) string {
	sum := sha256.Sum256([]byte(contractID))
	return s.prefix + "c:{" + hex.EncodeToString(sum[:16]) + "}"
}

// GetMany returns the values of keys in order, nil where absent, in one pipeline of HGETs. On
// an error (Redis down, slow, or skipped by the breaker) it returns a slice of nils of the
// same length along with the error, so a caller can treat it as "all missing" without a
// special case.
func (s *Store) GetMany(ctx context.Context, keys []cache.EntryKey) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	err := s.call(ctx, "get", func(ctx context.Context) error {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HGet(ctx, s.hashKey(k.ContractID), k.Scope)
		}
		_, _ = pipe.Exec(ctx) // each command carries its own error; an absent field is redis.Nil
		var failed error
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			switch {
			case err == nil:
				out[i] = b
			case errors.Is(err, redis.Nil):
			case failed == nil:
				failed = err
			}
		}
		// On a cluster with a master down, what the other masters answered is still good:
		// returned with the error, it keeps their contracts hits until the replica takes over.
		return failed
	})
	return out, err
}

// setScript writes one entry atomically: HSET the scope's field, then extend the hash's expiry
// to the entry's TTL unless it already lasts longer.
//
// Why a script and not PEXPIRE ... GT: GT treats a key without expiry as living forever, so on
// a hash that HSET has just created it would never set one; NX then GT would need Redis 7 and
// a MULTI to be safe against a connection lost between HSET and PEXPIRE, which would leave a
// hash that never expires. The script is atomic on any Redis since 2.6 and on Cluster (one key).
//
// A hash lives as long as its longest-lived entry, so an old scope's field can outlive its own
// TTL while other scopes keep writing. That is harmless for freshness (the caller reads the
// value's own timestamps) but not for memory when tokens rotate and each rotation brings a new
// scope; so a hash holds at most ARGV[4] fields, and a new scope beyond that evicts another.
var setScript = redis.NewScript(`
local key, scope, ttl = KEYS[1], ARGV[1], tonumber(ARGV[3])
if redis.call('HEXISTS', key, scope) == 0 and redis.call('HLEN', key) >= tonumber(ARGV[4]) then
  redis.call('HDEL', key, redis.call('HKEYS', key)[1])
end
redis.call('HSET', key, scope, ARGV[2])
if redis.call('PTTL', key) < ttl then
  redis.call('PEXPIRE', key, ttl)
end
return 1
`)

// SetMany writes entries in one pipeline of EVALSHAs of setScript (see it for how expiry
// works). Entries with a TTL under a millisecond are skipped: they would expire at once. After
// Redis lost its script cache (a restart, SCRIPT FLUSH) the entries that met NOSCRIPT are sent
// again with EVAL, which loads the script: a second round trip, once.
func (s *Store) SetMany(ctx context.Context, entries []cache.Entry) error {
	live := make([]cache.Entry, 0, len(entries))
	for _, e := range entries {
		if e.TTL >= time.Millisecond {
			live = append(live, e)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return s.call(ctx, "set", func(ctx context.Context) error {
		retry, err := s.set(ctx, live, setScript.EvalSha)
		if err != nil || len(retry) == 0 {
			return err
		}
		_, err = s.set(ctx, retry, setScript.Eval)
		return err
	})
}

// set sends one pipeline of script calls, and returns the entries Redis had no script for.
func (s *Store) set(ctx context.Context, entries []cache.Entry,
	run func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) (noScript []cache.Entry, err error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(entries))
	for i, e := range entries {
		cmds[i] = run(ctx, pipe, []string{s.hashKey(e.Key.ContractID)},
			e.Key.Scope, e.Value, e.TTL.Milliseconds(), s.maxScopes)
	}
	_, _ = pipe.Exec(ctx)
	for i, cmd := range cmds {
		switch err := cmd.Err(); {
		case err == nil:
		case redis.HasErrorPrefix(err, "NOSCRIPT"):
			noScript = append(noScript, entries[i])
		default:
			return nil, err
		}
	}
	return noScript, nil
}

// DropContract deletes contractID's hash, and so its entries of every scope, and publishes the
// contract id on the invalidation channel, so that every replica's Invalidations (this one's
// too) can drop what it holds in memory: one pipeline, one round trip. It returns once every
// replica that heard it has confirmed it (see confirmations), or fails.
func (s *Store) DropContract(ctx context.Context, contractID string) error {
	nonce := newNonce()
	var heard *redis.IntCmd
	err := s.call(ctx, "drop", func(ctx context.Context) error {
		pipe := s.rdb.Pipeline()
		pipe.Del(ctx, s.hashKey(contractID))
		heard = s.publish(ctx, pipe, nonce+" "+contractID)
		_, err := pipe.Exec(ctx)
		return err
	})
	if err == nil {
		err = s.awaitConfirmations(ctx, nonce, heard.Val())
	}
	if err != nil {
		return fmt.Errorf("drop contract %q: %w", contractID, err)
	}
	return nil
}

// Invalidations tells feed of the contract id of every DropContract made by any replica,
// this one included, until ctx ends or the store is closed; feed runs on the calling
// goroutine, one call at a time, and must not block for long.
//
// Pub/sub keeps nothing for a subscriber that is away, so feed also hears when ids may be
// missed: Lost at the start and whenever the subscription breaks, Resumed each time it is
// confirmed again. A subscription breaks when its connection fails, or goes silent: it is
// pinged after a heartbeat without a message, and one that does not answer within the next is
// dropped and made anew. Each new subscription is a new PubSub, after a pause that grows while
// Redis cannot be reached.
//
// It leaves no goroutine behind: each PubSub is closed before the next, and on return.
func (s *Store) Invalidations(ctx context.Context, feed cache.InvalidationFeed) {
	feed.Lost()
	pause := s.heartbeat / 8
	for {
		if heard := s.subscribe(ctx, feed); heard {
			pause = s.heartbeat / 8
		}
		select {
		case <-ctx.Done():
			return
		case <-s.life.Done():
			return
		case <-time.After(pause):
			pause = min(2*pause, s.heartbeat)
		}
	}
}

// subscribe runs one subscription until it breaks, ctx ends or the store closes, and reports
// whether it was ever confirmed.
func (s *Store) subscribe(ctx context.Context, feed cache.InvalidationFeed) (confirmed bool) {
	subscribe := s.rdb.Subscribe
	if s.sharded {
		subscribe = s.rdb.SSubscribe
	}
	ps := subscribe(ctx, s.channel)
	// Receive blocks in a socket read for up to a heartbeat; closing the PubSub ends it at once.
	defer context.AfterFunc(ctx, func() { ps.Close() })()
	defer context.AfterFunc(s.life, func() { ps.Close() })()
	defer ps.Close()

	pinged := false // a ping went out and its pong has not come back
	var listened time.Time
	defer func() {
		if confirmed {
			s.unlisten() // after feed.Lost below: it serves nothing from memory by now
		}
	}()
	for {
		if confirmed && time.Since(listened) >= s.heartbeat {
			s.listen(ctx)
			listened = time.Now()
		}
		msg, err := ps.ReceiveTimeout(ctx, s.heartbeat)
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				confirmed = true
				feed.Resumed()
			case "sunsubscribe":
				// The channel's slot moved to another shard: subscribe there.
				err = errors.New("unsubscribed by the cluster")
			}
		case *redis.Message:
			s.heard(ctx, m.Payload, feed.Drop)
		case *redis.Pong:
		}
		if err == nil {
			pinged = false // anything that arrives shows the connection is alive
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !pinged && confirmed {
			pinged = ps.Ping(ctx) == nil
			if pinged {
				continue
			}
		}
		// Broken, silent, closed or never confirmed: whatever comes next may have been missed.
		if confirmed {
			feed.Lost()
		}
		return confirmed
	}
}

// Ping checks Redis, bounded by the timeouts. It passes the breaker like any call, so it
// neither waits on a Redis that is known to be down nor hammers it. (/readyz reports Status,
// which needs no round trip.)
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, "ping", func(ctx context.Context) error {
		return s.rdb.Ping(ctx).Err()
	})
}

// Status is "ok", or "degraded" from a failed call until one succeeds (so also while the
// breaker is open).
func (s *Store) Status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.downSince.IsZero() {
		return "degraded"
	}
	return "ok"
}

// Client returns the store's Redis client, for other users of the same Redis (the rate limiter,
// persisted queries) to share its pool and its short timeouts.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Close closes the connections; an Invalidations still running returns.
func (s *Store) Close() error {
	s.end()
	return s.rdb.Close()
}

// call runs f against Redis through the breaker and bounds it with callTimeout.
func (s *Store) call(ctx context.Context, op string, f func(context.Context) error) error {
	var err error
	_, brErr := s.br.Execute(func() (struct{}, error) {
		cctx, cancel := context.WithTimeout(ctx, s.callTimeout)
		defer cancel()
		if err = f(cctx); err != nil && callerGaveUp(ctx) {
			// The caller cancelled, or its own deadline cut the call short.
			return struct{}{}, errGaveUp
		}
		return struct{}{}, err
	})
	switch {
	case errors.Is(brErr, gobreaker.ErrOpenState), errors.Is(brErr, gobreaker.ErrTooManyRequests):
		return fmt.Errorf("redis %s: %w", op, ErrUnavailable)
	case err == nil:
		if down, since := s.recovered(); down {
			s.log.Info("redis cache recovered", "down_for", since.Round(time.Millisecond))
		}
	case errors.Is(brErr, errGaveUp):
	default:
		if s.obs != nil {
			s.obs.RedisError(op)
		}
		if s.failed() {
			// Once per outage: the error and op say what broke; keys and values never appear.
			s.log.Warn("redis cache degraded; queries go to the upstream", "op", op, "err", err,
				"breaker_open", s.br.State() == gobreaker.StateOpen)
		}
	}
	if err != nil {
		return fmt.Errorf("redis %s: %w", op, err)
	}
	return nil
}

// failed notes a failure and reports whether it began a run of failures.
func (s *Store) failed() (first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.downSince.IsZero() {
		return false
	}
	s.downSince = time.Now()
	return true
}

// recovered ends a run of failures, and reports whether there was one and how long it lasted.
func (s *Store) recovered() (wasDown bool, downFor time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downSince.IsZero() {
		return false, 0
	}
	downFor, s.downSince = time.Since(s.downSince), time.Time{}
	return true, downFor
}

// callerGaveUp reports whether ctx is done. It also looks at the deadline itself, because a
// socket read that the deadline cut short can return before the context's own timer has fired.
func callerGaveUp(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// QuietGlobalLogs sends go-redis' own process-wide messages (one per failed dial, among
// others) to log at debug level: the store logs an outage once, through Options.Logger.
func QuietGlobalLogs(log *slog.Logger) { redis.SetLogger(debugLogger{log}) }

type debugLogger struct{ log *slog.Logger }

func (l debugLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
