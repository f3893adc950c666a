package drm

import (
	"sort"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// virtgpu request numbers (include/uapi/drm/virtgpu_drm.h).
var (
	DRM_IOCTL_VIRTGPU_EXECBUFFER   = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x02, execbufSize)
	DRM_IOCTL_VIRTGPU_GETPARAM     = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x03, 16)
	DRM_IOCTL_VIRTGPU_GET_CAPS     = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x09, 24)
	DRM_IOCTL_VIRTGPU_CONTEXT_INIT = IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE+0x0b, 16)
)

// EXECBUFFER flags and syncobj descriptor flags.
const (
	VIRTGPU_EXECBUF_FENCE_FD_IN  = 0x01
	VIRTGPU_EXECBUF_FENCE_FD_OUT = 0x02
	VIRTGPU_EXECBUF_RING_IDX     = 0x04
	VIRTGPU_EXECBUF_FLAGS        = 0x07

	VIRTGPU_EXECBUF_SYNCOBJ_RESET = 0x01

	// VIRTGPU_EVENT_FENCE_SIGNALED is the DRM event a poll-ring submit
	// delivers when its fence signals.
	VIRTGPU_EVENT_FENCE_SIGNALED = 0x90000000
)

// GETPARAM params.
const (
	VIRTGPU_PARAM_3D_FEATURES          = 1
	VIRTGPU_PARAM_CAPSET_QUERY_FIX     = 2
	VIRTGPU_PARAM_RESOURCE_BLOB        = 3
	VIRTGPU_PARAM_HOST_VISIBLE         = 4
	VIRTGPU_PARAM_CROSS_DEVICE         = 5
	VIRTGPU_PARAM_CONTEXT_INIT         = 6
	VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs = 7
	VIRTGPU_PARAM_EXPLICIT_DEBUG_NAME  = 8
)

// CONTEXT_INIT params and limits (virtgpu_drv.h).
const (
	VIRTGPU_CONTEXT_PARAM_CAPSET_ID       = 1
	VIRTGPU_CONTEXT_PARAM_NUM_RINGS       = 2
	VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK = 3
	VIRTGPU_CONTEXT_PARAM_DEBUG_NAME      = 4

	maxCapsetID   = 63
	maxRings      = 64
	debugNameSize = 65 // 64 characters and a NUL
)

// execbufSize is sizeof(struct drm_virtgpu_execbuffer); syncobjDescSize
// of struct drm_virtgpu_execbuffer_syncobj.
const (
	execbufSize     = 64
	syncobjDescSize = 16
)

// taskCommLen is TASK_COMM_LEN: a task name is at most 15 characters.
const taskCommLen = 16

// kvmallocMax stands for how much kvmalloc_array will give one EXECBUFFER
// (Linux's limit is INT_MAX bytes and the machine's memory; a browser tab
// needs a smaller one). Past it: ENOMEM.
const kvmallocMax = 64 << 20

// maxHostWaits bounds the timelines one submission hands to the host;
// in-fences on further timelines are waited in the guest. hostWaitRoom is
// the stream space their WAIT commands (20 bytes each) can take, reserved
// so that a stream that fits still fits with them.
const (
	maxHostWaits = 64
	hostWaitRoom = 20 * maxHostWaits
)

// drmEventSize is the 8-byte struct drm_event a poll-ring submit reserves;
// eventSpace is each file's budget (drm_file.event_space).
const (
	drmEventSize = 8
	eventSpace   = 4096
)

// ctxState is the virtgpu part of a DRM file (struct virtio_gpu_fpriv).
type ctxState struct {
	ctxID         uint32
	created       bool
	contextInit   uint32
	numRings      uint32
	ringsSet      bool
	baseFenceCtx  uint64
	ringIdxMask   uint64
	debugName     string
	explicitDebug bool
}

func init() {
	reg := func(name string, cmd uint32, fn handler) {
		driverIoctls[iocNr(cmd)-DRM_COMMAND_BASE] = ioctlDesc{name, cmd, DRM_RENDER_ALLOW, fn}
	}
	reg("DRM_IOCTL_VIRTGPU_EXECBUFFER", DRM_IOCTL_VIRTGPU_EXECBUFFER, execbuffer)
	reg("DRM_IOCTL_VIRTGPU_GETPARAM", DRM_IOCTL_VIRTGPU_GETPARAM, getParam)
	reg("DRM_IOCTL_VIRTGPU_CONTEXT_INIT", DRM_IOCTL_VIRTGPU_CONTEXT_INIT, contextInit)
	reg("DRM_IOCTL_VIRTGPU_GET_CAPS", DRM_IOCTL_VIRTGPU_GET_CAPS, getCaps)
}

