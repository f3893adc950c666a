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

// completion is a one-shot event (the kernel's struct completion): done
// once, waited for by any number of callers.
type completion struct {
	mu      sync.Mutex
	done    bool
	waiters []fence.Waiter
}

// complete marks it done and wakes every waiter.
func (c *completion) complete() {
	c.mu.Lock()
	c.done = true
	ws := c.waiters
	c.waiters = nil
	c.mu.Unlock()
	for _, w := range ws {
		w.Kick()
	}
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
		c.waiters = append(c.waiters, w)
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
	waiters []fence.Waiter
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
		l.waiters = append(l.waiters, w)
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
	ws := l.waiters
	l.waiters = nil
	l.mu.Unlock()
	for _, w := range ws {
		w.Kick()
	}
}

// isHeld reports whether it is held (for tests).
func (l *sleepLock) isHeld() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}
