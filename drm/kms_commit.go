package drm

import (
	"context"
	"fmt"
	"math"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/fence"
	"fencelab/timeline"
)

// Atomic mode setting: the ATOMIC ioctl, PAGE_FLIP and SETCRTC on top of
// it, the checks of drm_atomic_check_only and drm_atomic_helper_check,
// and the commit itself.
//
// A commit swaps the new state in at once (so the getters report it),
// then waits for its planes' in-fences, then becomes visible at the
// CRTC's next vblank: there the driver sends what virtio_gpu's CRTC and
// plane callbacks send (SET_SCANOUT or SET_SCANOUT_BLOB,
// TRANSFER_TO_HOST_2D for dumb buffers, RESOURCE_FLUSH, fenced), and when
// the device has flushed, the commit's out-fences signal and its flip
// events are queued. Linux's virtio_gpu has no vblank interrupt and sends
// those events as soon as the flush is done; fencelab's display has a
// refresh (the mode's: clock over htotal×vtotal), so flips are paced as
// a real display paces them, and an event's sequence is the CRTC's vblank
// count rather than Linux's 0.

// struct drm_mode_atomic (56 bytes) and its flags.
const (
	atomicSize = 56

	DRM_MODE_PAGE_FLIP_EVENT      = 0x01
	DRM_MODE_PAGE_FLIP_ASYNC      = 0x02
	DRM_MODE_PAGE_FLIP_TARGET_ABS = 0x04
	DRM_MODE_PAGE_FLIP_TARGET_REL = 0x08
	DRM_MODE_PAGE_FLIP_TARGET     = DRM_MODE_PAGE_FLIP_TARGET_ABS | DRM_MODE_PAGE_FLIP_TARGET_REL
	DRM_MODE_PAGE_FLIP_FLAGS      = DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_ASYNC | DRM_MODE_PAGE_FLIP_TARGET
	DRM_MODE_ATOMIC_TEST_ONLY     = 0x0100
	DRM_MODE_ATOMIC_NONBLOCK      = 0x0200
	DRM_MODE_ATOMIC_ALLOW_MODESET = 0x0400
	drmModeAtomicFlags            = DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_ASYNC | DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_ATOMIC_ALLOW_MODESET
	pageFlipSize                  = 24 // struct drm_mode_crtc_page_flip_target
	DRM_EVENT_FLIP_COMPLETE       = 0x02
	vblankEventSize               = 32 // struct drm_event_vblank
)

// update is a drm_atomic_state being built: the new configuration, which
// objects are in it (bit o of crtcs, bit 2o or 2o+1 of planes, bit o of
// conns), and what the request asked for.
type update struct {
	k                        *kmsState
	old, new                 kmsConfig
	crtcs, planes, conns     uint32
	allowModeset             bool
	event                    bool // DRM_MODE_PAGE_FLIP_EVENT
	signaling                bool // events and out-fences are made (not TEST_ONLY)
	userData                 uint64
	needsModeset, modeChange uint32 // per CRTC, filled by check
	// held are the framebuffers and blobs the request named, referenced
	// until the commit has taken its own (or failed), so that a
	// concurrent RMFB or DESTROYPROPBLOB cannot free them under it.
	held []any
}

// hold takes a reference to a framebuffer or blob for the update, with
// k.mu held.
func (u *update) hold(x any) {
	switch v := x.(type) {
	case *framebuffer:
		u.k.ref(v)
	case *propBlob:
		u.k.refBlob(v)
	}
	u.held = append(u.held, x)
}

// release drops the update's references; a framebuffer whose last
// reference this was takes its buffer with it.
func (u *update) release() {
	k := u.k
	k.mu.Lock()
	for _, x := range u.held {
		switch v := x.(type) {
		case *framebuffer:
			k.unref(v)
		case *propBlob:
			k.unrefBlob(v)
		}
	}
	u.held = nil
	k.mu.Unlock()
	k.reap(false)
}

func (k *kmsState) begin() *update {
	return &update{k: k, old: k.cfg, new: k.cfg.clone()}
}

// addCRTC, addPlane and addConnector are drm_atomic_get_*_state: a plane
// or connector brings in the CRTC it is on.
func (u *update) addCRTC(o int) {
	if o >= 0 {
		u.crtcs |= 1 << o
	}
}

func (u *update) addPlane(p int) {
	u.planes |= 1 << p
	u.addCRTC(u.new.planes[p].crtc)
}

func (u *update) addConnector(o int) {
	u.conns |= 1 << o
	u.addCRTC(u.new.conns[o])
}