// getParam is virtio_gpu_getparam_ioctl: the answer is an int written to
// the user pointer in value; unknown params are EINVAL.
func getParam(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil {
		return errno.ENODEV
	}
	b := func(bit uint) uint32 {
		if g.has(bit) {
			return 1
		}
		return 0
	}
	var v uint32
	switch le.Uint64(data) {
	case VIRTGPU_PARAM_3D_FEATURES:
		v = b(device.VIRTIO_GPU_F_VIRGL)
	case VIRTGPU_PARAM_CAPSET_QUERY_FIX:
		v = 1
	case VIRTGPU_PARAM_RESOURCE_BLOB:
		v = b(device.VIRTIO_GPU_F_RESOURCE_BLOB)
	case VIRTGPU_PARAM_HOST_VISIBLE:
		v = 0 // no host-visible memory region
	case VIRTGPU_PARAM_CROSS_DEVICE:
		v = b(device.VIRTIO_GPU_F_RESOURCE_UUID)
	case VIRTGPU_PARAM_CONTEXT_INIT, VIRTGPU_PARAM_EXPLICIT_DEBUG_NAME:
		v = b(device.VIRTIO_GPU_F_CONTEXT_INIT)
	case VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs:
		var mask uint64
		for _, c := range g.capsets {
			if c.id < 64 {
				mask |= 1 << c.id
			}
		}
		v = uint32(mask) // the kernel stores it in an int
	default:
		return errno.EINVAL
	}
	return t.Mem.CopyOut(le.Uint64(data[8:]), le.AppendUint32(nil, v))
}

// ensureContext creates the file's host context if it has not been, as
// virtio_gpu_create_context: CTX_CREATE with the file's context_init and
// its debug name or the task's name. Caller holds f.ctxMu.
func (f *File) ensureContextLocked(t *Task) {
	c := &f.virt
	if c.created {
		return
	}
	name := c.debugName
	if !c.explicitDebug {
		name = t.Comm
	}
	if len(name) > 64 {
		name = name[:64]
	}
	if !c.explicitDebug && len(name) > taskCommLen-1 {
		name = name[:taskCommLen-1] // get_task_comm: TASK_COMM_LEN
	}
	body := make([]byte, 72)
	le.PutUint32(body[0:], uint32(len(name)))
	le.PutUint32(body[4:], c.contextInit)
	copy(body[8:], name)
	req := cmdBuf(device.VIRTIO_GPU_CMD_CTX_CREATE, body)
	le.PutUint32(req[16:], c.ctxID)
	// A 96-byte request always fits, so this only waits for room.
	if f.drv.gpu.queueCmd(nil, req, nil, device.CtrlHdrSize, nil, -1, nil) == 0 {
		c.created = true
	}
}

