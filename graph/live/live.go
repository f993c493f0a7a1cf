// Package live turns the facade's invalidations into live updates: it keeps who watches which
// contract, and when a contract may have changed (Changed: an invalidation heard from any
// replica) it reads the history again once for each credential scope that watches it, shared
// by every subscriber of that scope in the process and never across scopes, and hands it to
// each subscriber whose last event it differs from.
package live

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// Reader reads histories: the GraphQL layer's fetcher, the cache in front of the client, so
// that a change read for one scope is a cache entry for the next query of that scope.
type Reader interface {
	Histories(ctx context.Context, cred upstream.Credential, ids []string, p *upstream.Projection) []upstream.Result
}

// Options bound the subscriptions.
type Options struct {
	// PerCaller bounds the subscriptions one caller (credential scope or API key) holds at
	// once (default 20); Total those of the whole process (default 10,000).
	PerCaller, Total int
	// PollInterval, where Enneo's webhooks are not wired, re-reads every watched contract from
	// the upstream this often and invalidates those that changed (Poll); 0: only while the
	// invalidation feed is lost, every DeafPollInterval (default 30 s).
	PollInterval, DeafPollInterval time.Duration
	// Logger receives what goes wrong reading a change; nil discards it.
	Logger *slog.Logger
}

// Event is a change of one watched contract: its new history.
type Event struct {
	ContractID string
	History    *upstream.History
}

// Refusal is why a subscription is not taken.
type Refusal struct{ msg string }

func (r *Refusal) Error() string { return r.msg }

// Hub keeps the watches of one process.
type Hub struct {
	read Reader
	o    Options
	log  *slog.Logger

	mu       sync.Mutex
	watches  map[watchKey]*watch
	byCaller map[string]int
	total    int
	deaf     bool          // the replica may be missing invalidations (Hearing)
	state    chan struct{} // closed when deaf changes, then made anew
}

// A watch is one contract watched under one credential scope.
type watch struct {
	key  watchKey
	cred upstream.Credential // a subscriber's, to read with
	subs map[*subscriber]struct{}
	// reading is set while the history is being read; again asks for one more read after it,
	// for a change heard meanwhile.
	reading, again bool
	polled         [sha256.Size]byte // what the last poll read (zero: none yet)
}

type watchKey struct{ contractID, scope string }

// A subscriber is one subscription: its events, and what it was sent last of each contract.
type subscriber struct {
	events chan Event
	mu     sync.Mutex
	last   map[string][sha256.Size]byte
}

// New returns a Hub that reads changes through read.
func New(read Reader, o Options) *Hub {
	if o.PerCaller <= 0 {
		o.PerCaller = 20
	}
	if o.Total <= 0 {
		o.Total = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DeafPollInterval <= 0 {
		o.DeafPollInterval = 30 * time.Second
	}
	return &Hub{read: read, o: o, log: o.Logger, watches: map[watchKey]*watch{}, byCaller: map[string]int{}, state: make(chan struct{})}
}

// Subscribe watches ids for cred until ctx ends, and returns the channel their changes come on,
// closed when ctx ends. caller names who holds it, for PerCaller. It refuses more than the
// bounds allow.
func (h *Hub) Subscribe(ctx context.Context, cred upstream.Credential, caller string, ids []string) (<-chan Event, error) {
	s := &subscriber{events: make(chan Event, 16), last: map[string][sha256.Size]byte{}}
	h.mu.Lock()
	switch {
	case h.total >= h.o.Total:
		h.mu.Unlock()
		return nil, &Refusal{fmt.Sprintf("the server holds %d subscriptions, the most it takes: try again later", h.o.Total)}
	case h.byCaller[caller] >= h.o.PerCaller:
		h.mu.Unlock()
		return nil, &Refusal{fmt.Sprintf("this caller holds %d subscriptions, the most one caller may: end one first", h.o.PerCaller)}
	}
	h.total++
	h.byCaller[caller]++
	for _, id := range ids {
		k := watchKey{id, cred.Scope}
		w := h.watches[k]
		if w == nil {
			w = &watch{key: k, cred: cred, subs: map[*subscriber]struct{}{}}
			h.watches[k] = w
		}
		w.subs[s] = struct{}{}
	}
	h.mu.Unlock()
	events := s.events // unsubscribe, which may run at once, takes it from s
	context.AfterFunc(ctx, func() { h.unsubscribe(s, cred.Scope, caller, ids) })
	return events, nil
}

func (h *Hub) unsubscribe(s *subscriber, scope, caller string, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total--
	if h.byCaller[caller]--; h.byCaller[caller] == 0 {
		delete(h.byCaller, caller)
	}
	for _, id := range ids {
		k := watchKey{id, scope}
		if w := h.watches[k]; w != nil {
			delete(w.subs, s)
			if len(w.subs) == 0 {
				delete(h.watches, k)
			}
		}
	}
	s.mu.Lock()
	close(s.events)
	s.events = nil
	s.mu.Unlock()
}

// Watched reports how many subscriptions the process holds, and how many contracts and scopes
// they watch.
func (h *Hub) Watched() (subscriptions, watches int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total, len(h.watches)
}

// Changed says contractID's history may have changed: each scope that watches it reads it
// again, once however many subscribe, and once more if another change comes while it reads.
// It returns at once; the reads run on their own.
func (h *Hub) Changed(contractID string) {
	h.mu.Lock()
	var start []*watch
	for k, w := range h.watches {
		if k.contractID != contractID {
			continue
		}
		if w.reading {
			w.again = true
			continue
		}
		w.reading = true
		start = append(start, w)
	}
	h.mu.Unlock()
	for _, w := range start {
		go h.reread(w)
	}
}

// reread reads w's contract until no change came while it read, and hands each read to w's
// subscribers.
func (h *Hub) reread(w *watch) {
	for {
		h.readOnce(w)
		h.mu.Lock()
		if !w.again {
			w.reading = false
			h.mu.Unlock()
			return
		}
		w.again = false
		h.mu.Unlock()
	}
}

func (h *Hub) readOnce(w *watch) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	r := h.read.Histories(ctx, w.cred, []string{w.key.contractID}, nil)[0]
	if r.Err != nil {
		// The contract id came from a caller: kept out of the log line.
		h.log.Warn("a watched contract's change could not be read", "err", upstream.Kind(r.Err))
		return
	}
	sum, err := digest(r.History)
	if err != nil {
		h.log.Warn("a watched contract's change could not be compared", "err", err)
		return
	}
	h.mu.Lock()
	w.polled = sum // a poll that reads the same finds no change
	subs := make([]*subscriber, 0, len(w.subs))
	for s := range w.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.send(Event{ContractID: w.key.contractID, History: r.History}, sum)
	}
}