// value is drm_property_change_valid_get: immutable properties cannot
// be set; a range or enum value must be in range; an object or blob value
// (an id, so its low 32 bits, as Linux's lookups take a u32) must name an
// existing one of the right type, or be 0 for none. A framebuffer or blob
// found is returned, held for the update.
func (u *update) value(p property, v uint64) (any, bool) {
	k := u.k
	switch {
	case p.flags&DRM_MODE_PROP_IMMUTABLE != 0:
		return nil, false
	case p.flags&DRM_MODE_PROP_SIGNED_RANGE == DRM_MODE_PROP_SIGNED_RANGE:
		return nil, int64(v) >= int64(p.values[0]) && int64(v) <= int64(p.values[1])
	case p.flags&DRM_MODE_PROP_RANGE != 0:
		return nil, v >= p.values[0] && v <= p.values[1]
	case p.flags&DRM_MODE_PROP_BLOB != 0:
		if uint32(v) == 0 {
			return (*propBlob)(nil), true
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		b := k.blob(uint32(v))
		if b == nil {
			return nil, false
		}
		u.hold(b)
		return b, true
	case p.flags&DRM_MODE_PROP_OBJECT != 0:
		if uint32(v) == 0 {
			return nil, true
		}
		if p.values[0] == DRM_MODE_OBJECT_FB {
			k.mu.Lock()
			defer k.mu.Unlock()
			fb := k.fb(uint32(v))
			if fb == nil {
				return nil, false
			}
			u.hold(fb)
			return fb, true
		}
		return nil, k.drv.objectType(uint32(v)) == uint32(p.values[0])
	}
	for _, x := range p.values {
		if x == v {
			return nil, true
		}
	}
	return nil, false
}

// setProperty is drm_atomic_set_property for property id (already known
// to be attached to object obj) with value v. It runs with the modeset
// lock held but not k.mu: it may read guest memory and fds.
func (u *update) setProperty(t *Task, obj, id uint32, v uint64) errno.Errno {
	drv := u.k.drv
	p, _ := drv.findProperty(id)
	ref, ok := u.value(p, v)
	if !ok {
		return errno.EINVAL
	}
	crtcOf := func(v uint64) int {
		if uint32(v) == 0 {
			return -1
		}
		co, _ := drv.findOutput(uint32(v), output.crtc)
		return int(co)
	}
	if o, ok := drv.findOutput(obj, output.connector); ok {
		u.addConnector(int(o))
		switch id {
		case propCrtcID:
			u.new.conns[o] = crtcOf(v)
			u.addCRTC(u.new.conns[o])
		case propDPMS:
			return errno.EINVAL // legacy only
		case propLinkStatus:
			// Userspace cannot mark a good link bad; a bad one never happens.
		default:
			return errno.EINVAL
		}
		return 0
	}
	if o, ok := drv.findOutput(obj, output.crtc); ok {
		u.addCRTC(int(o))
		s := &u.new.crtcs[o]
		switch id {
		case propActive:
			s.active = v != 0
		case propModeID:
			b, _ := ref.(*propBlob)
			if b == s.mode {
				return 0
			}
			if b != nil {
				if len(b.data) != drmModeInfoSize {
					return errno.EINVAL
				}
				if e := validateMode(b.data); e != 0 {
					return e
				}
			}
			s.mode = b
		case propVRREnabled:
			s.vrr = v != 0
		case propOutFencePtr:
			if v == 0 {
				return 0
			}
			if t.Mem.CopyOut(v, le.AppendUint32(nil, math.MaxUint32)) != 0 {
				return errno.EFAULT
			}
			s.outFencePtr = v
		default:
			return errno.EINVAL
		}
		return 0
	}
	pi := -1
	if o, ok := drv.findOutput(obj, output.primary); ok {
		pi = 2 * int(o)
	} else if o, ok := drv.findOutput(obj, output.cursor); ok {
		pi = 2*int(o) + 1
	}
	u.addPlane(pi)
	s := &u.new.planes[pi]
	switch id {
	case propFbID:
		s.fb, _ = ref.(*framebuffer)
	case propCrtcID:
		s.crtc = crtcOf(v)
		u.addCRTC(s.crtc)
	case propCrtcX:
		s.crtcX = int32(v)
	case propCrtcY:
		s.crtcY = int32(v)
	case propCrtcW:
		s.crtcW = uint32(v)
	case propCrtcH:
		s.crtcH = uint32(v)
	case propSrcX:
		s.srcX = uint32(v)
	case propSrcY:
		s.srcY = uint32(v)
	case propSrcW:
		s.srcW = uint32(v)
	case propSrcH:
		s.srcH = uint32(v)
	case propInFenceFD:
		if s.inFence != nil {
			return errno.EINVAL
		}
		if int64(v) == -1 {
			return 0
		}
		f, ok := fence.SyncFileFence(t.FDs, int32(v))
		if !ok {
			return errno.EINVAL
		}
		s.inFence = f
	case propFbDamageClips:
		b, _ := ref.(*propBlob)
		if b != nil && len(b.data)%16 != 0 {
			return errno.EINVAL
		}
		s.damage = b
	default:
		if pi%2 == 1 && (id == output(pi/2).hotspotX() || id == output(pi/2).hotspotY()) {
			if id == output(pi/2).hotspotX() {
				s.hotX = int32(v)
			} else {
				s.hotY = int32(v)
			}
			return 0
		}
		return errno.EINVAL
	}
	return 0
}

// check is drm_atomic_check_only with drm_atomic_helper_check, for the
// objects in the update, in Linux's order.
func (u *update) check() errno.Errno {
	n := len(u.new.crtcs)
	// drm_atomic_plane_check.
	for p := range u.new.planes {
		if u.planes&(1<<p) == 0 {
			continue
		}
		s, old := u.new.planes[p], u.old.planes[p]
		if (s.crtc >= 0) != (s.fb != nil) {
			return errno.EINVAL
		}
		if s.crtc < 0 {
			continue
		}
		format := uint32(DRM_FORMAT_XRGB8888)
		if p%2 == 1 {
			format = DRM_FORMAT_ARGB8888
		}
		if s.crtc != p/2 || s.fb.format != format {
			return errno.EINVAL
		}
		if s.crtcW > math.MaxInt32 || s.crtcX > math.MaxInt32-int32(s.crtcW) ||
			s.crtcH > math.MaxInt32 || s.crtcY > math.MaxInt32-int32(s.crtcH) {
			return errno.ERANGE
		}
		fbW, fbH := s.fb.width<<16, s.fb.height<<16
		if s.srcW > fbW || s.srcX > fbW-s.srcW || s.srcH > fbH || s.srcY > fbH-s.srcH {
			return errno.ENOSPC
		}
		if s.damage != nil {
			for i := 0; i+16 <= len(s.damage.data); i += 16 {
				x1, y1 := int32(le.Uint32(s.damage.data[i:])), int32(le.Uint32(s.damage.data[i+4:]))
				x2, y2 := int32(le.Uint32(s.damage.data[i+8:])), int32(le.Uint32(s.damage.data[i+12:]))
				if x1 >= x2 || y1 >= y2 || x1 < 0 || y1 < 0 || int64(x2) > int64(fbW) || int64(y2) > int64(fbH) {
					return errno.EINVAL
				}
			}
		}
		if old.crtc >= 0 && old.crtc != s.crtc {
			return errno.EINVAL // switching CRTC directly is not allowed
		}
	}
	// drm_atomic_crtc_check.
	for o := range n {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		s := u.new.crtcs[o]
		if s.active && s.mode == nil {
			return errno.EINVAL
		}
	}
	if u.signaling {
		for o := range n {
			hasEvent := u.event || u.new.crtcs[o].outFencePtr != 0
			if u.crtcs&(1<<o) != 0 && hasEvent && !u.new.crtcs[o].active && !u.old.crtcs[o].active {
				return errno.EINVAL // an event for a CRTC that is off and stays off
			}
		}
	}
	// drm_atomic_helper_check_modeset: connector routing, then the CRTCs.
	for c := range n {
		if u.conns&(1<<c) != 0 && u.new.conns[c] >= 0 && u.new.conns[c] != c {
			return errno.EINVAL // the encoder cannot drive that CRTC
		}
	}
	for o := range n {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		s, old := u.new.crtcs[o], u.old.crtcs[o]
		var newMode, oldMode []byte
		if s.mode != nil {
			newMode = s.mode.data
		}
		if old.mode != nil {
			oldMode = old.mode.data
		}
		changed := !modesEqual(newMode, oldMode) || (s.mode != nil) != (old.mode != nil) ||
			u.new.conns[o] != u.old.conns[o]
		if changed {
			u.modeChange |= 1 << o
		}
		if changed || s.active != old.active {
			u.needsModeset |= 1 << o
		}
		if (s.mode != nil) != (u.new.conns[o] == o) {
			return errno.EINVAL // enabled/connectors mismatch
		}
	}
	// A CRTC that needs a modeset brings in its connectors and the planes
	// on it (drm_atomic_add_affected_connectors/_planes).
	for o := range n {
		if u.needsModeset&(1<<o) == 0 {
			continue
		}
		for c := range u.new.conns {
			if u.old.conns[c] == o || u.new.conns[c] == o {
				u.conns |= 1 << c
			}
		}
		for p := range u.new.planes {
			if u.old.planes[p].crtc == o {
				u.planes |= 1 << p
			}
		}
	}
	// drm_atomic_helper_check_planes: virtio_gpu_plane_atomic_check.
	for p := range u.new.planes {
		if u.planes&(1<<p) == 0 || u.new.planes[p].fb == nil {
			continue
		}
		if e := u.checkPlaneState(p); e != 0 {
			return e
		}
	}
	if !u.allowModeset && u.needsModeset != 0 {
		return errno.EINVAL
	}
	return 0
}

// checkPlaneState is drm_atomic_helper_check_plane_state with no scaling,
// positioning only for the cursor, and updates of disabled CRTCs
// allowed: a visible primary plane must cover the whole mode.
func (u *update) checkPlaneState(p int) errno.Errno {
	s := u.new.planes[p]
	c := u.new.crtcs[s.crtc]
	for _, d := range [][2]uint64{{uint64(s.srcW), uint64(s.crtcW)}, {uint64(s.srcH), uint64(s.crtcH)}} {
		if d[0] > math.MaxInt32 {
			return errno.EINVAL
		}
		if d[1] == 0 {
			continue
		}
		scale := d[0] / d[1]
		if d[0] > d[1]<<16 {
			scale = (d[0] + d[1] - 1) / d[1]
		}
		if scale != 1<<16 {
			return errno.ERANGE
		}
	}
	if c.mode == nil {
		return 0 // not visible: nothing to clip against
	}
	w, h := int64(le.Uint16(c.mode.data[4:])), int64(le.Uint16(c.mode.data[14:]))
	x1, y1 := int64(s.crtcX), int64(s.crtcY)
	x2, y2 := x1+int64(s.crtcW), y1+int64(s.crtcH)
	cx1, cy1, cx2, cy2 := max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
	if cx1 >= cx2 || cy1 >= cy2 {
		return 0 // not visible
	}
	if p%2 == 0 && (cx1 != 0 || cy1 != 0 || cx2 != w || cy2 != h) {
		return errno.EINVAL // the primary plane must cover the entire CRTC
	}
	return 0
}

// drmModeAtomic is drm_mode_atomic_ioctl.
func drmModeAtomic(f *File, t *Task, data []byte) errno.Errno {
	flags, count := le.Uint32(data), le.Uint32(data[4:])
	objsPtr, countsPtr, propsPtr, valuesPtr := le.Uint64(data[8:]), le.Uint64(data[16:]), le.Uint64(data[24:]), le.Uint64(data[32:])
	f.kmsMu.Lock()
	isAtomic := f.caps.atomic != 0
	f.kmsMu.Unlock()
	switch {
	case !isAtomic, flags&^drmModeAtomicFlags != 0, le.Uint64(data[40:]) != 0,
		flags&DRM_MODE_PAGE_FLIP_ASYNC != 0,
		flags&DRM_MODE_ATOMIC_TEST_ONLY != 0 && flags&DRM_MODE_PAGE_FLIP_EVENT != 0:
		return errno.EINVAL
	}
	k := f.drv.kms
	if e := k.lock(t.Ctx); e != 0 {
		return e
	}
	defer k.unlock()
	k.mu.Lock()
	u := k.begin()
	k.mu.Unlock()
	u.allowModeset = flags&DRM_MODE_ATOMIC_ALLOW_MODESET != 0
	u.event = flags&DRM_MODE_PAGE_FLIP_EVENT != 0
	u.userData = le.Uint64(data[48:])
	if e := u.parse(f, t, count, objsPtr, countsPtr, propsPtr, valuesPtr); e != 0 {
		u.release()
		return e
	}
	return f.drv.commit(f, t, u, flags)
}

// parse reads the objects and properties of an ATOMIC request and sets
// them, stopping at the first failure. The modeset lock keeps the
// committed state still meanwhile; k.mu is not held, as reading guest
// memory and fds may drop a file's last reference.
func (u *update) parse(f *File, t *Task, count uint32, objsPtr, countsPtr, propsPtr, valuesPtr uint64) errno.Errno {
	drv := u.k.drv
	copied := uint64(0)
	for i := range uint64(count) {
		var b [8]byte
		if t.Mem.CopyIn(objsPtr+4*i, b[:4]) != 0 {
			return errno.EFAULT
		}
		obj := le.Uint32(b[:])
		attached, _, ok := drv.propsOf(obj)
		if drv.objectType(obj) == 0 || !ok {
			return errno.ENOENT
		}
		if t.Mem.CopyIn(countsPtr+4*i, b[:4]) != 0 {
			return errno.EFAULT
		}
		n := le.Uint32(b[:])
		for range n {
			if t.Mem.CopyIn(propsPtr+4*copied, b[:4]) != 0 {
				return errno.EFAULT
			}
			id := le.Uint32(b[:])
			found := false
			for _, a := range attached {
				found = found || a == id
			}
			if !found {
				return errno.ENOENT
			}
			if t.Mem.CopyIn(valuesPtr+8*copied, b[:]) != 0 {
				return errno.EFAULT
			}
			if e := u.setProperty(t, obj, id, le.Uint64(b[:])); e != 0 {
				return e
			}
			copied++
		}
	}
	return 0
}

// flipEvent is a commit's pending struct drm_pending_vblank_event for one
// CRTC: the file that gets the event (none for a bare out-fence), and the
// out-fence with the fd reserved for it.
type flipEvent struct {
	o        int
	file     *File
	userData uint64
	out      *fence.Fence
	sync     *fence.SyncFile
	fd       int32
	ptr      uint64
}

// commit is a swapped-in update on its way to the screen.
type commit struct {
	u           *update
	completed   bool           // guarded by k.mu
	cursors     []cursorUpdate // cursor pings, sent once the commit is done
	stopTimeout func() bool    // cancels the flush timeout
	events      []*flipEvent
	pending     int // in-fences and flushes not yet signalled
	when        int64
	done        completion
	serial      uint64 // the commit's number on the timeline
}

// lock takes the modeset locks for a whole commit, from reading the
// state to swapping the new one in (DRM_MODESET_LOCK_ALL_BEGIN with an
// interruptible acquire context): ERESTARTSYS if a signal comes first.
func (k *kmsState) lock(ctx context.Context) errno.Errno { return k.modeset.lock(k.drv.d, ctx) }

func (k *kmsState) unlock() { k.modeset.unlock() }

// commit runs an update that passed parsing: the out-fences and events
// (prepare_signaling), the checks, then a test-only answer, or a
// nonblocking or blocking commit; the out-fence fds are installed only if
// it all succeeded (complete_signaling), and otherwise -1 is written
// through their pointers.
func (drv *Driver) commit(f *File, t *Task, u *update, flags uint32) errno.Errno {
	defer u.release()
	k := drv.kms
	cm := &commit{u: u}
	testOnly := flags&DRM_MODE_ATOMIC_TEST_ONLY != 0
	u.signaling = !testOnly
	fail := func(e errno.Errno) errno.Errno {
		for _, ev := range cm.events {
			if ev.file != nil {
				ev.file.releaseEvent(vblankEventSize)
			}
			if ev.sync != nil {
				ev.sync.DecRef()
				t.FDs.Unreserve(ev.fd)
				t.Mem.CopyOut(ev.ptr, le.AppendUint32(nil, math.MaxUint32))
			}
			if ev.out != nil {
				ev.out.Signal() // never seen by anyone: retire it
			}
		}
		return e
	}
	if !testOnly {
		c := 0
		for o := range len(u.new.crtcs) {
			if u.crtcs&(1<<o) == 0 {
				continue
			}
			ptr := u.new.crtcs[o].outFencePtr
			if u.event || ptr != 0 {
				ev := &flipEvent{o: o, userData: u.userData, fd: -1, ptr: ptr}
				cm.events = append(cm.events, ev)
				if u.event {
					if !f.reserveEvent(vblankEventSize) {
						return fail(errno.ENOMEM)
					}
					ev.file = f
				}
				if ptr != 0 {
					ev.out = drv.newCRTCFence(o)
					fd, e := t.FDs.Reserve()
					if e != 0 {
						return fail(e)
					}
					ev.fd = fd
					ev.sync = drv.d.NewSyncFile(ev.out)
					if t.Mem.CopyOut(ptr, le.AppendUint32(nil, uint32(fd))) != 0 {
						return fail(errno.EFAULT)
					}
				}
			}
			c++
		}
		if c == 0 && u.event {
			return fail(errno.EINVAL)
		}
	}
	k.mu.Lock()
	e := u.check()
	k.mu.Unlock()
	if e != 0 || testOnly {
		return fail(e)
	}
	if e := drv.stall(t, u, flags&DRM_MODE_ATOMIC_NONBLOCK != 0); e != 0 {
		return fail(e)
	}
	if flags&DRM_MODE_ATOMIC_NONBLOCK == 0 {
		for _, s := range u.new.planes {
			if s.inFence != nil {
				if e := drv.waitFence(t, s.inFence, fenceSource{}, fence.Forever); e != 0 {
					return fail(e)
				}
			}
		}
	}
	k.mu.Lock()
	drv.swap(cm)
	k.mu.Unlock()
	if drv.tracing() {
		drv.emitCommit(t, cm, flags)
	}
	for _, ev := range cm.events {
		if ev.sync != nil {
			t.FDs.Install(ev.fd, ev.sync)
			if drv.tracing() {
				drv.emit(timeline.Event{Kind: timeline.SyncFileCreated, Pid: t.Pid, FD: ev.fd, Fence: tlFence(ev.out)})
			}
		}
	}
	drv.arm(cm, flags&DRM_MODE_ATOMIC_NONBLOCK == 0)
	if flags&DRM_MODE_ATOMIC_NONBLOCK == 0 {
		cm.done.wait(drv.d, nil) // uninterruptible, as the commit tail is
	}
	return 0
}

// stall is drm_atomic_helper_setup_commit's wait for the previous commit
// on each CRTC of the update: a nonblocking commit is EBUSY while one is
// pending; a blocking one waits for it (Linux logs after 10 s and goes
// on waiting), until a signal (ERESTARTSYS).
func (drv *Driver) stall(t *Task, u *update, nonblock bool) errno.Errno {
	k := drv.kms
	for o := range len(u.new.crtcs) {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		k.mu.Lock()
		busy := k.outs[o].busy
		k.mu.Unlock()
		if busy == nil {
			continue
		}
		if nonblock {
			return errno.EBUSY
		}
		if e := busy.done.wait(drv.d, t.Ctx); e != 0 {
			return e
		}
	}
	return 0
}

// newCRTCFence is drm_crtc_create_fence: the next fence of the CRTC's
// timeline.
func (drv *Driver) newCRTCFence(o int) *fence.Fence {
	k := drv.kms
	k.mu.Lock()
	c := k.outs[o]
	c.fenceSeq++
	seq := c.fenceSeq
	k.mu.Unlock()
	return drv.d.NewFence(c.fenceCtx, seq, driverName, fmt.Sprintf("CRTC:%d-crtc-%d", output(o).crtc(), o))
}

// swap is drm_atomic_helper_swap_state, under k.mu: the new state becomes
// the committed one; it takes references to what it shows, and the
// commit keeps those of the state it replaced until it is on screen.
func (drv *Driver) swap(cm *commit) {
	k, u := drv.kms, cm.u
	k.serial++
	cm.serial = k.serial
	for p := range u.new.planes {
		if u.planes&(1<<p) != 0 {
			k.ref(u.new.planes[p].fb)
			k.refBlob(u.new.planes[p].damage)
		}
	}
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) != 0 {
			k.refBlob(u.new.crtcs[o].mode)
			k.outs[o].busy = cm
		}
	}
	// drm_atomic_helper_update_legacy_modeset_state: a connector taken off
	// its CRTC is Off; one on a CRTC that had a modeset follows it.
	for c := range u.new.conns {
		if u.conns&(1<<c) == 0 {
			continue
		}
		to := u.new.conns[c]
		if to < 0 && u.old.conns[c] >= 0 || to >= 0 && u.needsModeset&(1<<to) != 0 {
			k.outs[c].dpms = 3 // DRM_MODE_DPMS_OFF
			if to >= 0 && u.new.crtcs[to].active {
				k.outs[c].dpms = 0
			}
		}
	}
	u.old = k.cfg
	next := k.cfg.clone()
	for p := range next.planes {
		if u.planes&(1<<p) != 0 {
			next.planes[p] = u.new.planes[p]
			next.planes[p].inFence, next.planes[p].damage = nil, nil
		}
	}
	for o := range next.crtcs {
		if u.crtcs&(1<<o) != 0 {
			next.crtcs[o] = u.new.crtcs[o]
			next.crtcs[o].outFencePtr = 0
		}
		if u.conns&(1<<o) != 0 {
			next.conns[o] = u.new.conns[o]
		}
	}
	k.cfg = next
}