// contextInit is virtio_gpu_context_init_ioctl (kernel-semantics §1.5),
// quirks included: parameters are applied as they are read, with no
// rollback when a later one fails.
func contextInit(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil || !g.has(device.VIRTIO_GPU_F_CONTEXT_INIT) || !g.has(device.VIRTIO_GPU_F_VIRGL) {
		return errno.EINVAL
	}
	n := le.Uint32(data)
	if n > 4 {
		return errno.EINVAL
	}
	params := make([]byte, 16*n)
	if n > 0 && t.Mem.CopyIn(le.Uint64(data[8:]), params) != 0 {
		return errno.EFAULT
	}
	f.ctxMu.lock(f.drv.d, nil)
	defer f.ctxMu.unlock()
	c := &f.virt
	if c.created {
		return errno.EEXIST
	}
	for i := range n {
		p, v := le.Uint64(params[16*i:]), le.Uint64(params[16*i+8:])
		switch p {
		case VIRTGPU_CONTEXT_PARAM_CAPSET_ID:
			if v > maxCapsetID || !g.hasCapset(uint32(v)) || c.contextInit != 0 {
				return errno.EINVAL
			}
			c.contextInit = uint32(v) & 0xff
		case VIRTGPU_CONTEXT_PARAM_NUM_RINGS:
			// The kernel's "already set" test is base_fence_ctx != 0,
			// which even 0 rings makes true.
			if c.ringsSet || v > maxRings {
				return errno.EINVAL
			}
			c.ringsSet = true
			if v > 0 {
				c.baseFenceCtx = f.drv.d.AllocContexts(uint32(v))
				f.drv.idMu.Lock()
				for r := range uint32(v) {
					f.drv.rings[c.baseFenceCtx+uint64(r)] = deviceTimeline{ctxID: c.ctxID, ring: uint8(r)}
				}
				f.drv.idMu.Unlock()
			}
			c.numRings = uint32(v)
		case VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK:
			if c.ringIdxMask != 0 {
				return errno.EINVAL
			}
			c.ringIdxMask = v
		case VIRTGPU_CONTEXT_PARAM_DEBUG_NAME:
			if c.explicitDebug {
				return errno.EINVAL
			}
			name, e := copyString(t.Mem, v, debugNameSize)
			if e != 0 {
				return e
			}
			c.debugName, c.explicitDebug = name, true
		default:
			return errno.EINVAL
		}
	}
	if c.ringIdxMask != 0 {
		for b := uint32(0); b < 64; b++ {
			if c.ringIdxMask&(1<<b) != 0 && b >= c.numRings {
				return errno.EINVAL
			}
		}
	}
	f.ensureContextLocked(t)
	return 0
}

// capsReplyTimeout is how long GET_CAPS waits for the host (5 s, virtual).
const capsReplyTimeout = 5_000_000_000

// getCaps is virtio_gpu_get_caps_ioctl: ENOSYS without capsets, EINVAL
// for size 0 or an (id, version) the device did not advertise, then the
// capset from the cache or the host (EBUSY if the host does not answer in
// 5 s), min(size, max_size) bytes copied to addr (EFAULT).
func getCaps(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil || len(g.capsets) == 0 {
		return errno.ENOSYS
	}
	id, ver, addr, size := le.Uint32(data[0:]), le.Uint32(data[4:]), le.Uint64(data[8:]), le.Uint32(data[16:])
	if size == 0 {
		return errno.EINVAL
	}
	var found *capset
	for i := range g.capsets {
		if g.capsets[i].id == id && g.capsets[i].maxVersion >= ver {
			found = &g.capsets[i]
			break
		}
	}
	if found == nil {
		return errno.EINVAL
	}
	caps, e := g.capsetData(t, f.drv.d, id, ver, found.maxSize)
	if e != 0 {
		return e
	}
	return t.Mem.CopyOut(addr, caps[:min(size, uint32(len(caps)))])
}

// capsetData returns capset (id, version) from the cache, or asks the
// host with GET_CAPSET and caches the answer (virtio_gpu_cmd_get_capset).
func (g *gpu) capsetData(t *Task, d *fence.Domain, id, ver, maxSize uint32) ([]byte, errno.Errno) {
	key := [2]uint32{id, ver}
	g.capMu.Lock()
	if c, ok := g.capCache[key]; ok {
		g.capMu.Unlock()
		return c, 0
	}
	g.capMu.Unlock()
	var caps []byte
	var answered completion
	e := g.queueCmd(nil, cmdBuf(device.VIRTIO_GPU_CMD_GET_CAPSET, words(id, ver)), nil, device.CtrlHdrSize+maxSize, nil, -1,
		func(r []byte) { caps = r[device.CtrlHdrSize:]; answered.complete() })
	if e != 0 {
		return nil, e
	}
	switch answered.waitUntil(d, t.Ctx, d.Now()+capsReplyTimeout) {
	case errno.ETIME:
		return nil, errno.EBUSY
	case errno.ERESTARTSYS:
		return nil, errno.ERESTARTSYS
	}
	g.capMu.Lock()
	if g.capCache == nil {
		g.capCache = map[[2]uint32][]byte{}
	}
	g.capCache[key] = caps
	g.capMu.Unlock()
	return caps, 0
}

func (g *gpu) hasCapset(id uint32) bool {
	for _, c := range g.capsets {
		if c.id == id {
			return true
		}
	}
	return false
}

