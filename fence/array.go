package fence

import (
	"slices"
	"sync/atomic"

	"fencelab/errno"
)

// arrayPart is what a fence array adds to a fence (struct dma_fence_array).
type arrayPart struct {
	members []*Fence
	pending atomic.Int32
	// firstErr is the first member error seen before the array signalled
	// (dma_fence_array_set_pending_error: first error wins).
	firstErr atomic.Uint32
}

// newArray returns a fence that signals when every member has (or, with
// signalOnAny, when one has), as dma_fence_array_create. Members must be
// plain fences. Unlike the kernel, which arms its member callbacks only
// when someone first waits, the array arms them at once, so its timestamp
// is the moment its last member signalled; the signalled/pending answers
// are the same.
func (d *Domain) newArray(members []*Fence, context, seqno uint64, signalOnAny bool) *Fence {
	if len(members) == 0 {
		panic("fence: an array needs members")
	}
	a := &Fence{d: d, context: context, kind: kindArray, driver: "dma_fence_array", timeline: "unbound"}
	a.seqno.Store(seqno)
	p := &arrayPart{members: slices.Clone(members)}
	a.array = p
	n := int32(len(members))
	if signalOnAny {
		n = 1
	}
	p.pending.Store(n)
	for _, m := range p.members {
		if m.kind != kindPlain {
			panic("fence: an array member must be a plain fence")
		}
		if _, ok := m.AddCallback(a.arrayMemberSignaled); !ok {
			a.arrayMemberSignaled(m)
		}
	}
	return a
}

func (a *Fence) arrayMemberSignaled(m *Fence) {
	p := a.array
	if e := m.Error(); e != 0 {
		p.firstErr.CompareAndSwap(0, uint32(e))
	}
	if p.pending.Add(-1) == 0 {
		a.signal(errno.Errno(p.firstErr.Load()), a.d.Now())
	}
}

// Members returns the members of a fence array, or nil for other fences.
func (f *Fence) Members() []*Fence {
	if f.array == nil {
		return nil
	}
	return slices.Clone(f.array.members)
}

// MatchContext reports whether f belongs to context ctx: for an array,
// whether every member does (dma_fence_match_context).
func MatchContext(f *Fence, ctx uint64) bool {
	if f.array == nil {
		return f.context == ctx
	}
	for _, m := range f.array.members {
		if m.context != ctx {
			return false
		}
	}
	return true
}

// Merge flattens fences into one, as dma_fence_unwrap_merge: every input is
// unwrapped ([Unwrap]), signalled leaves are dropped, and of the pending
// leaves only the latest per context is kept. No pending leaf gives a new
// signalled private stub stamped with the latest timestamp among the
// signalled leaves; one gives that leaf itself; more give a new array on a
// fresh context with seqno 1, its members sorted by context.
//
// Errors of leaves that had already signalled are lost, as in the kernel.
// O(k log k) for k leaves.
func (d *Domain) Merge(fences ...*Fence) *Fence {
	var pending []*Fence
	var latest int64
	for _, f := range fences {
		for _, leaf := range Unwrap(f) {
			if leaf.IsSignaled() {
				if ts, _ := leaf.Timestamp(); ts > latest {
					latest = ts
				}
				continue
			}
			pending = append(pending, leaf)
		}
	}
	if len(pending) == 0 {
		return d.NewStub(latest)
	}
	// fence_cmp: by context, and within a context the later fence first.
	// This is the merge of Linux 6.12.y as Debian ships it ("dma-fence: Use
	// kernel's sort for merging fences", in 6.12-stable); v6.12.0 itself
	// did a k-way merge that assumed sorted inputs.
	slices.SortStableFunc(pending, func(a, b *Fence) int {
		switch {
		case a.context < b.context:
			return -1
		case a.context > b.context:
			return 1
		case IsLater(a, b):
			return -1
		case IsLater(b, a):
			return 1
		}
		return 0
	})
	kept := pending[:1]
	for _, f := range pending[1:] {
		if f.context != kept[len(kept)-1].context {
			kept = append(kept, f)
		}
	}
	if len(kept) == 1 {
		return kept[0]
	}
	return d.newArray(kept, d.AllocContexts(1), 1, false)
}
