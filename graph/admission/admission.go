// Package admission keeps cheap operations from queueing behind heavy ones. An operation is
// admitted by its estimated cost before it runs: below a threshold it runs at once, whatever the
// load; a heavy one runs while the estimated cost of the heavy operations running beside it
// fits the budget, else waits its turn in a bounded queue (first come, first served), and is
// refused, with a time to retry after, when the queue is full or its turn does not come within
// half the time it has left.
//
// The budget is what one operation may cost (MAX_COST) per CPU: the process runs as many
// heavy operations at once as it has cores to run them, so that a cheap one finds a core, or a
// short run queue, instead of the answers of hundreds of heavy ones ahead of it.
package admission

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Options are the gate's settings; a zero field takes its default (see Flags).
type Options struct {
	// Heavy is the estimated cost from which an operation is heavy: cheaper ones are never
	// held.
	Heavy int64
	// AtOnce is the estimated cost of the heavy operations that may run at once; an operation
	// that costs more runs alone.
	AtOnce int64
	// Queue is how many heavy operations may wait for their turn; the next is refused at once.
	Queue int
}

// Gate admits operations by their estimated cost.
type Gate struct {
	o       Options
	sem     *semaphore.Weighted
	waiting atomic.Int64
	running atomic.Int64 // heavy operations admitted and not yet done
}

// WithDefaults is o with DefaultHeavy, DefaultQueue and maxCost per CPU at once where it
// has none.
func (o Options) WithDefaults(maxCost int64) Options {
	if o.Heavy <= 0 {
		o.Heavy = DefaultHeavy
	}
	if o.AtOnce <= 0 {
		o.AtOnce = maxCost * int64(runtime.GOMAXPROCS(0))
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	return o
}

// New returns a gate with o's settings (see WithDefaults).
func New(o Options) *Gate {
	return &Gate{o: o, sem: semaphore.NewWeighted(o.AtOnce)}
}

// Refusal is why an operation was not admitted, and when to try again.
type Refusal struct {
	Full       bool  // the queue was full; else its turn did not come in time
	Heavy      int64 // the cost from which operations are heavy
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	if r.Full {
		return "the server is busy with heavy operations and its queue for them is full"
	}
	return "the server is busy with heavy operations and this one's turn did not come in time"
}

// retryAfter is what a refused caller is told to wait: about the time a queue's worth of heavy
// operations takes to drain, which is short, since each must fit in a deadline.
const retryAfter = time.Second

// Admit returns once an operation of the estimated cost may run, with the function to call
// when it is done; or a *Refusal, or ctx's error when the caller went away meanwhile. A heavy operation
// waits at most half of the time ctx has left, so that it keeps the other half to run.
func (g *Gate) Admit(ctx context.Context, cost int64) (done func(), err error) {
	if cost < g.o.Heavy {
		return func() {}, nil
	}
	weight := min(cost, g.o.AtOnce)
	if !g.sem.TryAcquire(weight) {
		if g.waiting.Add(1) > int64(g.o.Queue) {
			g.waiting.Add(-1)
			return nil, &Refusal{Full: true, Heavy: g.o.Heavy, RetryAfter: retryAfter}
		}
		wait := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			wait, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
			defer cancel()
		}
		err := g.sem.Acquire(wait, weight)
		g.waiting.Add(-1)
		if err != nil { // nothing was acquired
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil, ctx.Err() // the caller is gone
			}
			return nil, &Refusal{Heavy: g.o.Heavy, RetryAfter: retryAfter}
		}
	}
	g.running.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			g.running.Add(-1)
			g.sem.Release(weight)
		}
	}, nil
}

// Waiting is how many heavy operations wait for their turn; Running how many run.
func (g *Gate) Waiting() int64 { return g.waiting.Load() }
func (g *Gate) Running() int64 { return g.running.Load() }