// arm waits for the commit's in-fences, then schedules it for the next
// vblank of its CRTCs. A blocking commit that is due at once is sent to
// the device by its caller, as Linux runs a blocking commit's tail in the
// calling thread; everything else is sent from the clock's goroutine.
func (drv *Driver) arm(cm *commit, blocking bool) {
	k := drv.kms
	k.mu.Lock()
	var fences []*fence.Fence
	for p := range cm.u.new.planes {
		if cm.u.planes&(1<<p) != 0 && cm.u.new.planes[p].inFence != nil {
			fences = append(fences, cm.u.new.planes[p].inFence)
		}
	}
	cm.pending = len(fences) + 1
	k.mu.Unlock()
	// A nonblocking commit's in-fences are the kernel's waits (a blocking
	// one's caller has waited for them already).
	trace := drv.tracing() && !blocking
	for _, f := range fences {
		if trace {
			drv.armTraced(cm, f)
			continue
		}
		if _, ok := f.AddCallback(func(*fence.Fence) { drv.ready(cm, false) }); !ok {
			drv.ready(cm, false)
		}
	}
	drv.ready(cm, blocking)
}

// armTraced is arm's wait for in-fence f of a nonblocking commit, as the
// kernel's wait on the timeline: skipped if f has signalled, else
// blocked until it does.
func (drv *Driver) armTraced(cm *commit, f *fence.Fence) {
	if f.IsSignaled() {
		drv.skipped(nil, f, fenceSource{}, timeline.SkipSignalled)
		drv.ready(cm, false)
		return
	}
	drv.emit(waitEvent(timeline.WaitBlocked, nil, f, fenceSource{}))
	woken := func(*fence.Fence) {
		drv.emit(waitEvent(timeline.WaitWoken, nil, f, fenceSource{}))
		drv.ready(cm, false)
	}
	if _, ok := f.AddCallback(woken); !ok {
		woken(f)
	}
}

