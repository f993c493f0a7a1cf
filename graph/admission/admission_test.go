package admission

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitFor returns once cond holds: the tests wait for a state of the gate, never for a time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type admitted struct {
	done func()
	err  error
}

func admit(g *Gate, ctx context.Context, cost int64) chan admitted {
	c := make(chan admitted, 1)
	go func() {
		done, err := g.Admit(ctx, cost)
		c <- admitted{done, err}
	}()
	return c
}

// TestCheapPassesWhileHeavyWaits: while heavy operations fill the gate, a cheap one runs at
// once; heavy ones wait their turns in order, and past the queue's bound are refused at once.
func TestCheapPassesWhileHeavyWaits(t *testing.T) {
	g := New(Options{Heavy: 100, AtOnce: 1000, Queue: 2})
	ctx := t.Context()
	first, err := g.Admit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	second := admit(g, ctx, 1000)
	waitFor(t, "the second heavy operation waits", func() bool { return g.Waiting() == 1 })
	third := admit(g, ctx, 800)
	waitFor(t, "the third heavy operation waits", func() bool { return g.Waiting() == 2 })

	done, err := g.Admit(ctx, 99)
	if err != nil {
		t.Fatalf("a cheap operation while heavy ones wait: %v, want admitted at once", err)
	}
	done()
	_, err = g.Admit(ctx, 100)
	var r *Refusal
	if !errors.As(err, &r) || !r.Full || r.RetryAfter <= 0 || r.Heavy != 100 {
		t.Fatalf("a heavy operation past the queue: %v, want a refusal for a full queue with a time to retry", err)
	}
	if g.Waiting() != 2 || g.Running() != 1 {
		t.Fatalf("after the refusal: %d waiting, %d running; want 2 and 1", g.Waiting(), g.Running())
	}

	first()
	first() // a second call changes nothing
	a := <-second
	if a.err != nil {
		t.Fatalf("second: %v", a.err)
	}
	select {
	case a := <-third:
		t.Fatalf("the third ran beside the second, though both cost more than the gate holds: %v", a.err)
	default:
	}
	a.done()
	if a := <-third; a.err != nil {
		t.Fatalf("third: %v", a.err)
	} else {
		a.done()
	}
	if g.Waiting() != 0 || g.Running() != 0 {
		t.Errorf("at the end: %d waiting, %d running; want none", g.Waiting(), g.Running())
	}
}

// TestTurnWithinHalfTheTimeLeft: a heavy operation waits at most half of the time its context
// has left, and is then refused (not for a full queue).
func TestTurnWithinHalfTheTimeLeft(t *testing.T) {
	g := New(Options{Heavy: 1, AtOnce: 10, Queue: 5})
	done, _ := g.Admit(t.Context(), 10)
	defer done()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := g.Admit(ctx, 10)
	var r *Refusal
	if !errors.As(err, &r) || r.Full {
		t.Fatalf("Admit = %v, want a refusal for a turn that did not come", err)
	}
	if g.Waiting() != 0 {
		t.Errorf("%d still wait", g.Waiting())
	}
}

// TestCallerGoneWhileWaiting: a caller that goes away while it waits leaves the queue, with
// its context's error.
func TestCallerGoneWhileWaiting(t *testing.T) {
	g := New(Options{Heavy: 1, AtOnce: 10, Queue: 5})
	done, _ := g.Admit(t.Context(), 10)
	defer done()
	ctx, cancel := context.WithCancel(t.Context())
	waiting := admit(g, ctx, 5)
	waitFor(t, "it waits", func() bool { return g.Waiting() == 1 })
	cancel()
	if a := <-waiting; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("Admit = %v, want context.Canceled", a.err)
	}
	if g.Waiting() != 0 {
		t.Errorf("%d still wait", g.Waiting())
	}
}

// TestCostlierThanTheGateRunsAlone: an operation that costs more than may run at once is not
// refused for it: it runs once nothing else does.
func TestCostlierThanTheGateRunsAlone(t *testing.T) {
	g := New(Options{Heavy: 1, AtOnce: 10, Queue: 5})
	small, _ := g.Admit(t.Context(), 3)
	big := admit(g, t.Context(), 50)
	waitFor(t, "the big one waits", func() bool { return g.Waiting() == 1 })
	small()
	a := <-big
	if a.err != nil {
		t.Fatal(a.err)
	}
	a.done()
}

// TestDefaults: MAX_COST per CPU at once, and the package's defaults elsewhere.
func TestDefaults(t *testing.T) {
	o := Options{}.WithDefaults(100)
	if o.Heavy != DefaultHeavy || o.Queue != DefaultQueue || o.AtOnce < 100 || o.AtOnce%100 != 0 {
		t.Errorf("WithDefaults(100) = %+v", o)
	}
	if o := (Options{Heavy: 7, AtOnce: 9, Queue: 3}).WithDefaults(100); o != (Options{Heavy: 7, AtOnce: 9, Queue: 3}) {
		t.Errorf("WithDefaults overrode set values: %+v", o)
	}
}
