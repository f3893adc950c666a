// Package drm is the guest kernel's DRM driver for virtio-gpu: device
// files and the process fd table, the DRM core ioctl layer
// (drivers/gpu/drm/drm_ioctl.c) and its ioctls, with sync objects from
// package fence.
//
// Ioctls arrive as Linux does them: a 32-bit request number and a user
// address in the calling process's memory. The layer checks the type byte
// (ENOTTY), finds the ioctl in a table (EINVAL if there is none), checks
// the node's permissions (EACCES), copies as many bytes as the caller's
// request word says (EFAULT on a fault), zero-fills a struct shorter than
// the kernel's, runs the handler, and copies the struct back — even when
// the handler failed — if both the caller's and the kernel's request words
// say OUT. Behaviour was checked against Linux 6.12 (testdata/oracle).
//
// A wasm32 guest is a 32-bit process: DRM_IOCTL_VERSION and GET_UNIQUE
// use the compat layouts, as Linux's drm_compat_ioctl does for a 32-bit
// process.
//
// The driver reaches its virtio-gpu device only through virtqueues in
// guest memory ([Driver.Probe], virtgpu.go). It has every virtgpu ioctl:
// GETPARAM, GET_CAPS, CONTEXT_INIT, the resource and GEM ioctls (gem.go),
// PRIME (prime.go) and the seed's EXECBUFFER (execbuffer.go). On card0 it
// has the KMS subset: the object getters (kms.go), properties
// (kms_props.go), connectors and property blobs (kms_state.go), dumb
// buffers and framebuffers (kms_fb.go), and SETCRTC, PAGE_FLIP and ATOMIC
// with in- and out-fences, paced by a vblank at the mode's refresh rate
// (kms_commit.go). Linux references: testdata/oracle/kms*.linux.txt.
//
// With a sink ([Driver.SetTrace]) the driver records what it does on a
// machine's timeline: ioctls, in-fence waits, fences emitted and
// signalled, requests queued, syncobj changes, sync_files, eventfds,
// commits, vblanks and flips (trace.go lists them), each naming the
// process that caused it.
package drm

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// Paths a guest may open.
const (
	PathRender = "/dev/dri/renderD128"
	PathCard   = "/dev/dri/card0"
	PathSwSync = "/sys/kernel/debug/sync/sw_sync"
	PathNull   = "/dev/null"
)

// Open flags a guest may pass (Linux values); the access mode bits are
// accepted and ignored.
const (
	O_RDONLY = 0
	O_WRONLY = 1
	O_RDWR   = 2
)

// Driver is one machine's guest kernel as far as DRM goes: its fence
// domain, and the state its device files share.
type Driver struct {
	d   *fence.Domain
	gpu *gpu // nil until Probe

	// idMu guards ctxIDs, the context ids in use (the kernel's
	// ctx_id_ida), and rings, the device timeline behind each ring's
	// dma-fence context.
	idMu   sync.Mutex
	ctxIDs map[uint32]bool
	resIDs map[uint32]bool
	rings  map[uint64]deviceTimeline

	hostWaits atomic.Bool

	// offMu guards offsets, the objects' mmap offsets (the device's
	// drm_vma_offset_manager): an object is in it from its creation until
	// it is freed.
	offMu   sync.Mutex
	offsets map[uint64]*gemObject

	kms *kmsState // mode setting (kms_state.go); no outputs before Probe

	// chMu guards channels, the fd-passing channels by name (channel.go).
	chMu     sync.Mutex
	channels map[string]*channel

	masterTaken atomic.Bool // the primary node's first opener is master

	// sink receives the driver's timeline events (nil: none); current
	// says which task runs now. Both are set before use (SetTrace).
	sink    timeline.Sink
	current func() *Task
}

// NewDriver returns a driver whose fences live in d.
func NewDriver(d *fence.Domain) *Driver {
	drv := &Driver{d: d, ctxIDs: map[uint32]bool{}, resIDs: map[uint32]bool{}, rings: map[uint64]deviceTimeline{},
		offsets: map[uint64]*gemObject{}}
	drv.kms = drv.newKMS(0)
	return drv
}