// ready counts down the commit's in-fences; when none is left it is due
// at the next vblank of every active CRTC it keeps active (a CRTC being
// switched on or off has no vblank to wait for).
func (drv *Driver) ready(cm *commit, inCaller bool) {
	k := drv.kms
	k.mu.Lock()
	cm.pending--
	if cm.pending > 0 {
		k.mu.Unlock()
		return
	}
	now := drv.d.Now()
	when := now
	for o := range cm.u.new.crtcs {
		if cm.u.crtcs&(1<<o) != 0 && cm.u.new.crtcs[o].active && cm.u.old.crtcs[o].active && cm.u.needsModeset&(1<<o) == 0 {
			// The first vblank from now on that no earlier commit took.
			c := k.outs[o]
			when = max(when, c.nextVblank(max(now, c.landed+1)))
		}
	}
	cm.when = when
	k.mu.Unlock()
	if inCaller && when == now {
		drv.program(cm)
		return
	}
	drv.d.Clock().AfterFunc(when, func() { drv.program(cm) })
}

// program sends the commit to the device, as virtio_gpu's commit tail
// does: CRTCs being turned off (SET_SCANOUT to resource 0), modes being
// set (mode_set_nofb: SET_SCANOUT of resource 0 at the mode's size), the
// plane updates, and last the CRTC flushes that mark a modeset for the
// next plane update. A control queue too full for all of it makes the
// commit miss this vblank and try again at the next.
func (drv *Driver) program(cm *commit) {
	k, u := drv.kms, cm.u
	k.mu.Lock()
	now := drv.d.Now()
	var reqs []queuedCmd
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) != 0 && u.old.crtcs[o].active && u.needsModeset&(1<<o) != 0 {
			reqs = append(reqs, setScanout(o, 0, rect{}))
		}
	}
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) != 0 && u.modeChange&(1<<o) != 0 && u.new.crtcs[o].mode != nil {
			m := u.new.crtcs[o].mode.data
			reqs = append(reqs, setScanout(o, 0, rect{0, 0, uint32(le.Uint16(m[4:])), uint32(le.Uint16(m[14:]))}))
		}
	}
	flushes, rescanned := 0, uint32(0)
	var cursors []cursorUpdate
	for p := range u.new.planes {
		if u.planes&(1<<p) == 0 {
			continue
		}
		if p%2 == 1 {
			if c, ok := cursorPlaneUpdate(p/2, u); ok {
				if c.transfer != nil {
					reqs = append(reqs, *c.transfer)
					flushes++
				}
				cursors = append(cursors, c)
			}
			continue
		}
		r, n, setsScanout := drv.planeUpdate(p/2, u)
		reqs = append(reqs, r...)
		flushes += n
		if setsScanout {
			rescanned |= 1 << (p / 2)
		}
	}
	cm.pending = flushes
	if drv.tracing() {
		// The vblanks this commit lands on.
		for o := range u.new.crtcs {
			if c := k.outs[o]; u.crtcs&(1<<o) != 0 && c.vbOn && c.nextVblank(now) == now {
				drv.emit(timeline.Event{Kind: timeline.Vblank, Scanout: uint32(o), Count: uint64(c.count(now))})
			}
		}
	}
	// A cursor whose image changed is shown once its transfer is done (the
	// kernel waits for that fence before it pings the cursor queue); a
	// move goes out at once. Room is checked first, so that the commit
	// goes out whole or not at all.
	drv.gpu.curMu.Lock()
	drv.gpu.reclaimCursorLocked()
	curRoom := drv.gpu.cursor.NumFree() >= len(cursors)
	drv.gpu.curMu.Unlock()
	var queued, notify bool
	if curRoom {
		queued, notify = drv.tryQueueAll(reqs, func() { drv.flushed(cm) })
	}
	if queued {
		cm.cursors = cursors
	}
	if !queued {
		k.mu.Unlock()
		next := now + 1
		for o := range u.new.crtcs {
			if u.crtcs&(1<<o) != 0 && k.outs[o].vbOn {
				next = max(next, k.outs[o].nextVblank(now+1))
			}
		}
		drv.d.Clock().AfterFunc(next, func() { drv.program(cm) })
		return
	}
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		c := k.outs[o]
		c.landed = now
		// A plane update that set the scanout consumed the CRTC's pending
		// modeset; a CRTC flush that needs one marks it for the next.
		if rescanned&(1<<o) != 0 {
			c.needsModeset = false
		}
		if u.needsModeset&(1<<o) != 0 {
			c.needsModeset = true
		}
		// The vblank clock starts when a CRTC is switched on or its mode
		// set, and stops when it is switched off.
		switch on := u.new.crtcs[o].active; {
		case on && (!c.vbOn || u.needsModeset&(1<<o) != 0):
			c.vbBase = c.count(now)
			c.vbOn, c.vbStart, c.vbPeriod = true, now, modePeriod(u.new.crtcs[o].mode.data)
		case !on && c.vbOn:
			c.vbBase = c.count(now)
			c.vbOn = false
		}
	}
	k.mu.Unlock()
	if notify {
		drv.gpu.tr.Notify(device.ControlQ)
	}
	if flushes == 0 {
		drv.complete(cm)
		return
	}
	// virtio_gpu waits at most 50 ms for a flush; a device that never
	// answers does not hold the display (or a blocking caller) forever.
	// The timer is set once the device has been told, so that nothing
	// can be due before the device has seen the commit.
	k.mu.Lock()
	if !cm.completed {
		cm.stopTimeout = drv.d.Clock().AfterFunc(now+flushTimeout, func() { drv.complete(cm) })
	}
	k.mu.Unlock()
}