// copyString is strncpy_from_user into a buffer of size bytes: the string
// up to its NUL, at most size−1 bytes. A fault is EFAULT.
func copyString(m fence.UserMemory, addr uint64, size int) (string, errno.Errno) {
	var out []byte
	var b [1]byte
	for len(out) < size-1 {
		if m.CopyIn(addr+uint64(len(out)), b[:]) != 0 {
			return "", errno.EFAULT
		}
		if b[0] == 0 {
			break
		}
		out = append(out, b[0])
	}
	return string(out), 0
}

// execbuf is struct drm_virtgpu_execbuffer.
type execbuf struct {
	flags, size                   uint32
	command, boHandles            uint64
	numBoHandles                  uint32
	fenceFd                       int32
	ringIdx, syncobjStride        uint32
	numInSyncobjs, numOutSyncobjs uint32
	inSyncobjs, outSyncobjs       uint64
}

func (a *execbuf) unmarshal(b []byte) {
	a.flags, a.size = le.Uint32(b[0:]), le.Uint32(b[4:])
	a.command, a.boHandles = le.Uint64(b[8:]), le.Uint64(b[16:])
	a.numBoHandles, a.fenceFd = le.Uint32(b[24:]), int32(le.Uint32(b[28:]))
	a.ringIdx, a.syncobjStride = le.Uint32(b[32:]), le.Uint32(b[36:])
	a.numInSyncobjs, a.numOutSyncobjs = le.Uint32(b[40:]), le.Uint32(b[44:])
	a.inSyncobjs, a.outSyncobjs = le.Uint64(b[48:]), le.Uint64(b[56:])
}

// syncobjArg is a syncobj an EXECBUFFER names, by the handle it named it
// with: an out-syncobj and the point it will get the out fence at, or an
// in-syncobj to reset.
type syncobjArg struct {
	s      *fence.Syncobj
	handle uint32
	point  uint64
}

