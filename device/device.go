// Package device is fencelab's virtio-gpu device: it takes requests from
// split virtqueues in guest memory and writes responses back, as QEMU and
// crosvm do for a Linux guest (virtio spec, "GPU Device").
//
// The device is a passive state machine on virtual time: the machine calls
// [Device.Kick] when the driver notifies a queue, and the device answers
// through the used rings and the Interrupt callback. It starts no
// goroutines and reads no clock.
//
// Hostile guests: a malformed request (too short, unknown command, bad ids
// or rectangles) gets an error response and the device carries on; a
// corrupted queue puts the device in the DEVICE_NEEDS_RESET state. Every
// guest-controlled size is capped before anything is allocated.
//
// Error responses follow QEMU's device (hw/display/virtio-gpu.c) case by
// case; where QEMU answers a request too short for its command with
// OK_NODATA, fencelab answers ERR_UNSPEC as crosvm does, so a learner sees
// the mistake.
//
// With VIRGL the device offers one capset, fencelab's own (id 31): its
// command stream (clear, fill, blit, triangles, host-side wait, modelled
// work) and cost model are specified at the top of render.go. SUBMIT_3D
// streams and 3D transfers run as jobs on modelled GPU workers chosen by
// [Threading]; fences retire per timeline as gpu.go describes, and
// [Fault]s can be injected per timeline.
package device

import (
	"errors"
	"fmt"

	"fencelab/timeline"
	"fencelab/virtio"
)

// Queue indices.
const (
	ControlQ = 0
	CursorQ  = 1
)

// Display is one output's size in pixels.
type Display struct{ Width, Height uint32 }

// Config describes a device. The zero value is a one-display 2D device.
type Config struct {
	// Features are the virtio-gpu and ring feature bits offered; zero
	// means DefaultFeatures.
	Features uint64
	// Displays are the outputs, 1..16; none means one 1024×768 display.
	Displays []Display
	// HostMem is the budget for resource storage; exceeding it is
	// ERR_OUT_OF_MEMORY. Zero means 256 MiB.
	HostMem uint64
	// MaxRequest caps the bytes of one request; a longer one gets
	// ERR_UNSPEC. Zero means 16 MiB.
	MaxRequest uint64
	// MaxQueued caps the bytes of requests queued as GPU jobs and not yet
	// finished; a job past it is refused with ERR_OUT_OF_MEMORY. Zero
	// means 64 MiB.
	MaxQueued uint64
	// Sink receives the device's events; nil discards them.
	Sink timeline.Sink
	// Interrupt is called with a queue index when the driver asked to be
	// told about new used buffers on it; nil ignores it.
	Interrupt func(queue int)
	// Threading is how the modelled GPU runs jobs.
	Threading Threading
	// Faults are injected into jobs on the timelines they name.
	Faults []Fault
}

// DefaultFeatures is what a device offers unless told otherwise: 3D with
// context init (fencelab's renderer and per-ring fence timelines), EDID,
// resource UUIDs, guest blobs, and the ring features Linux uses.
const DefaultFeatures = 1<<VIRTIO_GPU_F_VIRGL | 1<<VIRTIO_GPU_F_EDID | 1<<VIRTIO_GPU_F_RESOURCE_UUID |
	1<<VIRTIO_GPU_F_RESOURCE_BLOB | 1<<VIRTIO_GPU_F_CONTEXT_INIT |
	1<<virtio.VIRTIO_F_INDIRECT_DESC | 1<<virtio.VIRTIO_F_EVENT_IDX | 1<<virtio.VIRTIO_F_VERSION_1

// Device is a virtio-gpu device. It is not safe for concurrent use.
type Device struct {
	cfg  Config
	mem  *virtio.Memory
	sink timeline.Sink

	status         uint8
	driverFeatures uint64
	layouts        [2]virtio.Layout
	queues         [2]*virtio.DeviceQueue
	eventsRead     uint32
	now            int64

	resources map[uint32]*resource
	hostmem   uint64
	scanouts  []scanout
	cursor    Cursor
	// cursorImage is the cursor's picture, copied from its resource at
	// UPDATE_CURSOR (CursorImage).
	cursorImage Scanout
	// changed has bit i when output i's picture changed other than by
	// flushed damage (a scanout set or disabled, the cursor moved or
	// changed) since the display last took its damage.
	changed uint32

	contexts    map[uint32]*context3D
	fences      map[timelineKey]*fenceTimeline
	workers     []*worker
	workerIndex map[workerKey]int
	dropped     []uint16
	queued      uint64 // request bytes of jobs not yet finished
	queuedJobs  int
}

