package drm

import (
	"context"
	"sync"

	"fencelab/errno"
	"fencelab/fence"
)

// Every place the driver blocks parks on a waiter from its fence Domain
// (fence.Domain.NewWaiter), never on a bare channel or condition
// variable, so that a machine's scheduler sees each blocked call.

// waitList is the waiters to wake when something changes. Its owner's
// mutex guards it: a waiter is added under the same lock the change is
// made under, so no change is missed; the kicks happen after unlocking.
type waitList []fence.Waiter

func (l *waitList) add(w fence.Waiter) { *l = append(*l, w) }

func (l *waitList) remove(w fence.Waiter) {
	for i, x := range *l {
		if x == w {
			*l = append((*l)[:i], (*l)[i+1:]...)
			return
		}
	}
}

// take empties the list, returning the waiters to kick once the owner's
// lock is released.
func (l *waitList) take() waitList {
	ws := *l
	*l = nil
	return ws
}

func (l waitList) kick() {
	for _, w := range l {
		w.Kick()
	}
}

// watch adds w to l under mu until the returned cancel is called: the
// Watch of a file that poll(2) can wait on.
func watch(mu *sync.Mutex, l *waitList, w fence.Waiter) (cancel func()) {
	mu.Lock()
	l.add(w)
	mu.Unlock()
	return func() {
		mu.Lock()
		l.remove(w)
		mu.Unlock()
	}
}

// completion is a one-shot event (the kernel's struct completion): done
// once, waited for by any number of callers.
type completion struct {
	mu      sync.Mutex
	done    bool
	waiters waitList
}

// complete marks it done and wakes every waiter.
func (c *completion) complete() {
	c.mu.Lock()
	c.done = true
	ws := c.waiters.take()
	c.mu.Unlock()
	ws.kick()
}

func (c *completion) isDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// wait blocks until it is done (0) or, with a ctx, until ctx is done
// (ERESTARTSYS): wait_for_completion, interruptible when given a ctx.
func (c *completion) wait(d *fence.Domain, ctx context.Context) errno.Errno {
	return c.waitUntil(d, ctx, fence.Forever)
}

// waitUntil is wait with an absolute deadline on the domain's clock,
// past which it returns ETIME.
func (c *completion) waitUntil(d *fence.Domain, ctx context.Context, deadline int64) errno.Errno {
	for {
		c.mu.Lock()
		if c.done {
			c.mu.Unlock()
			return 0
		}
		if deadline <= d.Now() {
			c.mu.Unlock()
			return errno.ETIME
		}
		w := d.NewWaiter()
		c.waiters.add(w)
		c.mu.Unlock()
		w.Wait(ctx, deadline)
		if ctx != nil && ctx.Err() != nil && !c.isDone() {
			return errno.ERESTARTSYS
		}
	}
}

// sleepLock is a mutex whose waiters sleep on Domain waiters and can be
// interrupted (mutex_lock_interruptible).
type sleepLock struct {
	mu      sync.Mutex
	held    bool
	waiters waitList
}

// lock takes it, or returns ERESTARTSYS once ctx (if any) is done.
func (l *sleepLock) lock(d *fence.Domain, ctx context.Context) errno.Errno {
	for {
		l.mu.Lock()
		if !l.held {
			l.held = true
			l.mu.Unlock()
			return 0
		}
		w := d.NewWaiter()
		l.waiters.add(w)
		l.mu.Unlock()
		w.Wait(ctx, fence.Forever)
		if ctx != nil && ctx.Err() != nil {
			return errno.ERESTARTSYS
		}
	}
}

// unlock releases it and wakes the waiters; the first to run takes it.
func (l *sleepLock) unlock() {
	l.mu.Lock()
	l.held = false
	ws := l.waiters.take()
	l.mu.Unlock()
	ws.kick()
}