// execbuffer is virtio_gpu_execbuffer_ioctl with virtgpu_submit.c (Linux
// ≥ 6.5, the seed series), step by step as kernel-semantics §2.1 lists
// them. Only fence_fd is written back, and only on success.
func execbuffer(f *File, t *Task, data []byte) errno.Errno {
	g := f.drv.gpu
	if g == nil || !g.has(device.VIRTIO_GPU_F_VIRGL) {
		return errno.ENOSYS
	}
	var a execbuf
	a.unmarshal(data)
	if a.flags&^VIRTGPU_EXECBUF_FLAGS != 0 {
		return errno.EINVAL
	}
	f.ctxMu.lock(f.drv.d, nil)
	c := f.virt
	fenceCtx, ring := g.fences.context, 0
	if a.flags&VIRTGPU_EXECBUF_RING_IDX != 0 {
		if a.ringIdx >= c.numRings || c.baseFenceCtx == 0 {
			f.ctxMu.unlock()
			return errno.EINVAL
		}
		fenceCtx, ring = c.baseFenceCtx, int(a.ringIdx)
	}
	f.ensureContextLocked(t)
	f.ctxMu.unlock()

	// From here on, cleanup runs whatever happens.
	var (
		outFence  *fence.Fence
		outFd     int32 = -1
		outFile   *fence.SyncFile
		post      []syncobjArg
		resets    []syncobjArg
		installed bool
		reserved  bool
	)
	defer func() {
		for _, r := range resets {
			if f.drv.tracing() {
				f.drv.emit(timeline.Event{Kind: timeline.SyncobjReset, Pid: t.Pid, Syncobj: r.s.ID(), Handle: r.handle})
			}
			r.s.ReplaceFence(nil)
			r.s.Put()
		}
		for _, p := range post {
			p.s.Put()
		}
		if reserved && !installed {
			t.FDs.Unreserve(outFd)
			outFile.DecRef()
		}
	}()

	drmEvent := a.flags&VIRTGPU_EXECBUF_RING_IDX != 0 && c.ringIdxMask&(1<<a.ringIdx) != 0
	if a.flags&VIRTGPU_EXECBUF_FENCE_FD_OUT != 0 || a.numOutSyncobjs > 0 || a.numBoHandles > 0 || drmEvent {
		ringArg := -1
		if a.flags&VIRTGPU_EXECBUF_RING_IDX != 0 {
			ringArg = ring
		}
		outFence = g.fences.newFence(f.drv.d, fenceCtx, ringArg)
	}
	if drmEvent && !f.reserveEvent(drmEventSize) {
		return errno.ENOMEM
	}
	eventReserved := drmEvent
	defer func() {
		if eventReserved {
			f.releaseEvent(drmEventSize)
		}
	}()
	var bos []*gemObject
	defer func() {
		for _, o := range bos {
			o.put()
		}
	}()
	if a.numBoHandles > 0 {
		if uint64(a.numBoHandles)*4 > kvmallocMax {
			return errno.ENOMEM
		}
		handles := make([]byte, 4*int(a.numBoHandles))
		if t.Mem.CopyIn(a.boHandles, handles) != 0 {
			return errno.EFAULT
		}
		for i := range int(a.numBoHandles) {
			o := f.gem.lookup(le.Uint32(handles[4*i:]))
			if o == nil {
				return errno.ENOENT
			}
			bos = append(bos, o)
		}
	}
	if uint64(a.size) > kvmallocMax || !g.fits(device.CtrlHdrSize+8, int(a.size)+hostWaitRoom, device.CtrlHdrSize) {
		return errno.ENOMEM
	}
	cmd := make([]byte, a.size)
	if a.size > 0 && t.Mem.CopyIn(a.command, cmd) != 0 {
		return errno.EFAULT
	}
	if a.flags&VIRTGPU_EXECBUF_FENCE_FD_OUT != 0 {
		fd, e := t.FDs.Reserve()
		if e != 0 {
			return e
		}
		outFd, reserved = fd, true
		outFile = f.drv.d.NewSyncFile(outFence)
	}

	// Out-syncobjs are parsed before in-syncobjs (parse_post_deps).
	var e errno.Errno
	if post, e = f.parsePostDeps(t, &a); e != 0 {
		return e
	}
	w := &inWaiter{drv: f.drv, own: fenceCtx + uint64(ring), host: f.drv.hostWaits.Load()}
	ins, e := f.parseDeps(t, &a, w)
	if e != 0 {
		return e
	}
	resets = ins // committed: reset in cleanup, success or not

	if a.flags&VIRTGPU_EXECBUF_FENCE_FD_IN != 0 {
		in, ok := fence.SyncFileFence(t.FDs, a.fenceFd)
		if !ok {
			return errno.EINVAL
		}
		if e := w.wait(t, in, fenceSource{}); e != 0 {
			return e
		}
	}
	if len(w.waits) > 0 {
		cmd = append(w.ops(), cmd...)
		a.size = uint32(len(cmd))
	}

	// Queue SUBMIT_3D; the out fence gets its id as it enters the ring.
	body := make([]byte, 8)
	le.PutUint32(body, a.size)
	req := cmdBuf(device.VIRTIO_GPU_CMD_SUBMIT_3D, body)
	le.PutUint32(req[16:], c.ctxID)
	if e := g.queueCmd(t, req, cmd, device.CtrlHdrSize, outFence, ringOrGlobal(a, ring), nil); e != 0 {
		return e
	}
	if drmEvent {
		// The reserved event is delivered when the out fence signals.
		eventReserved = false
		if _, ok := outFence.AddCallback(func(*fence.Fence) { f.deliverEvent(fenceEvent()) }); !ok {
			f.deliverEvent(fenceEvent())
		}
	}

	for _, o := range bos {
		o.addFence(outFence) // the BOs' reservations get the out fence (a write)
	}
	if reserved {
		le.PutUint32(data[28:], uint32(outFd))
		t.FDs.Install(outFd, outFile)
		installed = true
		if f.drv.tracing() {
			f.drv.emit(timeline.Event{Kind: timeline.SyncFileCreated, Pid: t.Pid, FD: outFd, Fence: tlFence(outFence)})
		}
	}
	for _, p := range post {
		if f.drv.tracing() {
			e := timeline.Event{Kind: timeline.SyncobjReplace, Pid: t.Pid, Syncobj: p.s.ID(), Handle: p.handle, Fence: tlFence(outFence)}
			if p.point != 0 {
				e.Kind, e.Point = timeline.SyncobjAddPoint, p.point
			}
			f.drv.emit(e)
		}
		if p.point != 0 {
			p.s.AddPoint(outFence, p.point)
		} else {
			p.s.ReplaceFence(outFence)
		}
	}
	return 0
}