// send hands e to s unless its history is what s got last of the contract. A subscriber that
// does not keep up loses events rather than holding up the others: each is the whole history,
// so the next one it takes is as good as those it missed.
func (s *subscriber) send(e Event, sum [sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil || s.last[e.ContractID] == sum {
		return
	}
	select {
	case s.events <- e:
		s.last[e.ContractID] = sum
	default:
	}
}

var errNoHistory = errors.New("no history")

// digest names a history's content.
func digest(h *upstream.History) ([sha256.Size]byte, error) {
	if h == nil {
		return [sha256.Size]byte{}, errNoHistory
	}
	b, err := json.Marshal(h)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// readTimeout bounds the read of one change.
const readTimeout = 30 * time.Second

// Hearing says whether the replica hears invalidations (the cache's feed): while it does not,
// changes may go unnoticed, so watched contracts are polled (see Poll) and subscribers are
// told (State).
func (h *Hub) Hearing(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deaf == !ok {
		return
	}
	h.deaf = !ok
	close(h.state)
	h.state = make(chan struct{})
	if h.deaf {
		h.log.Warn("live updates may be late: invalidations are not heard; polling watched contracts", "every", h.pollEvery())
	}
}

// State reports whether the replica may be missing changes, and a channel closed when that
// changes.
func (h *Hub) State() (deaf bool, changed <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deaf, h.state
}

func (h *Hub) pollEvery() time.Duration {
	if h.o.PollInterval > 0 {
		return h.o.PollInterval
	}
	return h.o.DeafPollInterval
}

// Poll re-reads every watched contract from fresh (the upstream itself, not the cache) each
// PollInterval, or each DeafPollInterval while invalidations are not heard, until ctx ends. A
// contract whose history differs from the previous poll's is invalidated, so that every
// replica's caches drop it and its subscribers hear of it as of a webhook; if that fails, this
// replica's subscribers are told at least.
func (h *Hub) Poll(ctx context.Context, fresh Reader, invalidate func(ctx context.Context, contractID string) error) {
	tick := time.NewTicker(h.pollEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.mu.Lock()
		deaf := h.deaf
		var watches []*watch
		for _, w := range h.watches {
			watches = append(watches, w)
		}
		h.mu.Unlock()
		if h.o.PollInterval <= 0 && !deaf {
			continue
		}
		changed := map[string]bool{}
		for _, w := range watches {
			r := fresh.Histories(ctx, w.cred, []string{w.key.contractID}, nil)[0]
			sum, err := digest(r.History)
			if r.Err != nil || err != nil {
				continue
			}
			h.mu.Lock()
			prev := w.polled
			h.mu.Unlock()
			if prev == ([sha256.Size]byte{}) {
				// The first poll of the contract compares with what the cache holds, which
				// is what the subscriber's queries were answered from.
				if held := h.read.Histories(ctx, w.cred, []string{w.key.contractID}, nil)[0]; held.Err == nil {
					prev, _ = digest(held.History)
				}
			}
			if prev != sum {
				changed[w.key.contractID] = true
			}
			h.mu.Lock()
			w.polled = sum
			h.mu.Unlock()
		}
		for id := range changed {
			if err := invalidate(ctx, id); err != nil {
				h.Changed(id)
			}
		}
	}
}