// SetHostWaits turns on the seed's announced next step, off by default so
// that the driver behaves as Linux: an EXECBUFFER in-fence that is a fence
// of another of this device's timelines is not waited in the guest but
// handed to the host, as a WAIT command at the head of the submission, for
// the device to wait on. Other in-fences are still waited in the guest.
func (drv *Driver) SetHostWaits(on bool) { drv.hostWaits.Store(on) }

// deviceTimeline names a device fence timeline: the global one (ctxID 0)
// or a context's ring.
type deviceTimeline struct {
	ctxID uint32
	ring  uint8
}

// timelineOf says which device timeline a dma-fence context belongs to.
func (drv *Driver) timelineOf(fenceCtx uint64) (deviceTimeline, bool) {
	if g := drv.gpu; g != nil && fenceCtx == g.fences.context {
		return deviceTimeline{}, true
	}
	drv.idMu.Lock()
	defer drv.idMu.Unlock()
	t, ok := drv.rings[fenceCtx]
	return t, ok
}

// takeID marks and returns the lowest id ≥ 1 not in used (drv.ctxIDs or
// drv.resIDs), as the kernel's ida_alloc + 1 hands out context ids
// (virtio_gpu_driver_open) and resource ids (virtio_gpu_resource_id_get).
func (drv *Driver) takeID(used map[uint32]bool) uint32 {
	drv.idMu.Lock()
	defer drv.idMu.Unlock()
	id := lowestFree(used, 1)
	used[id] = true
	return id
}

// lowestFree is the lowest key of m from from on that m does not hold:
// how the kernel's IDAs and IDRs hand out ids (context and resource ids,
// GEM handles, mode object ids).
func lowestFree[V any](m map[uint32]V, from uint32) uint32 {
	id := from
	for {
		if _, taken := m[id]; !taken {
			return id
		}
		id++
	}
}

// dropID gives id back to used.
func (drv *Driver) dropID(used map[uint32]bool, id uint32) {
	drv.idMu.Lock()
	defer drv.idMu.Unlock()
	delete(used, id)
}

// Domain returns the driver's fence domain.
func (drv *Driver) Domain() *fence.Domain { return drv.d }

// Task is the calling process as a system call sees it: its memory, its
// fd table, its name, and a context that is done while a signal is
// pending (blocking calls then return ERESTARTSYS). Pid names it in
// timeline events (0 for none). A task is one process: its system calls
// do not run concurrently with each other.
type Task struct {
	Mem  fence.UserMemory
	FDs  *FDTable
	Ctx  context.Context
	Comm string
	Pid  int32

	// ioctlFD is the fd of the ioctl in progress (a process makes one
	// at a time), which its events name. Only the task's own calls
	// touch it.
	ioctlFD int32
}

// Open opens path for t, as open(2), and returns the new fd: ENOENT for a
// path fencelab does not have, EINVAL for flags it does not know, EMFILE
// for a full fd table.
func (drv *Driver) Open(t *Task, path string, flags uint32) (int32, errno.Errno) {
	if flags&^(O_WRONLY|O_RDWR|O_NONBLOCK|O_CLOEXEC) != 0 {
		return -1, errno.EINVAL
	}
	var f fence.File
	switch path {
	case PathRender:
		f = drv.newFile(NodeRender)
	case PathCard:
		f = drv.newFile(NodePrimary)
	case PathSwSync:
		f = drv.d.NewTimeline(t.Comm)
	case PathNull:
		f = NullFile{}
	default:
		if !strings.HasPrefix(path, PathChannels) {
			return -1, errno.ENOENT
		}
		c, e := drv.openChannel(path)
		if e != 0 {
			return -1, e
		}
		f = c
	}
	return t.FDs.Open(f)
}

// Eventfd creates an eventfd for t, as eventfd2(2).
func (drv *Driver) Eventfd(t *Task, initval, flags uint32) (int32, errno.Errno) {
	e, err := NewEventfd(initval, flags)
	if err != 0 {
		return -1, err
	}
	e.newWaiter = drv.d.NewWaiter
	return t.FDs.Open(e)
}