// New returns a device on guest memory m.
func New(m *virtio.Memory, cfg Config) (*Device, error) {
	if cfg.Features == 0 {
		cfg.Features = DefaultFeatures
	}
	if len(cfg.Displays) == 0 {
		cfg.Displays = []Display{{1024, 768}}
	}
	if len(cfg.Displays) > VIRTIO_GPU_MAX_SCANOUTS {
		return nil, fmt.Errorf("device: %d displays; at most %d", len(cfg.Displays), VIRTIO_GPU_MAX_SCANOUTS)
	}
	for i, disp := range cfg.Displays {
		if disp.Width == 0 || disp.Height == 0 || disp.Width > maxDisplaySide || disp.Height > maxDisplaySide {
			return nil, fmt.Errorf("device: display %d is %dx%d; each side must be 1..%d", i, disp.Width, disp.Height, maxDisplaySide)
		}
	}
	if cfg.HostMem == 0 {
		cfg.HostMem = 256 << 20
	}
	if cfg.MaxRequest == 0 {
		cfg.MaxRequest = 16 << 20
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = 64 << 20
	}
	sink := cfg.Sink
	if sink == nil {
		sink = timeline.Discard
	}
	cfg.Faults = append([]Fault(nil), cfg.Faults...) // counts are used up in place
	d := &Device{cfg: cfg, mem: m, sink: sink}
	d.clear()
	return d, nil
}

// clear empties every piece of device state the driver can create.
func (d *Device) clear() {
	d.resources = map[uint32]*resource{}
	d.scanouts = make([]scanout, len(d.cfg.Displays))
	d.contexts = map[uint32]*context3D{}
	d.fences = map[timelineKey]*fenceTimeline{}
	d.workerIndex = map[workerKey]int{}
}

// DeviceFeatures returns the feature bits the device offers.
func (d *Device) DeviceFeatures() uint64 { return d.cfg.Features }

// SetDriverFeatures records the features the driver accepts, before it sets
// FEATURES_OK.
func (d *Device) SetDriverFeatures(f uint64) { d.driverFeatures = f }

// Negotiated returns the features both sides accepted.
func (d *Device) Negotiated() uint64 { return d.driverFeatures & d.cfg.Features }

func (d *Device) has(bit uint) bool { return d.Negotiated()&(1<<bit) != 0 }

// Status returns the device status byte.
func (d *Device) Status() uint8 { return d.status }

// SetStatus writes the device status byte (§2.1, §3.1). Writing 0 resets
// the device. FEATURES_OK is refused (left clear) if the driver accepted a
// feature the device did not offer.
func (d *Device) SetStatus(s uint8) {
	if s == 0 {
		d.reset()
		return
	}
	if s&virtio.VIRTIO_CONFIG_S_FEATURES_OK != 0 && d.status&virtio.VIRTIO_CONFIG_S_FEATURES_OK == 0 &&
		d.driverFeatures&^d.cfg.Features != 0 {
		s &^= virtio.VIRTIO_CONFIG_S_FEATURES_OK
	}
	d.status = s | d.status&virtio.VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET
}

func (d *Device) reset() {
	var lit uint32 // a reset turns off every output that was on
	for i, s := range d.scanouts {
		if s.resource != 0 {
			lit |= 1 << i
		}
	}
	*d = Device{cfg: d.cfg, mem: d.mem, sink: d.sink, now: d.now, changed: lit}
	d.clear()
}

// ReadConfig reads struct virtio_gpu_config at offset off into b. Bytes
// outside the structure read as zero.
func (d *Device) ReadConfig(off uint32, b []byte) {
	var cfg [configSize]byte
	le.PutUint32(cfg[configEventsRead:], d.eventsRead)
	le.PutUint32(cfg[configNumScanouts:], uint32(len(d.cfg.Displays)))
	le.PutUint32(cfg[configNumCapsets:], d.numCapsets())
	for i := range b {
		b[i] = 0
		if o := uint64(off) + uint64(i); o < configSize {
			b[i] = cfg[o]
		}
	}
}

// WriteConfig writes to the config space: only events_clear is writable
// (write 1 to clear a bit of events_read).
func (d *Device) WriteConfig(off uint32, b []byte) {
	if off == configEventsClear && len(b) == 4 {
		d.eventsRead &^= le.Uint32(b)
	}
}

// DisplayChanged raises VIRTIO_GPU_EVENT_DISPLAY, as a host does when an
// output is resized.
func (d *Device) DisplayChanged() { d.eventsRead |= VIRTIO_GPU_EVENT_DISPLAY }