// flushTimeout is how long a commit waits for its flush fence
// (virtio_gpu_resource_flush's dma_fence_wait_timeout of 50 ms).
const flushTimeout = 50_000_000

// flushed counts the commit's flushes down; the last completes it.
func (drv *Driver) flushed(cm *commit) {
	k := drv.kms
	k.mu.Lock()
	cm.pending--
	last := cm.pending == 0
	k.mu.Unlock()
	if last {
		drv.complete(cm)
	}
}

// complete puts the commit on record as shown: flip events (timestamped
// now, with the vblank count of when it was programmed), out-fences
// signalled, the replaced state's framebuffers and blobs released.
func (drv *Driver) complete(cm *commit) {
	k, u := drv.kms, cm.u
	now := drv.d.Now()
	k.mu.Lock()
	if cm.completed {
		k.mu.Unlock()
		return // the flush timed out earlier, or answered after the timeout
	}
	cm.completed = true
	if cm.stopTimeout != nil {
		cm.stopTimeout()
	}
	for o := range u.new.crtcs {
		if u.crtcs&(1<<o) == 0 {
			continue
		}
		if k.outs[o].busy == cm {
			k.outs[o].busy = nil
		}
		k.unrefBlob(u.old.crtcs[o].mode)
	}
	for p := range u.new.planes {
		if u.planes&(1<<p) != 0 {
			k.unref(u.old.planes[p].fb)
			k.unrefBlob(u.new.planes[p].damage)
		}
	}
	type delivery struct {
		f  *File
		ev []byte
	}
	var out []delivery
	var signal []*fence.Fence
	for _, ev := range cm.events {
		if ev.file != nil {
			b := le.AppendUint32(le.AppendUint32(nil, DRM_EVENT_FLIP_COMPLETE), vblankEventSize)
			b = le.AppendUint64(b, ev.userData)
			b = le.AppendUint32(b, uint32(now/1e9))
			b = le.AppendUint32(b, uint32(now%1e9/1e3))
			b = le.AppendUint32(b, k.outs[ev.o].count(cm.when))
			b = le.AppendUint32(b, output(ev.o).crtc())
			out = append(out, delivery{ev.file, b})
		}
		if ev.out != nil {
			signal = append(signal, ev.out)
		}
	}
	k.mu.Unlock()
	if drv.tracing() {
		drv.emitFlips(cm)
	}
	for _, f := range signal {
		drv.signalFence(f)
	}
	for _, d := range out {
		d.f.deliverEvent(d.ev)
	}
	cm.done.complete()
	// Completion may run inside the device's interrupt; the cursor pings
	// and buffer releases reach the device from the clock's goroutine.
	drv.d.Clock().AfterFunc(now, func() {
		notify := false
		for _, c := range cm.cursors {
			if _, n := drv.gpu.tryCursor(c.req); n {
				notify = true
			}
		}
		if notify {
			drv.gpu.tr.Notify(device.CursorQ)
		}
		k.reap(true)
	})
}

