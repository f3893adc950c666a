package fence

import (
	"container/heap"
	"sync"

	"fencelab/errno"
)

// DefaultMaxHandles is the number of syncobj handles one DRM file may hold
// before CREATE and FD_TO_HANDLE fail with ENOMEM. Linux's limit is kernel
// memory; a machine in a browser tab needs a smaller, explicit one.
const DefaultMaxHandles = 1 << 16

// kmallocMax is the largest single allocation kmalloc grants
// (KMALLOC_MAX_SIZE on x86-64: 4 MiB). The ioctls size their temporary
// arrays from guest-supplied counts; beyond this they fail with ENOMEM
// before touching guest memory, as the kernel's kmalloc_array does.
const kmallocMax = 4 << 20

// waitEntrySize is sizeof(struct syncobj_wait_entry) on x86-64, which
// bounds how many handles one WAIT may name.
const waitEntrySize = 64

// SyncobjTable is a DRM file's syncobj handle table (drm_file.syncobj_idr):
// each new handle is the lowest free id ≥ 1, handle 0 is never valid, and
// ids are reused after DESTROY. Its methods named after ioctls implement
// them on the decoded UAPI struct, as the drm_syncobj_*_ioctl functions do
// after the DRM core has copied the struct in; arrays named by user
// pointers are copied through a [UserMemory].
//
// A SyncobjTable is safe for concurrent use. The zero value is not usable;
// see [Domain.NewSyncobjTable].
type SyncobjTable struct {
	d   *Domain
	max int

	// mu guards the fields below it.
	mu    sync.Mutex
	objs  []*Syncobj // objs[h] for handle h; objs[0] is always nil
	free  idHeap     // freed handles below len(objs)
	count int
}

// NewSyncobjTable returns an empty table allowing at most max handles
// (DefaultMaxHandles if max ≤ 0).
func (d *Domain) NewSyncobjTable(max int) *SyncobjTable {
	if max <= 0 {
		max = DefaultMaxHandles
	}
	return &SyncobjTable{d: d, max: max, objs: []*Syncobj{nil}}
}

// Install gives s a new handle holding a new reference, as
// drm_syncobj_get_handle: the lowest free id, or ENOMEM when the table is
// full. O(log n).
func (t *SyncobjTable) Install(s *Syncobj) (uint32, errno.Errno) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count >= t.max {
		return 0, errno.ENOMEM
	}
	s.Get()
	t.count++
	if len(t.free) > 0 {
		h := heap.Pop(&t.free).(uint32)
		t.objs[h] = s
		return h, 0
	}
	t.objs = append(t.objs, s)
	return uint32(len(t.objs) - 1), 0
}

// Find returns the syncobj behind handle with a new reference, or nil, as
// drm_syncobj_find. The caller drops the reference with [Syncobj.Put]. O(1).
func (t *SyncobjTable) Find(handle uint32) *Syncobj {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uint64(handle) >= uint64(len(t.objs)) {
		return nil
	}
	s := t.objs[handle]
	if s != nil {
		s.Get()
	}
	return s
}

// remove takes handle out of the table and returns its syncobj (whose
// table reference passes to the caller), or nil.
func (t *SyncobjTable) remove(handle uint32) *Syncobj {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uint64(handle) >= uint64(len(t.objs)) || t.objs[handle] == nil {
		return nil
	}
	s := t.objs[handle]
	t.objs[handle] = nil
	t.count--
	heap.Push(&t.free, handle)
	return s
}

// Len returns how many handles the table holds.
func (t *SyncobjTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count
}

// Close drops every handle, as drm_syncobj_release does when the DRM file
// is closed. The table is empty and usable afterwards.
func (t *SyncobjTable) Close() {
	t.mu.Lock()
	objs := t.objs
	t.objs = []*Syncobj{nil}
	t.free = nil
	t.count = 0
	t.mu.Unlock()
	for _, s := range objs {
		if s != nil {
			s.Put()
		}
	}
}

// FindArray copies count u32 handles from addr and looks each up, as
// drm_syncobj_array_find: ENOMEM if the handles would exceed what kmalloc
// grants, EFAULT if their copy faults, ENOMEM if the array of pointers
// would, then ENOENT at the first unknown handle,
// in which case no reference is kept (all or nothing). On success the
// caller owns one reference per entry; see [PutAll]. O(n).
func (t *SyncobjTable) FindArray(mem UserMemory, addr uint64, count uint32) ([]*Syncobj, errno.Errno) {
	objs, _, e := t.findArray(mem, addr, count)
	return objs, e
}

// findArray is FindArray that also returns the handles as copied in
// (little-endian u32s), which traces name.
func (t *SyncobjTable) findArray(mem UserMemory, addr uint64, count uint32) ([]*Syncobj, []byte, errno.Errno) {
	// The kernel allocates the u32 handles, copies them in, and only then
	// allocates the array of pointers: so a count whose pointers would not
	// fit but whose handles would faults before it runs out of memory.
	if uint64(count)*4 > kmallocMax {
		return nil, nil, errno.ENOMEM
	}
	raw := make([]byte, int(count)*4)
	if e := mem.CopyIn(addr, raw); e != 0 {
		return nil, nil, e
	}
	if uint64(count)*8 > kmallocMax {
		return nil, nil, errno.ENOMEM
	}
	objs := make([]*Syncobj, count)
	for i := range objs {
		if objs[i] = t.Find(le.Uint32(raw[i*4:])); objs[i] == nil {
			PutAll(objs[:i])
			return nil, nil, errno.ENOENT
		}
	}
	return objs, raw, 0
}

// PutAll drops one reference on each syncobj.
func PutAll(objs []*Syncobj) {
	for _, s := range objs {
		s.Put()
	}
}

// idHeap is a min-heap of free handles.
type idHeap []uint32

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(uint32)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
