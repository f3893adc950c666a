package fence

import (
	"sync/atomic"
	"weak"
)

// chainPart is what a chain node adds to a fence (struct dma_fence_chain).
//
// The kernel's chain is a singly-linked list from the newest point down,
// through prev. fencelab keeps that list exactly, garbage collection
// included, because results depend on it; and adds one "jump" pointer per
// node so that searches by seqno need O(log n) steps instead of a walk over
// every pending point (see findSeqno and queryPayload).
type chainPart struct {
	// prev is the previous syncobj fence at insertion time: another node,
	// a plain fence, or nil. The garbage-collecting walk shortens it past
	// signalled nodes, exactly as dma_fence_chain_walk does.
	prev atomic.Pointer[Fence]
	// prevSeqno is prev's seqno at insertion when prev was a node of the
	// same context, else 0; it survives garbage collection.
	prevSeqno uint64
	// contained is the fence this timeline point waits for. Never a chain.
	contained *Fence

	// depth is the node's distance from the bottom of its context's run
	// of nodes (0 for a node that started a context).
	depth uint64
	// jump points at an ancestor in the same context, chosen by the
	// skew-binary rule (Myers, "An applicative random-access stack", 1983),
	// so that any ancestor is reached in O(log n) jumps and parent steps.
	// It is weak: it must not keep signalled history alive that the
	// kernel would have freed. A collected target only costs speed.
	jump weak.Pointer[Fence]
}

// newChainNode links a new timeline point over prev, as dma_fence_chain_init:
// it reuses prev's context when prev is a chain node and point is later
// (64-bit) than prev's seqno; otherwise it allocates a new context and,
// over a chain node, keeps the seqno from going backwards.
func (d *Domain) newChainNode(prev, contained *Fence, point uint64) *Fence {
	if contained == nil || contained.kind == kindChain {
		panic("fence: a chain node must contain a non-chain fence")
	}
	n := &Fence{d: d, kind: kindChain, seqno64: true, driver: "dma_fence_chain", timeline: "unbound"}
	c := &chainPart{contained: contained}
	n.chain = c
	c.prev.Store(prev)
	var pc *chainPart
	if prev != nil {
		pc = prev.chain
	}
	if pc != nil && point > prev.Seqno() {
		n.context = prev.context
		c.prevSeqno = prev.Seqno()
		c.depth = pc.depth + 1
		c.jump = weak.Make(prev)
		if pj := pc.jump.Value(); pj != nil {
			if pjj := pj.chain.jump.Value(); pjj != nil &&
				pc.depth-pj.chain.depth == pj.chain.depth-pjj.chain.depth {
				c.jump = weak.Make(pjj)
			}
		}
	} else {
		n.context = d.AllocContexts(1)
		if pc != nil && prev.Seqno() > point {
			point = prev.Seqno()
		}
	}
	n.seqno.Store(point)
	return n
}

// Prev returns the node's current prev link (after any garbage collection),
// or nil. It is nil for fences that are not chain nodes.
func (f *Fence) Prev() *Fence {
	if f.chain == nil {
		return nil
	}
	return f.chain.prev.Load()
}

// PrevSeqno returns a chain node's prev_seqno, or 0 for other fences.
func (f *Fence) PrevSeqno() uint64 {
	if f.chain == nil {
		return 0
	}
	return f.chain.prevSeqno
}

// Contained returns the fence a chain node waits for, or f itself for any
// other fence (dma_fence_chain_contained).
func (f *Fence) Contained() *Fence {
	if f.chain == nil {
		return f
	}
	return f.chain.contained
}

// walk returns the next fence a chain iteration visits after f, unlinking
// signalled nodes on the way, as dma_fence_chain_walk: the first fence
// below f whose own payload (a node's contained fence, or a plain fence) is
// still pending, or nil. For a fence that is not a chain node it returns nil.
//
// Each call costs one step per signalled node it unlinks; a node is unlinked
// from a given parent once, so walks cost amortised O(1) per node.
func (f *Fence) walk() *Fence {
	c := f.chain
	if c == nil {
		return nil
	}
	for {
		prev := c.prev.Load()
		if prev == nil {
			return nil
		}
		var replacement *Fence
		if pc := prev.chain; pc != nil {
			if !pc.contained.IsSignaled() {
				return prev
			}
			replacement = pc.prev.Load()
		} else if !prev.IsSignaled() {
			return prev
		}
		c.prev.CompareAndSwap(prev, replacement)
	}
}