// rect is a struct virtio_gpu_rect.
type rect struct{ x, y, w, h uint32 }

func (r rect) bytes() []byte { return words(r.x, r.y, r.w, r.h) }

// queuedCmd is a request for tryQueueAll; fenced requests get a fence
// whose signal reports the flush.
type queuedCmd struct {
	req    []byte
	fenced bool
}

func setScanout(o int, resID uint32, r rect) queuedCmd {
	return queuedCmd{req: cmdBuf(device.VIRTIO_GPU_CMD_SET_SCANOUT, append(r.bytes(), words(uint32(o), resID)...))}
}

// planeUpdate is virtio_gpu_primary_plane_update for output o's primary
// plane: with no framebuffer or an inactive CRTC, SET_SCANOUT to resource
// 0; otherwise, for the damaged part of the source (all of it unless
// FB_DAMAGE_CLIPS narrows an unchanged view), TRANSFER_TO_HOST_2D for a
// dumb buffer, SET_SCANOUT (or SET_SCANOUT_BLOB for a blob) when the
// framebuffer, the source or the mode changed, and RESOURCE_FLUSH, which
// fencelab always fences: the commit is on screen when the flush is done.
// No damage at all sends nothing.
func (drv *Driver) planeUpdate(o int, u *update) (reqs []queuedCmd, flushes int, setsScanout bool) {
	k := drv.kms
	s, old := u.new.planes[2*o], u.old.planes[2*o]
	if s.crtc < 0 && old.crtc < 0 {
		return nil, 0, false // on no CRTC before or after: nothing to update
	}
	if s.fb == nil || !u.new.crtcs[o].active {
		return []queuedCmd{setScanout(o, 0, rect{0, 0, s.srcW >> 16, s.srcH >> 16})}, 0, false
	}
	src := rect{s.srcX >> 16, s.srcY >> 16, s.srcW >> 16, s.srcH >> 16}
	full := s.damage == nil || s.fb != old.fb || s.srcX != old.srcX || s.srcY != old.srcY ||
		s.srcW != old.srcW || s.srcH != old.srcH || u.needsModeset&(1<<o) != 0
	dmg := src
	if !full {
		x1, y1, x2, y2 := int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MinInt64), int64(math.MinInt64)
		for i := 0; i+16 <= len(s.damage.data); i += 16 {
			d := s.damage.data[i:]
			cx1, cy1 := max(int64(int32(le.Uint32(d))), int64(src.x)), max(int64(int32(le.Uint32(d[4:]))), int64(src.y))
			cx2, cy2 := min(int64(int32(le.Uint32(d[8:]))), int64(src.x+src.w)), min(int64(int32(le.Uint32(d[12:]))), int64(src.y+src.h))
			if cx1 < cx2 && cy1 < cy2 {
				x1, y1, x2, y2 = min(x1, cx1), min(y1, cy1), max(x2, cx2), max(y2, cy2)
			}
		}
		if x1 >= x2 {
			return nil, 0, false
		}
		dmg = rect{uint32(x1), uint32(y1), uint32(x2 - x1), uint32(y2 - y1)}
	}
	obj := s.fb.obj
	if obj.dumb {
		off := uint64(dmg.x)*4 + uint64(dmg.y)*uint64(s.fb.pitch)
		body := append(dmg.bytes(), le.AppendUint64(nil, off)...)
		reqs = append(reqs, queuedCmd{req: cmdBuf(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, append(body, words(obj.resID, 0)...))})
	}
	c := k.outs[o]
	if s.fb != old.fb || s.srcX != old.srcX || s.srcY != old.srcY || s.srcW != old.srcW || s.srcH != old.srcH || c.needsModeset {
		setsScanout = true
		if obj.blobMem != 0 {
			format := uint32(device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM)
			if s.fb.format == DRM_FORMAT_ARGB8888 {
				format = device.VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM
			}
			body := append(src.bytes(), words(uint32(o), obj.resID, s.fb.width, s.fb.height, format, 0,
				s.fb.pitch, 0, 0, 0, s.fb.offset, 0, 0, 0)...)
			reqs = append(reqs, queuedCmd{req: cmdBuf(device.VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, body)})
		} else {
			reqs = append(reqs, setScanout(o, obj.resID, src))
		}
	}
	reqs = append(reqs, queuedCmd{req: cmdBuf(device.VIRTIO_GPU_CMD_RESOURCE_FLUSH, append(dmg.bytes(), words(obj.resID, 0)...)), fenced: true})
	return reqs, 1, setsScanout
}