// Ioctl is ioctl(2): it dispatches on the kind of file fd refers to. A
// DRM file runs the DRM ioctl layer; sync_file and sw_sync files their own
// ioctls; anything else is ENOTTY. A bad fd is EBADF. Every call, even
// one on a bad fd, is an IoctlEnter and an IoctlExit on the timeline.
func (drv *Driver) Ioctl(t *Task, fd int32, req uint32, arg uint64) errno.Errno {
	if !drv.tracing() {
		return drv.ioctl(t, fd, req, arg)
	}
	t.ioctlFD = fd
	drv.emit(timeline.Event{Kind: timeline.IoctlEnter, Pid: t.Pid, FD: fd, Ioctl: req})
	e := drv.ioctl(t, fd, req, arg)
	drv.emit(timeline.Event{Kind: timeline.IoctlExit, Pid: t.Pid, FD: fd, Ioctl: req, Errno: uint16(e)})
	return e
}

func (drv *Driver) ioctl(t *Task, fd int32, req uint32, arg uint64) errno.Errno {
	f, e := t.FDs.Get(fd)
	if e != 0 {
		return e
	}
	defer f.DecRef()
	switch f := f.(type) {
	case *File:
		return f.Ioctl(t, req, arg)
	case *fence.SyncFile:
		return f.Ioctl(t.Mem, t.FDs, req, arg)
	case *fence.Timeline:
		return f.Ioctl(t.Mem, t.FDs, req, arg)
	}
	return errno.ENOTTY
}

// Node says which device file a DRM file was opened through.
type Node uint8

const (
	// NodePrimary is /dev/dri/card0: KMS, and everything render allows.
	NodePrimary Node = iota
	// NodeRender is /dev/dri/renderD128: only DRM_RENDER_ALLOW ioctls.
	NodeRender
)

// File is an open DRM file (struct drm_file): its node, whether it is
// master, and its syncobj handles.
type File struct {
	drv      *Driver
	node     Node
	master   bool
	refs     atomic.Int32
	syncobjs *fence.SyncobjTable
	gem      gemHandles
	prime    primeCache

	// ctxMu guards virt (the kernel's context_lock). Creating the context
	// queues a request while holding it, which may park the process, so it
	// is a sleepLock: another process waiting for it parks too.
	ctxMu sleepLock
	virt  ctxState

	// kmsMu guards caps, what the client told SET_CLIENT_CAP.
	kmsMu sync.Mutex
	caps  clientCaps

	// fbs and blobs are the framebuffers and property blobs this file
	// created, newest last; guarded by the driver's kmsState.mu.
	fbs   []*framebuffer
	blobs []*propBlob

	// evMu guards the pending DRM events, the space left for them, and
	// the pollers to wake when one arrives.
	evMu     sync.Mutex
	events   [][]byte
	evSpace  int
	watchers waitList
}

func (drv *Driver) newFile(node Node) *File {
	f := &File{drv: drv, node: node, syncobjs: drv.d.NewSyncobjTable(0), evSpace: eventSpace}
	if node == NodePrimary {
		f.master = drv.masterTaken.CompareAndSwap(false, true)
	}
	// A 3D device gives every file a context id at open.
	if g := drv.gpu; g != nil && g.has(device.VIRTIO_GPU_F_VIRGL) {
		f.virt.ctxID = drv.takeID(drv.ctxIDs)
	}
	f.refs.Store(1)
	return f
}

// IncRef implements [fence.File].
func (f *File) IncRef() { f.refs.Add(1) }

// DecRef implements [fence.File]. The last reference releases the file
// (drm_release): its syncobj handles are dropped, and a master gives up
// mastership.
func (f *File) DecRef() {
	switch n := f.refs.Add(-1); {
	case n < 0:
		panic("drm: File reference count below zero")
	case n > 0:
		return
	}
	f.syncobjs.Close()
	f.releaseKMS()
	f.gem.closeAll()
	if f.master {
		f.drv.masterTaken.Store(false)
	}
	if f.virt.ctxID != 0 {
		if f.virt.created {
			req := cmdBuf(device.VIRTIO_GPU_CMD_CTX_DESTROY, nil)
			le.PutUint32(req[16:], f.virt.ctxID)
			f.drv.gpu.queueCmd(nil, req, nil, device.CtrlHdrSize, nil, -1, nil)
		}
		f.drv.dropID(f.drv.ctxIDs, f.virt.ctxID)
	}
}

// Node returns the node the file was opened through.
func (f *File) Node() Node { return f.node }

// Syncobjs returns the file's syncobj handle table.
func (f *File) Syncobjs() *fence.SyncobjTable { return f.syncobjs }