// pendingAtOrBelow returns the first fence a chain iteration starting at
// node x would visit after skipping x itself if x's payload is signalled:
// x when its contained fence is pending, else walk(x).
func (x *Fence) pendingAtOrBelow() *Fence {
	if !x.chain.contained.IsSignaled() {
		return x
	}
	return x.walk()
}

// chainComplete reports whether the node's contained fence and everything
// still reachable through prev have signalled (dma_fence_chain_signaled).
func (f *Fence) chainComplete() bool {
	return f.chain.contained.IsSignaled() && f.walk() == nil
}

// chainEnable arms the node on the first pending fence of its iteration,
// as dma_fence_chain_enable_signaling. It returns false, after signalling
// the node, if nothing is pending. Arming once is enough: the internal
// callback re-arms itself (dma_fence_chain_irq_work).
func (f *Fence) chainEnable() bool {
	f.mu.Lock()
	armed := f.enabled
	f.enabled = true
	f.mu.Unlock()
	if armed {
		return f.state.Load() != stateSignaled
	}
	if f.chainArm() {
		return true
	}
	f.signal(0, f.d.Now())
	return false
}

func (f *Fence) chainArm() bool {
	for x := f; x != nil; x = x.walk() {
		if _, ok := x.Contained().AddCallback(f.chainWake); ok {
			return true
		}
	}
	return false
}

func (f *Fence) chainWake(*Fence) {
	if !f.chainArm() {
		f.signal(0, f.d.Now())
	}
}

// findSeqno resolves point on the chain headed by head, as
// dma_fence_chain_find_seqno. It reports ok == false when point is not
// available yet (head is not a chain, or head's seqno is below point); with
// ok == true the result is the node covering point, or nil when that part of
// the chain has already signalled and been collected (callers substitute
// the signalled stub). Point 0 resolves to head itself.
//
// The kernel visits every pending node between head and the answer. This
// search returns the same node in O(log n) steps for n pending points, by
// jumping over nodes that are certainly above the answer: a node whose
// prev_seqno is ≥ point lies above the node covering point, and the first
// pending fence at or below the covering node is exactly what the kernel's
// iteration stops at.
func findSeqno(head *Fence, point uint64) (*Fence, bool) {
	if point == 0 {
		return head, true
	}
	if head == nil || head.chain == nil || head.Seqno() < point {
		return nil, false
	}
	if head.chain.prevSeqno < point {
		return head, true
	}
	x := head
	for {
		// Here x is a node of head's context with prevSeqno ≥ point: the
		// answer lies strictly below x.
		if j := x.chain.jump.Value(); j != nil && j.chain.prevSeqno >= point {
			x = j
			continue
		}
		p := x.walk()
		if p == nil {
			return nil, true
		}
		if p.context != head.context || p.chain.prevSeqno < point {
			return p, true
		}
		x = p
	}
}

// queryPayload is the DRM_IOCTL_SYNCOBJ_QUERY answer for a chain head: the
// highest point known to have signalled on the head's timeline. The kernel
// iterates from the head while the context stays the head's, takes the
// last visited node L, and answers L's seqno if L has signalled, else L's
// prev_seqno. Visited nodes are the head and every node whose contained
// fence is pending, so L is the lowest pending node of the head's context,
// or the head. This finds L in O(log n) jumps: from a candidate x, a jump
// target j whose first pending fence at or below it is still in the head's
// context proves L is at or below that fence.
func queryPayload(head *Fence) uint64 {
	x := head
	for {
		if j := x.chain.jump.Value(); j != nil {
			if u := j.pendingAtOrBelow(); u != nil && u.context == head.context {
				x = u
				continue
			}
		}
		p := x.walk()
		if p == nil || p.context != head.context {
			break
		}
		x = p
	}
	if x.IsSignaled() {
		return x.Seqno()
	}
	return x.chain.prevSeqno
}

// Unwrap returns the leaf fences of f in the order the kernel's
// dma_fence_unwrap_for_each yields them: for a chain, each visited node's
// contained fence (head first, then every node still pending, collecting
// signalled ones on the way), with arrays expanded into their members; a
// plain fence yields itself. The result is a snapshot: O(k) for k leaves.
func Unwrap(f *Fence) []*Fence {
	var out []*Fence
	for x := f; x != nil; x = x.walk() {
		c := x.Contained()
		if c.kind == kindArray {
			if len(c.array.members) == 0 {
				break // dma_fence_array_first yields NULL: iteration ends
			}
			out = append(out, c.array.members...)
		} else {
			out = append(out, c)
		}
	}
	return out
}