// cursorUpdate is one cursor plane's part of a commit: the cursor queue
// request, and for a dumb buffer newly shown the transfer of its image.
type cursorUpdate struct {
	req      []byte
	transfer *queuedCmd
}

// cursorPlaneUpdate is virtio_gpu_cursor_plane_update for output o: a new
// framebuffer is UPDATE_CURSOR with its resource and the plane's hotspot
// (after a fenced TRANSFER_TO_HOST_2D of crtc_w×crtc_h for a dumb buffer),
// anything else MOVE_CURSOR; both carry the plane's CRTC position.
func cursorPlaneUpdate(o int, u *update) (cursorUpdate, bool) {
	s, old := u.new.planes[2*o+1], u.old.planes[2*o+1]
	if s.crtc < 0 && old.crtc < 0 {
		return cursorUpdate{}, false
	}
	var c cursorUpdate
	typ, resID, hotX, hotY := uint32(device.VIRTIO_GPU_CMD_MOVE_CURSOR), uint32(0), int32(0), int32(0)
	if s.fb != nil {
		resID = s.fb.obj.resID
	}
	if s.fb != old.fb {
		typ = device.VIRTIO_GPU_CMD_UPDATE_CURSOR
		if s.fb != nil {
			hotX, hotY = s.hotX, s.hotY
			if s.fb.obj.dumb {
				body := append(rect{0, 0, s.crtcW, s.crtcH}.bytes(), le.AppendUint64(nil, 0)...)
				c.transfer = &queuedCmd{req: cmdBuf(device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, append(body, words(resID, 0)...)), fenced: true}
			}
		}
	}
	c.req = cmdBuf(typ, words(uint32(o), uint32(s.crtcX), uint32(s.crtcY), 0, resID, uint32(hotX), uint32(hotY), 0))
	return c, true
}

// disableFB is drm_framebuffer_remove for a framebuffer still in use
// (atomic_remove_fb): a blocking commit takes it off every plane showing
// it. Only if that commit is refused does a second one also turn off the
// CRTCs whose primary plane showed it; virtio_gpu lets a CRTC stay on
// with an empty primary plane, so the first one is taken
// (testdata/oracle/kms_commit.linux.txt "after rmfb").
func (drv *Driver) disableFB(fb *framebuffer) {
	k := drv.kms
	k.lock(nil)
	defer k.unlock()
	for _, crtcsToo := range []bool{false, true} {
		k.mu.Lock()
		u := k.begin()
		u.allowModeset = true
		for p := range u.new.planes {
			if u.new.planes[p].fb != fb {
				continue
			}
			u.addPlane(p)
			if o := u.new.planes[p].crtc; crtcsToo && p%2 == 0 && o >= 0 {
				u.new.crtcs[o].active, u.new.crtcs[o].mode = false, nil
				u.new.conns[o] = -1
				u.addConnector(o)
			}
			u.new.planes[p].fb, u.new.planes[p].crtc = nil, -1
		}
		k.mu.Unlock()
		if u.planes == 0 || drv.commit(nil, drv.kernelTask(), u, 0) != errno.EINVAL {
			return
		}
	}
}

// drmModePageFlip is drm_mode_page_flip_ioctl with
// drm_atomic_helper_page_flip: EINVAL for unknown flags, a sequence
// without a target flag, both target flags or an async flip (virtio_gpu
// supports neither); ENOENT for an unknown CRTC; EINVAL for a target
// vblank; EBUSY while its primary plane shows nothing; ENOENT for an
// unknown framebuffer; ENOSPC if the plane's source does not fit in it;
// EINVAL for a change of format; ENOMEM when the event does not fit in
// the file's event space; EINVAL for a CRTC that is off. Then a
// nonblocking commit of the new framebuffer on the primary plane, which
// is EBUSY while the CRTC's previous commit is not yet on screen.
func drmModePageFlip(f *File, t *Task, data []byte) errno.Errno {
	crtcID, fbID, flags := le.Uint32(data), le.Uint32(data[4:]), le.Uint32(data[8:])
	switch {
	case flags&^DRM_MODE_PAGE_FLIP_FLAGS != 0, le.Uint32(data[12:]) != 0 && flags&DRM_MODE_PAGE_FLIP_TARGET == 0,
		flags&DRM_MODE_PAGE_FLIP_TARGET == DRM_MODE_PAGE_FLIP_TARGET, flags&DRM_MODE_PAGE_FLIP_ASYNC != 0:
		return errno.EINVAL
	}
	o, ok := f.drv.findOutput(crtcID, output.crtc)
	if !ok {
		return errno.ENOENT
	}
	if flags&DRM_MODE_PAGE_FLIP_TARGET != 0 {
		return errno.EINVAL
	}
	k := f.drv.kms
	if e := k.lock(t.Ctx); e != 0 {
		return e
	}
	defer k.unlock()
	k.mu.Lock()
	u := k.begin()
	p := 2 * int(o)
	s := u.new.planes[p]
	fb := k.fb(fbID)
	if fb != nil {
		u.hold(fb)
	}
	var e errno.Errno
	switch {
	case s.fb == nil:
		e = errno.EBUSY
	case fb == nil:
		e = errno.ENOENT
	case s.srcW > fb.width<<16 || s.srcX > fb.width<<16-s.srcW || s.srcH > fb.height<<16 || s.srcY > fb.height<<16-s.srcH:
		e = errno.ENOSPC
	case fb.format != s.fb.format:
		e = errno.EINVAL
	}
	u.addCRTC(int(o))
	u.addPlane(p)
	u.new.planes[p].crtc, u.new.planes[p].fb = int(o), fb
	active := u.new.crtcs[o].active
	k.mu.Unlock()
	if e == 0 && flags&DRM_MODE_PAGE_FLIP_EVENT != 0 {
		f.evMu.Lock()
		if f.evSpace < vblankEventSize {
			e = errno.ENOMEM
		}
		f.evMu.Unlock()
	}
	if e == 0 && !active {
		e = errno.EINVAL
	}
	if e != 0 {
		u.release()
		return e
	}
	u.event = flags&DRM_MODE_PAGE_FLIP_EVENT != 0
	u.userData = le.Uint64(data[16:])
	return f.drv.commit(f, t, u, DRM_MODE_ATOMIC_NONBLOCK)
}