// SetQueue places queue q (ControlQ or CursorQ) at l. The queue starts
// being used at the next Kick after the driver sets DRIVER_OK.
func (d *Device) SetQueue(q int, l virtio.Layout) error {
	if q != ControlQ && q != CursorQ {
		return fmt.Errorf("device: no queue %d", q)
	}
	if err := l.Check(d.mem); err != nil {
		return fmt.Errorf("device: queue %d: %w", q, err)
	}
	d.layouts[q] = l
	d.queues[q] = nil
	return nil
}

// NeedsReset reports whether the device has given up on a corrupted queue
// and waits for the driver to reset it.
func (d *Device) NeedsReset() bool { return d.status&virtio.VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET != 0 }

// Kick is an available-buffer notification for queue q at virtual time now:
// the device processes every chain the driver has made available.
func (d *Device) Kick(q int, now int64) {
	if now > d.now {
		d.now = now
	}
	if q != ControlQ && q != CursorQ || d.status&virtio.VIRTIO_CONFIG_S_DRIVER_OK == 0 || d.NeedsReset() {
		return
	}
	vq := d.queues[q]
	if vq == nil {
		if d.layouts[q].Size == 0 {
			return
		}
		var err error
		if vq, err = virtio.NewDeviceQueue(d.mem, d.layouts[q], d.Negotiated()); err != nil {
			d.broken(q, err)
			return
		}
		d.queues[q] = vq
	}
	d.Advance(now)
	for range d.layouts[q].Size {
		c, err := vq.Pop()
		if err != nil {
			d.broken(q, err)
			return
		}
		if c == nil {
			break
		}
		d.emit(timeline.Event{Kind: timeline.QueueAvail, Queue: uint8(q), Head: c.Head})
		if q == ControlQ {
			d.control(vq, c)
		} else {
			d.cursorCmd(vq, c)
		}
	}
	// New jobs may start, and finish, at once.
	d.Advance(now)
	if vq.NeedInterrupt() && d.cfg.Interrupt != nil {
		d.cfg.Interrupt(q)
	}
}

func (d *Device) broken(q int, err error) {
	if !errors.Is(err, virtio.ErrCorrupt) {
		err = fmt.Errorf("%w: %v", virtio.ErrCorrupt, err)
	}
	d.status |= virtio.VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET
	d.emit(timeline.Event{Kind: timeline.QueueBroken, Queue: uint8(q)})
}

func (d *Device) emit(e timeline.Event) {
	e.Time = d.now
	d.sink.Emit(e)
}

// control handles one controlq chain: decode, execute, respond.
func (d *Device) control(vq *virtio.DeviceQueue, c *virtio.Chain) {
	req, ok := virtio.Gather(d.mem, c, d.cfg.MaxRequest)
	var hdr CtrlHdr
	if !ok || len(req) < CtrlHdrSize {
		d.respond(vq, c, hdr, response(VIRTIO_GPU_RESP_ERR_UNSPEC))
		return
	}
	hdr.Unmarshal(req)
	d.emit(timeline.Event{Kind: timeline.Request, Queue: ControlQ, Head: c.Head, Cmd: hdr.Type,
		Flags: hdr.Flags, FenceID: hdr.FenceID, CtxID: hdr.CtxID, RingIdx: hdr.RingIdx})
	fenced := hdr.Flags&VIRTIO_GPU_FLAG_FENCE != 0
	ringFence := fenced && hdr.Flags&VIRTIO_GPU_FLAG_INFO_RING_IDX != 0
	// A ring fence names a context's timeline; crosvm refuses one on a
	// context that does not exist with ERR_UNSPEC, before the command
	// runs. It is never parked, which also bounds the timelines a guest
	// can make. CTX_CREATE is the exception: it makes the context.
	if ringFence && hdr.Type != VIRTIO_GPU_CMD_CTX_CREATE && d.contexts[hdr.CtxID] == nil {
		d.respond(vq, c, hdr, response(VIRTIO_GPU_RESP_ERR_UNSPEC))
		return
	}
	resp, j := d.execute(hdr, req[CtrlHdrSize:])
	if ringFence && d.contexts[hdr.CtxID] == nil && hdr.Type == VIRTIO_GPU_CMD_CTX_CREATE {
		d.respond(vq, c, hdr, resp) // creation failed: nothing to park on
		return
	}
	if j != nil && !d.admit(j, len(req)) {
		resp, j = response(VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY), nil
	}
	switch {
	case !fenced:
		d.respond(vq, c, hdr, resp)
	case j != nil:
		// Answered when the job is done and the timeline retires it.
		j.item = d.park(hdr, c, resp, false)
	default:
		// Done now, but answered in order on its timeline.
		d.park(hdr, c, resp, true)
		d.retire(keyOf(hdr))
	}
	if j != nil {
		d.enqueue(j)
	}
}

