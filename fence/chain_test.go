package fence

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The kernel answers find_seqno and QUERY by walking every pending node;
// fencelab jumps. These references are the kernel's loops written out
// literally (dma_fence_chain_find_seqno, drm_syncobj_query_ioctl) over the
// same garbage-collecting walk, and the tests below hold the fast versions
// to the same answers, node for node.

func refFindSeqno(head *Fence, point uint64) (*Fence, bool) {
	if point == 0 {
		return head, true
	}
	if head == nil || head.chain == nil || head.Seqno() < point {
		return nil, false
	}
	for x := head; x != nil; x = x.walk() {
		if x.context != head.context || x.chain.prevSeqno < point {
			return x, true
		}
	}
	return nil, true
}

func refQuery(head *Fence) uint64 {
	if head == nil || head.chain == nil {
		return 0
	}
	last := head
	for x := head; x != nil; x = x.walk() {
		if x.context != head.context {
			break
		}
		last = x
	}
	if last.IsSignaled() {
		return last.Seqno()
	}
	return last.chain.prevSeqno
}

// chainModel drives syncobjs through random timeline operations.
type chainModel struct {
	t       testing.TB
	d       *Domain
	objs    []*Syncobj
	pending []*Fence
	checks  int
	waiters []*modelWaiter
	regs    []*modelReg
}

func newChainModel(t testing.TB, nobjs int) *chainModel {
	m := &chainModel{t: t, d: NewDomain(NewManualClock(0))}
	for range nobjs {
		m.objs = append(m.objs, m.d.NewSyncobj(false))
	}
	return m
}

// step performs one operation chosen by op and arg.
func (m *chainModel) step(op, arg uint32, r *rand.Rand) {
	s := m.objs[int(arg)%len(m.objs)]
	head := s.Fence()
	last := uint64(0)
	if head != nil {
		last = head.Seqno()
	}
	switch op % 8 {
	case 0, 1, 2: // an ordered point with a pending fence
		f := m.d.NewFence(m.d.AllocContexts(1), 1, "test", "model")
		m.pending = append(m.pending, f)
		s.AddPoint(f, last+1+uint64(r.IntN(3)))
	case 3: // an unordered (or repeated) point
		f := m.d.NewFence(m.d.AllocContexts(1), 1, "test", "model")
		m.pending = append(m.pending, f)
		s.AddPoint(f, uint64(r.IntN(int(last)+1)))
	case 4: // a signalled, ordered point (TIMELINE_SIGNAL)
		s.AddPoint(m.d.Stub(), last+1+uint64(r.IntN(3)))
	case 5, 6: // signal some pending fence, in any order
		if len(m.pending) > 0 {
			i := r.IntN(len(m.pending))
			m.pending[i].Signal()
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
		}
	case 7: // branch: another syncobj takes a node from the middle of this chain
		if head != nil && last > 0 {
			if n, ok := findSeqno(head, 1+uint64(r.IntN(int(last)))); ok && n != nil {
				m.objs[int(arg/7)%len(m.objs)].ReplaceFence(n)
			}
		}
	}
}

// verify compares fast and reference answers on every syncobj and point.
func (m *chainModel) verify() {
	m.t.Helper()
	for i, s := range m.objs {
		head := s.Fence()
		if got, want := s.Query(false), refQuery(head); got != want {
			m.t.Fatalf("syncobj %d: Query = %d; kernel walk says %d", i, got, want)
		}
		if head == nil {
			continue
		}
		for p := uint64(0); p <= head.Seqno()+1; p++ {
			got, gok := findSeqno(head, p)
			want, wok := refFindSeqno(head, p)
			if got != want || gok != wok {
				m.t.Fatalf("syncobj %d: findSeqno(%d) = %s, %v; kernel walk says %s, %v",
					i, p, describe(got), gok, describe(want), wok)
			}
			m.checks++
		}
	}
}

func describe(f *Fence) string {
	if f == nil {
		return "nil"
	}
	return fmt.Sprintf("fence(ctx %d, seqno %d, prev_seqno %d)", f.context, f.Seqno(), f.PrevSeqno())
}

func TestChainSearchMatchesKernelWalk(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		m := newChainModel(t, 1+int(seed%3))
		for range 300 {
			m.step(r.Uint32(), r.Uint32(), r)
			m.verify()
		}
		if m.checks == 0 {
			t.Fatalf("seed %d: nothing was checked", seed)
		}
	}
}