// setCRTCSize is sizeof(struct drm_mode_crtc), SETCRTC's and GETCRTC's.
const setCRTCSize = getCRTCSize

// drmModeSetCRTC is drm_mode_setcrtc over drm_atomic_helper_set_config:
// ERANGE for an origin past 16 bits, ENOENT for an unknown CRTC; with a
// mode, the framebuffer (fb_id -1 keeps the current one: EINVAL if there
// is none; ENOENT if unknown), EINVAL for aspect-ratio bits the client has
// not allowed or a mode drm_mode_convert_umode refuses (ERANGE for a
// clock past INT_MAX), EINVAL for a framebuffer the primary plane cannot
// show, ENOSPC if the mode at (x, y) does not fit in it; EINVAL for a mode
// without connectors or connectors without a mode, or more connectors
// than exist; EFAULT or ENOENT reading them. Then one blocking commit:
// the CRTC on with that mode and the primary plane covering it from
// (x, y) of the framebuffer, the given connectors routed to it (and no
// others), or without a mode the CRTC and its primary plane off.
func drmModeSetCRTC(f *File, t *Task, data []byte) errno.Errno {
	x, y := le.Uint32(data[20:]), le.Uint32(data[24:])
	if x&0xffff0000 != 0 || y&0xffff0000 != 0 {
		return errno.ERANGE
	}
	o, ok := f.drv.findOutput(le.Uint32(data[12:]), output.crtc)
	if !ok {
		return errno.ENOENT
	}
	k := f.drv.kms
	if e := k.lock(t.Ctx); e != 0 {
		return e
	}
	defer k.unlock()
	withMode := le.Uint32(data[32:]) != 0
	var fb *framebuffer
	var mode []byte
	count := le.Uint32(data[8:])
	k.mu.Lock()
	current := k.cfg.planes[2*o].fb
	k.mu.Unlock()
	if withMode {
		if fbID := le.Uint32(data[16:]); fbID == 0xffffffff {
			if fb = current; fb == nil {
				return errno.EINVAL
			}
		} else {
			k.mu.Lock()
			fb = k.fb(fbID)
			k.mu.Unlock()
			if fb == nil {
				return errno.ENOENT
			}
		}
		mode = data[crtcModeOffset : crtcModeOffset+drmModeInfoSize]
		f.kmsMu.Lock()
		aspect := f.caps.aspectRatio
		f.kmsMu.Unlock()
		if !aspect && le.Uint32(mode[drmModeFlagsOff:])&DRM_MODE_FLAG_PIC_AR_MASK != 0 {
			return errno.EINVAL
		}
		if e := validateMode(mode); e != 0 {
			return e
		}
		if fb.format != DRM_FORMAT_XRGB8888 {
			return errno.EINVAL
		}
		hd, vd := uint32(le.Uint16(mode[4:])), uint32(le.Uint16(mode[14:]))
		if hd > fb.width || vd > fb.height || x > fb.width-hd || y > fb.height-vd {
			return errno.ENOSPC
		}
	}
	if withMode && count == 0 || !withMode && count > 0 {
		return errno.EINVAL
	}
	if count > uint32(f.drv.outputs()) {
		return errno.EINVAL
	}
	var conns []int
	for i := range uint64(count) {
		var b [4]byte
		if t.Mem.CopyIn(le.Uint64(data)+4*i, b[:]) != 0 {
			return errno.EFAULT
		}
		c, ok := f.drv.findOutput(le.Uint32(b[:]), output.connector)
		if !ok {
			return errno.ENOENT
		}
		conns = append(conns, int(c))
	}
	k.mu.Lock()
	u := k.begin()
	u.allowModeset = true
	u.addCRTC(int(o))
	u.addPlane(2 * int(o))
	s, p := &u.new.crtcs[o], &u.new.planes[2*o]
	if !withMode {
		s.mode, s.active = nil, false
		p.crtc, p.fb = -1, nil
	} else {
		um := userMode(mode)
		if s.mode == nil || string(s.mode.data) != string(um) {
			// The kernel makes a blob of the mode (the CRTC's MODE_ID); it
			// goes away with the state that uses it.
			s.mode = k.newBlob(um)
			u.held = append(u.held, s.mode) // the creation's reference
		}
		u.hold(fb)
		s.active = true
		hd, vd := uint32(le.Uint16(mode[4:])), uint32(le.Uint16(mode[14:]))
		*p = planeState{fb: fb, crtc: int(o), crtcW: hd, crtcH: vd, srcX: x << 16, srcY: y << 16, srcW: hd << 16, srcH: vd << 16}
	}
	for c := range u.new.conns {
		if u.new.conns[c] == int(o) {
			u.addConnector(c)
			u.new.conns[c] = -1
		}
	}
	for _, c := range conns {
		u.addConnector(c)
		u.new.conns[c] = int(o)
		u.addCRTC(int(o))
	}
	// Other CRTCs left with no connector are switched off.
	for c := range u.new.crtcs {
		if c == int(o) || u.crtcs&(1<<c) == 0 {
			continue
		}
		routed := false
		for _, to := range u.new.conns {
			routed = routed || to == c
		}
		if !routed {
			u.new.crtcs[c].mode, u.new.crtcs[c].active = nil, false
		}
	}
	k.mu.Unlock()
	return f.drv.commit(f, t, u, 0)
}