// respond writes resp (its header type set, the rest of the header filled
// here) into the chain's writable buffers and returns the chain. A fenced
// request's response echoes FLAG_FENCE, fence_id and ctx_id, and with
// INFO_RING_IDX the ring too, as QEMU and crosvm do.
func (d *Device) respond(vq *virtio.DeviceQueue, c *virtio.Chain, req CtrlHdr, resp []byte) {
	var h CtrlHdr
	h.Unmarshal(resp)
	if req.Flags&VIRTIO_GPU_FLAG_FENCE != 0 {
		h.Flags = req.Flags & (VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX)
		h.FenceID, h.CtxID = req.FenceID, req.CtxID
		if req.Flags&VIRTIO_GPU_FLAG_INFO_RING_IDX != 0 {
			h.RingIdx = req.RingIdx
		}
	}
	h.Marshal(resp)
	n := virtio.Scatter(d.mem, c, resp)
	d.emit(timeline.Event{Kind: timeline.Response, Queue: ControlQ, Head: c.Head, Cmd: req.Type, Resp: h.Type,
		Flags: h.Flags, FenceID: h.FenceID, CtxID: h.CtxID, RingIdx: h.RingIdx, Len: n})
	vq.Push(c.Head, n)
	d.emit(timeline.Event{Kind: timeline.QueueUsed, Queue: ControlQ, Head: c.Head, Len: n})
}

// response returns a zeroed response of the header alone with type typ.
func response(typ uint32) []byte {
	b := make([]byte, respNodataSize)
	le.PutUint32(b, typ)
	return b
}

// responseSized returns a zeroed response of size bytes with type typ.
func responseSized(typ uint32, size int) []byte {
	b := make([]byte, size)
	le.PutUint32(b, typ)
	return b
}

// execute runs one command and returns its response, and the job that
// completes it when it is work for the GPU.
func (d *Device) execute(h CtrlHdr, body []byte) ([]byte, *job) {
	switch h.Type {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return d.getDisplayInfo(), nil
	case VIRTIO_GPU_CMD_GET_EDID:
		return d.getEDID(body), nil
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return d.resourceCreate2D(body), nil
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return d.resourceUnref(body), nil
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return d.setScanout(body), nil
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return d.resourceFlush(body), nil
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return d.transferToHost2D(body), nil
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return d.attachBacking(body), nil
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return d.detachBacking(body), nil
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		return d.getCapsetInfo(body), nil
	case VIRTIO_GPU_CMD_GET_CAPSET:
		return d.getCapset(body), nil
	case VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID:
		if d.has(VIRTIO_GPU_F_RESOURCE_UUID) {
			return d.assignUUID(body), nil
		}
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, VIRTIO_GPU_CMD_SET_SCANOUT_BLOB:
		// QEMU answers both with ERR_INVALID_PARAMETER when blobs are off.
		switch {
		case !d.has(VIRTIO_GPU_F_RESOURCE_BLOB):
			return response(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER), nil
		case h.Type == VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB:
			return d.resourceCreateBlob(body), nil
		default:
			return d.setScanoutBlob(body), nil
		}
	}
	if d.has(VIRTIO_GPU_F_VIRGL) {
		switch h.Type {
		case VIRTIO_GPU_CMD_CTX_CREATE:
			return d.ctxCreate(h, body), nil
		case VIRTIO_GPU_CMD_CTX_DESTROY:
			return d.ctxDestroy(h), nil
		case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
			return d.ctxResource(h, body, true), nil
		case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
			return d.ctxResource(h, body, false), nil
		case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
			return d.resourceCreate3D(body), nil
		case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
			return d.transfer3DCmd(h, body, true)
		case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
			return d.transfer3DCmd(h, body, false)
		case VIRTIO_GPU_CMD_SUBMIT_3D:
			return d.submit3D(h, body)
		}
	}
	// Unknown commands, and commands of features not negotiated.
	return response(VIRTIO_GPU_RESP_ERR_UNSPEC), nil
}

// cursorCmd handles one cursorq chain. Cursor commands have no response:
// QEMU returns each chain with nothing written.
func (d *Device) cursorCmd(vq *virtio.DeviceQueue, c *virtio.Chain) {
	req, ok := virtio.Gather(d.mem, c, CtrlHdrSize+updateCursorSize)
	if ok && len(req) >= CtrlHdrSize+updateCursorSize {
		var h CtrlHdr
		h.Unmarshal(req)
		d.emit(timeline.Event{Kind: timeline.Request, Queue: CursorQ, Head: c.Head, Cmd: h.Type})
		d.cursorUpdate(h.Type, req[CtrlHdrSize:])
	}
	vq.Push(c.Head, 0)
	d.emit(timeline.Event{Kind: timeline.QueueUsed, Queue: CursorQ, Head: c.Head})
}