func ringOrGlobal(a execbuf, ring int) int {
	if a.flags&VIRTGPU_EXECBUF_RING_IDX != 0 {
		return ring
	}
	return -1
}

// readDesc reads syncobj descriptor i as min(stride, 16) bytes into a
// zeroed struct: handle, flags, point.
func readDesc(t *Task, base uint64, stride uint32, i uint32) (handle, flags uint32, point uint64, e errno.Errno) {
	var d [syncobjDescSize]byte
	n := min(stride, syncobjDescSize)
	if n > 0 && t.Mem.CopyIn(base+uint64(i)*uint64(stride), d[:n]) != 0 {
		return 0, 0, 0, errno.EFAULT
	}
	return le.Uint32(d[0:]), le.Uint32(d[4:]), le.Uint64(d[8:]), 0
}

// parsePostDeps is virtio_gpu_parse_post_deps: every descriptor must have
// no flags and name an existing syncobj (EINVAL, not ENOENT). On failure
// nothing is kept.
func (f *File) parsePostDeps(t *Task, a *execbuf) ([]syncobjArg, errno.Errno) {
	if a.numOutSyncobjs == 0 {
		return nil, 0
	}
	if uint64(a.numOutSyncobjs)*24 > kvmallocMax {
		return nil, errno.ENOMEM
	}
	var deps []syncobjArg
	fail := func(e errno.Errno) ([]syncobjArg, errno.Errno) {
		for _, d := range deps {
			d.s.Put()
		}
		return nil, e
	}
	for i := range a.numOutSyncobjs {
		h, flags, point, e := readDesc(t, a.outSyncobjs, a.syncobjStride, i)
		if e != 0 {
			return fail(e)
		}
		if flags != 0 {
			return fail(errno.EINVAL)
		}
		s := f.syncobjs.Find(h)
		if s == nil {
			return fail(errno.EINVAL)
		}
		deps = append(deps, syncobjArg{s: s, handle: h, point: point})
	}
	return deps, 0
}

// parseDeps is virtio_gpu_parse_deps: for each in-syncobj, in order, its
// fence is found without waiting for submission (ENOENT for an unknown
// handle, EINVAL for no fence or an unsubmitted point) and waited on now,
// leaf by leaf, skipping leaves of this submission's own fence context.
// It returns the syncobjs to reset; on failure, none.
func (f *File) parseDeps(t *Task, a *execbuf, w *inWaiter) ([]syncobjArg, errno.Errno) {
	if a.numInSyncobjs == 0 {
		return nil, 0
	}
	if uint64(a.numInSyncobjs)*8 > kvmallocMax {
		return nil, errno.ENOMEM
	}
	var resets []syncobjArg
	fail := func(e errno.Errno) ([]syncobjArg, errno.Errno) {
		for _, r := range resets {
			r.s.Put()
		}
		return nil, e
	}
	for i := range a.numInSyncobjs {
		h, flags, point, e := readDesc(t, a.inSyncobjs, a.syncobjStride, i)
		if e != 0 {
			return fail(e)
		}
		if flags&^VIRTGPU_EXECBUF_SYNCOBJ_RESET != 0 {
			return fail(errno.EINVAL)
		}
		in, e := f.syncobjs.FindFence(nil, h, point, 0)
		if e != 0 {
			return fail(e)
		}
		src := fenceSource{handle: h, point: point}
		if f.drv.tracing() {
			if s := f.syncobjs.Find(h); s != nil {
				src.syncobj = s.ID()
				s.Put()
			}
		}
		if e := w.wait(t, in, src); e != 0 {
			return fail(e)
		}
		if flags&VIRTGPU_EXECBUF_SYNCOBJ_RESET != 0 {
			s := f.syncobjs.Find(h)
			if s == nil {
				return fail(errno.EINVAL)
			}
			resets = append(resets, syncobjArg{s: s, handle: h})
		}
	}
	return resets, 0
}

// inWaiter waits for a submission's in-fences (§2.3): every leaf of an
// in-fence is waited, interruptibly and without a timeout, unless it is on
// the submission's own dma-fence context (the host orders that work).
// With host waits on, a leaf that is a fence of another of this device's
// timelines is instead turned into a WAIT command for the device. Fence
// errors are ignored.
type inWaiter struct {
	drv   *Driver
	own   uint64
	host  bool
	waits map[deviceTimeline]uint64 // the highest fence id to wait for on each
}

