package fence

import (
	"sort"
	"sync"
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
	// jumpPrevSeqno is the jump target's prevSeqno, kept here so that a
	// search can reject a jump without touching the target's memory.
	jumpPrevSeqno uint64
	// idx is the context's linear index, when this node and every node
	// below it in its context were appended at the tip of that index;
	// nil for a node that branched off the middle of its context.
	idx *ctxIndex
}

// ctxIndex lists the nodes of one context in order of depth, as long as
// they form a single line (each appended on top of the previous tip). It
// keeps their prev_seqnos in one contiguous array, so find_seqno is a
// binary search over memory that stays in cache rather than a walk over
// scattered nodes. Nodes are held weakly, and a prefix of collected nodes
// is trimmed as the index grows, so the index keeps alive no more than the
// kernel's chain would.
type ctxIndex struct {
	// mu guards the fields below it.
	mu        sync.Mutex
	base      uint64   // depth of entry 0
	prevSeqno []uint64 // non-decreasing with depth
	nodes     []weak.Pointer[Fence]
}

// appendTip adds n at depth if the index's tip is at depth-1 and reports
// whether it did.
func (x *ctxIndex) appendTip(n *Fence, depth uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.base+uint64(len(x.nodes)) != depth {
		return false
	}
	if l := len(x.nodes); l >= 64 && l&(l-1) == 0 {
		x.trimLocked()
	}
	x.prevSeqno = append(x.prevSeqno, n.chain.prevSeqno)
	x.nodes = append(x.nodes, weak.Make(n))
	return true
}

// trimLocked drops the longest prefix of collected nodes, if it is at
// least half the index, into fresh arrays so their memory is released.
func (x *ctxIndex) trimLocked() {
	dead := 0
	for dead < len(x.nodes) && x.nodes[dead].Value() == nil {
		dead++
	}
	if dead < len(x.nodes)/2 {
		return
	}
	x.base += uint64(dead)
	x.prevSeqno = append([]uint64(nil), x.prevSeqno[dead:]...)
	x.nodes = append([]weak.Pointer[Fence](nil), x.nodes[dead:]...)
}

// stop returns the deepest-from-head node at or below headDepth whose
// prev_seqno is < point: where the kernel's find_seqno iteration stops if
// that node is pending. ok is false if that node has been collected or
// trimmed; the caller then searches by jumps.
func (x *ctxIndex) stop(headDepth, point uint64) (*Fence, bool) {
	x.mu.Lock()
	if headDepth < x.base || headDepth-x.base >= uint64(len(x.nodes)) {
		x.mu.Unlock()
		return nil, false
	}
	hi := int(headDepth-x.base) + 1
	i := sort.Search(hi, func(i int) bool { return x.prevSeqno[i] >= point }) - 1
	if i < 0 {
		x.mu.Unlock()
		return nil, false
	}
	w := x.nodes[i]
	x.mu.Unlock()
	n := w.Value()
	return n, n != nil
}

// chainNode allocates a node's fence and chain part together, so a search
// step touches one object, not two.
type chainNode struct {
	f Fence
	c chainPart
}

// newChainNode links a new timeline point over prev, as dma_fence_chain_init:
// it reuses prev's context when prev is a chain node and point is later
// (64-bit) than prev's seqno; otherwise it allocates a new context and,
// over a chain node, keeps the seqno from going backwards.
func (d *Domain) newChainNode(prev, contained *Fence, point uint64) *Fence {
	if contained == nil || contained.kind == kindChain {
		panic("fence: a chain node must contain a non-chain fence")
	}
	node := &chainNode{f: Fence{d: d, kind: kindChain, seqno64: true, driver: "dma_fence_chain", timeline: "unbound"}}
	n, c := &node.f, &node.c
	n.chain = c
	c.contained = contained
	c.prev.Store(prev)
	var pc *chainPart
	if prev != nil {
		pc = prev.chain
	}
	if pc != nil && point > prev.Seqno() {
		n.context = prev.context
		c.prevSeqno = prev.Seqno()
		c.depth = pc.depth + 1
		// Myers' rule: if prev's jump and its jump's jump span equal
		// distances, leap over both; else jump to prev itself.
		jump := prev
		if pj := pc.jump.Value(); pj != nil {
			if pjj := pj.chain.jump.Value(); pjj != nil &&
				pc.depth-pj.chain.depth == pj.chain.depth-pjj.chain.depth {
				jump = pjj
			}
		}
		c.jump = weak.Make(jump)
		c.jumpPrevSeqno = jump.chain.prevSeqno
		if pc.idx != nil && pc.idx.appendTip(n, c.depth) {
			c.idx = pc.idx
		}
	} else {
		n.context = d.AllocContexts(1)
		if pc != nil && prev.Seqno() > point {
			point = prev.Seqno()
		}
		c.idx = &ctxIndex{prevSeqno: []uint64{0}, nodes: []weak.Pointer[Fence]{weak.Make(n)}}
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
// The kernel visits every pending node from the head down and stops at the
// first one that is of another context or has prev_seqno < point. Since
// prev_seqno only falls going down a context, every node with prev_seqno ≥
// point lies above that stop, signalled or not; so this search descends
// over such nodes without looking at their fences, and only at the first
// node at or below the stop asks which fence is pending. The stop is found
// by binary search in the context's index when the context is a single
// line (the common case), else by jump pointers and prev links: O(log n)
// for n pending points either way.
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
	if idx := head.chain.idx; idx != nil {
		if n, ok := idx.stop(head.chain.depth, point); ok {
			return n.pendingAtOrBelow(), true
		}
	}
	x := head
	for {
		// x is a node of head's context with prevSeqno ≥ point: the
		// answer lies strictly below it.
		c := x.chain
		if c.jumpPrevSeqno >= point {
			if j := c.jump.Value(); j != nil {
				x = j
				continue
			}
		}
		p := c.prev.Load()
		if p == nil {
			return nil, true
		}
		if p.context == head.context && p.chain.prevSeqno >= point {
			x = p
			continue
		}
		// p is at or below the stop, and whatever lay between x and p
		// was unlinked because it had signalled: the kernel stops at the
		// first pending fence at or below p.
		if p.chain == nil {
			if p.IsSignaled() {
				return nil, true
			}
			return p, true
		}
		return p.pendingAtOrBelow(), true
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
