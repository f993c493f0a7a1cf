package live

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/enneo-facade/facade/upstream"
)

// gatedReader answers every read with subject, after gate lets it through, counting reads per
// scope.
type gatedReader struct {
	gate    chan struct{}
	mu      sync.Mutex
	reads   map[string]int
	subject string
}

func (g *gatedReader) Histories(_ context.Context, cred upstream.Credential, ids []string, _ *upstream.Projection) []upstream.Result {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reads[cred.Scope]++
	s := g.subject
	return []upstream.Result{{History: &upstream.History{Tickets: []*upstream.Ticket{{Subject: &s}}}}}
}

func (g *gatedReader) count(scope string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reads[scope]
}

func receive(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return Event{}
}

// TestChangesAreReadOncePerScope: changes heard while a read is under way make one more read,
// not one each; subscribers of one scope share the reads, another scope reads for itself; an
// unchanged history is not sent again.
func TestChangesAreReadOncePerScope(t *testing.T) {
	r := &gatedReader{gate: make(chan struct{}), reads: map[string]int{}, subject: "v1"}
	h := New(r, Options{})
	ctx := t.Context()
	alice, bob := upstream.Credential{Token: "a", Scope: "sa"}, upstream.Credential{Token: "b", Scope: "sb"}
	a1, _ := h.Subscribe(ctx, alice, "alice", []string{"c"})
	a2, _ := h.Subscribe(ctx, alice, "alice", []string{"c", "other"})
	b1, _ := h.Subscribe(ctx, bob, "bob", []string{"c"})
	if subs, watches := h.Watched(); subs != 3 || watches != 3 {
		t.Fatalf("watched %d, %d; want 3 subscriptions, 3 watches", subs, watches)
	}
	h.Changed("c")
	h.Changed("c") // while the first reads are held at the gate
	h.Changed("c")
	close(r.gate)
	for name, ch := range map[string]<-chan Event{"a1": a1, "a2": a2, "b1": b1} {
		if e := receive(t, ch); e.ContractID != "c" || *e.History.Tickets[0].Subject != "v1" {
			t.Errorf("%s: %+v", name, e)
		}
	}
	// The second read (for the changes heard meanwhile) found the same history: nothing more.
	for deadline := time.Now().Add(10 * time.Second); r.count("sa") < 2 || r.count("sb") < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("reads: alice %d, bob %d; want 2 each", r.count("sa"), r.count("sb"))
		}
	}
	h.Changed("c")
	for deadline := time.Now().Add(10 * time.Second); r.count("sa") < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no third read")
		}
	}
	r.mu.Lock()
	r.subject = "v2"
	r.mu.Unlock()
	h.Changed("c")
	if e := receive(t, a1); *e.History.Tickets[0].Subject != "v2" {
		t.Errorf("after the unchanged read and a change: %s, want v2", *e.History.Tickets[0].Subject)
	}
	if n := r.count("sa"); n != 4 {
		t.Errorf("alice's scope read %d times for 5 changes, want 4 (2 of them heard while reading)", n)
	}
}

// TestBounds: past PerCaller or Total a subscription is refused; one that ends frees its place
// and closes its channel.
func TestBounds(t *testing.T) {
	h := New(&gatedReader{gate: make(chan struct{})}, Options{PerCaller: 1, Total: 2})
	cred := upstream.Credential{Token: "a", Scope: "sa"}
	ctx, cancel := context.WithCancel(t.Context())
	first, err := h.Subscribe(ctx, cred, "alice", []string{"c"})
	if err != nil {
		t.Fatal(err)
	}
	var refusal *Refusal
	if _, err := h.Subscribe(t.Context(), cred, "alice", []string{"d"}); !errors.As(err, &refusal) {
		t.Errorf("alice's second: %v, want a refusal", err)
	}
	if _, err := h.Subscribe(t.Context(), cred, "bob", []string{"d"}); err != nil {
		t.Errorf("bob's first: %v", err)
	}
	if _, err := h.Subscribe(t.Context(), cred, "carol", []string{"d"}); !errors.As(err, &refusal) {
		t.Errorf("a third in all: %v, want a refusal", err)
	}
	cancel()
	if _, ok := <-first; ok {
		t.Error("an event on an ended subscription")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := h.Subscribe(t.Context(), cred, "alice", []string{"c"}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice's place was not freed")
		}
	}
}

// TestPollFindsChanges: with PollInterval, a change no webhook announced is found by reading the
// watched contracts again, and invalidated; without it, polling runs only while invalidations
// are not heard, and State says so.
func TestPollFindsChanges(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		deaf bool
	}{
		{"polling", Options{PollInterval: 5 * time.Millisecond}, false},
		{"while deaf", Options{DeafPollInterval: 5 * time.Millisecond}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &gatedReader{gate: make(chan struct{}), reads: map[string]int{}, subject: "v1"}
			close(r.gate)
			h := New(r, tt.o)
			_, changed := h.State()
			if tt.deaf {
				h.Hearing(false)
				select {
				case <-changed:
				default:
					t.Fatal("State's channel not closed when the hub stopped hearing")
				}
				if deaf, _ := h.State(); !deaf {
					t.Fatal("State says hearing")
				}
			}
			events, _ := h.Subscribe(t.Context(), upstream.Credential{Token: "a", Scope: "sa"}, "alice", []string{"c"})
			invalidated := make(chan string, 8)
			go h.Poll(t.Context(), r, func(_ context.Context, id string) error {
				invalidated <- id
				h.Changed(id) // as the cache's Changed hook would
				return nil
			})
			for deadline := time.Now().Add(10 * time.Second); r.count("sa") < 2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("not polled twice")
				}
			}
			select {
			case id := <-invalidated:
				t.Fatalf("%s invalidated with nothing changed", id)
			default:
			}
			r.mu.Lock()
			r.subject = "v2"
			r.mu.Unlock()
			if e := receive(t, events); *e.History.Tickets[0].Subject != "v2" {
				t.Errorf("event %s, want v2", *e.History.Tickets[0].Subject)
			}
			if id := <-invalidated; id != "c" {
				t.Errorf("invalidated %s, want c", id)
			}
		})
	}
	// Neither PollInterval nor deaf: no reads.
	r := &gatedReader{gate: make(chan struct{}), reads: map[string]int{}}
	close(r.gate)
	h := New(r, Options{DeafPollInterval: time.Millisecond})
	h.Subscribe(t.Context(), upstream.Credential{Token: "a", Scope: "sa"}, "alice", []string{"c"})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	h.Poll(ctx, r, func(context.Context, string) error { return nil })
	if n := r.count("sa"); n != 0 {
		t.Errorf("%d reads while hearing and not polling, want 0", n)
	}
}