// ops returns the WAIT commands for the host, one per timeline, in
// (context, ring) order.
func (w *inWaiter) ops() []byte {
	keys := make([]deviceTimeline, 0, len(w.waits))
	for k := range w.waits {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].ctxID != keys[j].ctxID {
			return keys[i].ctxID < keys[j].ctxID
		}
		return keys[i].ring < keys[j].ring
	})
	var b []byte
	for _, k := range keys {
		id := w.waits[k]
		b = append(b, words(uint32(device.OpWait)|4<<16, k.ctxID, uint32(k.ring), uint32(id), uint32(id>>32))...)
	}
	return b
}

// wait waits for in's leaves; src says where in came from, for the
// timeline, which sees every leaf skipped or waited.
func (w *inWaiter) wait(t *Task, in *fence.Fence, src fenceSource) errno.Errno {
	drv := w.drv
	for _, leaf := range fence.Unwrap(in) {
		if leaf.Context() == w.own {
			if drv.tracing() {
				drv.skipped(t, leaf, src, timeline.SkipOwnContext)
			}
			continue
		}
		if w.host && !leaf.IsSignaled() && leaf.Seqno() != 0 {
			if tl, ok := drv.timelineOf(leaf.Context()); ok && (len(w.waits) < maxHostWaits || w.waits[tl] != 0) {
				if w.waits == nil {
					w.waits = map[deviceTimeline]uint64{}
				}
				w.waits[tl] = max(w.waits[tl], leaf.Seqno())
				if drv.tracing() {
					drv.skipped(t, leaf, src, timeline.SkipHost)
				}
				continue
			}
		}
		if e := drv.waitFence(t, leaf, src, fence.Forever); e != 0 {
			return e
		}
	}
	return 0
}

// reserveEvent takes n bytes of the file's event space
// (drm_event_reserve_init); false when not that much is left.
func (f *File) reserveEvent(n int) bool {
	f.evMu.Lock()
	defer f.evMu.Unlock()
	if f.evSpace < n {
		return false
	}
	f.evSpace -= n
	return true
}

// releaseEvent gives back a reservation that will not be delivered
// (drm_event_cancel_free).
func (f *File) releaseEvent(n int) {
	f.evMu.Lock()
	f.evSpace += n
	f.evMu.Unlock()
}

// deliverEvent queues a reserved event for read(2) and wakes pollers.
func (f *File) deliverEvent(ev []byte) {
	f.evMu.Lock()
	f.events = append(f.events, ev)
	ws := f.watchers.take()
	f.evMu.Unlock()
	ws.kick()
}

// Watch kicks w when the file's readiness may have changed (an event
// arrives), until the returned cancel is called.
func (f *File) Watch(w fence.Waiter) (cancel func()) { return watch(&f.evMu, &f.watchers, w) }

// fenceEvent is the VIRTGPU_EVENT_FENCE_SIGNALED event of a poll-ring
// submit.
func fenceEvent() []byte {
	return le.AppendUint32(le.AppendUint32(nil, VIRTGPU_EVENT_FENCE_SIGNALED), drmEventSize)
}

// Poll reports POLLIN while DRM events are waiting to be read (drm_poll);
// a DRM file is always writable.
func (f *File) Poll() uint32 {
	f.evMu.Lock()
	defer f.evMu.Unlock()
	if len(f.events) > 0 {
		return POLLIN | POLLOUT
	}
	return POLLOUT
}

// ReadEvents is read(2) on a DRM file (drm_read): whole events, oldest
// first, as many as fit in n bytes; their space is returned to the file.
// An event that does not fit stays queued, so a buffer too small for the
// first one reads 0 bytes. EAGAIN when none is pending (fencelab's DRM
// reads do not block).
func (f *File) ReadEvents(n int) ([]byte, errno.Errno) {
	f.evMu.Lock()
	defer f.evMu.Unlock()
	if len(f.events) == 0 {
		return nil, errno.EAGAIN
	}
	var out []byte
	for len(f.events) > 0 && len(out)+len(f.events[0]) <= n {
		out = append(out, f.events[0]...)
		f.evSpace += len(f.events[0])
		f.events[0] = nil
		f.events = f.events[1:]
	}
	return out, 0
}