// A long timeline where every point is pending and the answers sit at the
// far end: the case the jump pointers exist for.
func TestChainSearchLongPendingTimeline(t *testing.T) {
	d := NewDomain(NewManualClock(0))
	s := d.NewSyncobj(false)
	const n = 5000
	fences := make([]*Fence, n)
	for i := range fences {
		fences[i] = d.NewFence(d.AllocContexts(1), 1, "test", "long")
		s.AddPoint(fences[i], uint64(2*i+2)) // points 2, 4, …, 2n
	}
	head := s.Fence()
	for _, p := range []uint64{1, 2, 3, 777, 2*n - 1, 2 * n} {
		got, _ := findSeqno(head, p)
		want, _ := refFindSeqno(head, p)
		if got != want {
			t.Errorf("findSeqno(%d) = %s; want %s", p, describe(got), describe(want))
		}
		if got.Seqno() < p || got.PrevSeqno() >= p {
			t.Errorf("findSeqno(%d) = %s does not cover the point", p, describe(got))
		}
	}
	if got := s.Query(false); got != 0 {
		t.Errorf("Query = %d; want 0 with nothing signalled", got)
	}
	// Signal from the bottom: QUERY follows the contiguous signalled prefix.
	for i := range 1000 {
		fences[i].Signal()
	}
	if got, want := s.Query(false), uint64(2000); got != want {
		t.Errorf("Query after 1000 signals = %d; want %d", got, want)
	}
	// A hole: signalling beyond it does not move QUERY.
	for i := 1001; i < n; i++ {
		fences[i].Signal()
	}
	if got, want := s.Query(false), uint64(2000); got != want {
		t.Errorf("Query with point 2002 pending = %d; want %d", got, want)
	}
	fences[1000].Signal()
	if got, want := s.Query(false), uint64(2*n); got != want {
		t.Errorf("Query with all signalled = %d; want %d", got, want)
	}
	if !head.IsSignaled() {
		t.Error("head not signalled with every point signalled")
	}
	if f, ok := findSeqno(head, 3); !ok || f != nil {
		t.Errorf("findSeqno(3) after everything signalled = %s, %v; want nil (collected), true", describe(f), ok)
	}
	s.Put()
}

// FuzzChainOps runs random operation sequences over a few syncobjs, with
// WAIT_FOR_SUBMIT waiters and eventfd registrations parked on random
// points, and checks after every step that the fast searches agree with
// the kernel's walk, that QUERY never decreases on a syncobj that only
// ever received ordered points, that no waiter is lost or woken twice, and
// that teardown leaves nothing alive.
func FuzzChainOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 5, 0, 0, 2, 6, 1, 7, 0, 3, 1, 5, 2})
	f.Add([]byte{4, 0, 4, 0, 0, 1, 3, 1, 5, 0, 5, 1, 7, 2, 0, 2, 6, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 3, 0, 6, 0, 6, 0, 6, 0, 6, 0})
	f.Add([]byte{0x80, 0, 0, 0, 0x81, 1, 5, 0, 0x87, 0, 0, 1, 6, 0, 0x84, 2, 5, 1, 6, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 600 {
			ops = ops[:600]
		}
		r := rand.New(rand.NewPCG(uint64(len(ops)), 7))
		m := newChainModel(t, 3)
		ordered := make([]bool, len(m.objs))
		lastQuery := make([]uint64, len(m.objs))
		for i := range ordered {
			ordered[i] = true
		}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := uint32(ops[i]), uint32(ops[i+1])
			idx := int(arg) % len(m.objs)
			if op%8 == 3 || op%8 == 7 {
				ordered[idx] = false // unordered points and foreign heads may lower QUERY
				ordered[int(arg/7)%len(m.objs)] = false
			}
			if op&0x80 != 0 {
				s := m.objs[idx]
				last := uint64(0)
				if h := s.Fence(); h != nil {
					last = h.Seqno()
				}
				m.park(s, uint64(r.IntN(int(last)+3)))
			}
			m.step(op, arg, r)
			m.verify()
			m.checkWaiters()
			for j, s := range m.objs {
				q := s.Query(false)
				if ordered[j] && q < lastQuery[j] {
					t.Fatalf("syncobj %d: QUERY went from %d to %d with only ordered points", j, lastQuery[j], q)
				}
				lastQuery[j] = q
			}
		}
		for _, p := range m.pending {
			p.Signal()
		}
		m.checkWaiters()
		for _, w := range m.waiters {
			if w.w.captured() == nil {
				w.s.removeWait(w.w)
			}
		}
		for _, s := range m.objs {
			s.Put()
		}
		for i, r := range m.regs {
			if n := r.ev.count.Load(); n > 1 {
				t.Fatalf("eventfd registration %d fired %d times", i, n)
			}
		}
		if l := m.d.Live(); !l.Zero() {
			t.Fatalf("after teardown Live() = %+v", l)
		}
	})
}

// modelWaiter is a WAIT_FOR_SUBMIT waiter parked on a syncobj.
type modelWaiter struct {
	s     *Syncobj
	w     *syncobjWaiter
	kicks int
	// early is set when the point was available at once: the waiter
	// captured its fence inside addWait and is never woken.
	early bool
}

// modelReg is an eventfd registration on a syncobj.
type modelReg struct {
	s     *Syncobj
	point uint64
	ev    *testEventfd
}

// park adds a waiter and an eventfd registration for a point that may or
// may not have been submitted yet.
func (m *chainModel) park(s *Syncobj, point uint64) {
	w := &syncobjWaiter{point: point, wake: &chanWaiter{ch: make(chan struct{}, 1), clock: s.d.clock}}
	s.addWait(w)
	m.waiters = append(m.waiters, &modelWaiter{s: s, w: w, early: w.captured() != nil})
	ev := newTestEventfd()
	s.addEventfd(&eventfdEntry{ev: ev, point: point})
	m.regs = append(m.regs, &modelReg{s: s, point: point, ev: ev})
}

// checkWaiters asserts that no waiter is lost (still parked although its
// point is available) or woken twice, and that no eventfd registration
// fired twice or fired before its fence signalled.
func (m *chainModel) checkWaiters() {
	m.t.Helper()
	for i, mw := range m.waiters {
		for {
			select {
			case <-mw.w.wake.(*chanWaiter).ch:
				mw.kicks++
				continue
			default:
			}
			break
		}
		captured := mw.w.captured() != nil
		switch {
		case mw.kicks > 1:
			m.t.Fatalf("waiter %d woken %d times", i, mw.kicks)
		case mw.early && mw.kicks != 0:
			m.t.Fatalf("waiter %d captured at once but was woken %d times", i, mw.kicks)
		case captured && !mw.early && mw.kicks != 1:
			m.t.Fatalf("waiter %d captured a fence but was woken %d times", i, mw.kicks)
		case !captured && mw.kicks != 0:
			m.t.Fatalf("waiter %d woken without a fence", i)
		case !captured:
			if _, ok := mw.s.Resolve(mw.w.point); ok {
				m.t.Fatalf("waiter %d for point %d lost: the point is available but the waiter is still parked", i, mw.w.point)
			}
		}
	}
	for i, r := range m.regs {
		if n := r.ev.count.Load(); n > 1 {
			m.t.Fatalf("eventfd registration %d fired %d times", i, n)
		}
	}
}

// The index must not keep signalled history alive: once the kernel's chain
// has let go of old nodes and the Go collector has freed them, appends trim
// them from the index, and answers stay the kernel's.
func TestChainIndexTrimsCollectedNodes(t *testing.T) {
	d := NewDomain(NewManualClock(0))
	s := d.NewSyncobj(false)
	defer s.Put()
	ctx := d.AllocContexts(1)
	var keep []*Fence
	for i := 1; i <= 4096; i++ {
		f := d.NewFence(ctx, uint64(i), "test", "trim")
		s.AddPoint(f, uint64(i))
		if i > 4000 {
			keep = append(keep, f) // the newest points stay pending
		} else {
			f.Signal()
		}
		if i%512 == 0 {
			runtime.GC()
		}
	}
	head := s.Fence()
	idx := head.chain.idx
	if idx == nil {
		t.Fatal("a linear timeline has no index")
	}
	idx.mu.Lock()
	base, n := idx.base, len(idx.nodes)
	idx.mu.Unlock()
	if base == 0 || n >= 4096 {
		t.Errorf("index holds depths %d..%d of 4096; want collected history trimmed", base, base+uint64(n)-1)
	}
	for p := uint64(1); p <= 4097; p++ {
		got, gok := findSeqno(head, p)
		want, wok := refFindSeqno(head, p)
		if got != want || gok != wok {
			t.Fatalf("findSeqno(%d) = %s, %v; kernel walk says %s, %v", p, describe(got), gok, describe(want), wok)
		}
	}
	if got, want := s.Query(false), refQuery(head); got != want || got != 4000 {
		t.Errorf("Query = %d; kernel walk says %d; want 4000", got, want)
	}
	for _, f := range keep {
		f.Signal()
	}
}
