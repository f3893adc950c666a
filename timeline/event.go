// Package timeline defines the events every layer of a fencelab machine
// emits (the device today; the driver, the guest runtime and the display
// as they land), and the [Sink] they are emitted through. Events are plain
// values with a virtual timestamp, never strings: a viewer or an encoder
// decides how to show them. The encoders (JSON lines, Chrome/Perfetto
// trace) and the streaming client arrive with their own issue.
//
// The set of kinds is append-only: a kind keeps its number forever, so a
// stored recording stays readable.
package timeline

// Kind says what happened.
type Kind uint16

// The kinds of event. Append only; never renumber.
const (
	_ Kind = iota
	// QueueAvail: the device took a chain from a virtqueue (Queue, Head).
	QueueAvail
	// QueueUsed: the device returned a chain to a virtqueue (Queue, Head, Len).
	QueueUsed
	// QueueBroken: the device found a queue corrupted and needs a reset.
	QueueBroken
	// Request: the device decoded a command (Cmd, header fields).
	Request
	// Response: the device answered a command (Cmd, Resp, header fields).
	Response
	// JobStart and JobEnd bracket work on a modelled GPU worker (Worker).
	JobStart
	JobEnd
	// FenceRetired: a device timeline completed up to FenceID; parked
	// fenced requests with ids ≤ FenceID on it are answered.
	FenceRetired
	// Flush: a resource's rectangle was flushed to a scanout (Resource,
	// Scanout, Rect).
	Flush
	// ScanoutSet: a scanout now shows a resource (0: disabled).
	ScanoutSet
	// Cursor: the cursor was updated or moved (Scanout, X, Y, Resource).
	Cursor
)

var kindNames = [...]string{
	QueueAvail: "queue-avail", QueueUsed: "queue-used", QueueBroken: "queue-broken",
	Request: "request", Response: "response", JobStart: "job-start", JobEnd: "job-end",
	FenceRetired: "fence-retired", Flush: "flush", ScanoutSet: "scanout-set", Cursor: "cursor",
}

// String returns the kind's stable name.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind-" + itoa(uint64(k))
}

// Rect is a rectangle in pixels, (0,0) at the top left.
type Rect struct{ X, Y, W, H uint32 }

// Event is one thing that happened at virtual time Time (nanoseconds). Only
// the fields its Kind names are meaningful; the rest are zero.
type Event struct {
	Time int64
	Kind Kind

	// The virtqueue side.
	Queue uint8  // 0 controlq, 1 cursorq
	Head  uint16 // descriptor chain head
	Len   uint32 // bytes written into the chain

	// The virtio-gpu command.
	Cmd      uint32 // VIRTIO_GPU_CMD_*
	Resp     uint32 // VIRTIO_GPU_RESP_*
	Flags    uint32 // header flags (FENCE, INFO_RING_IDX)
	FenceID  uint64
	CtxID    uint32
	RingIdx  uint8
	Resource uint32
	Scanout  uint32
	Rect     Rect
	X, Y     int32

	// The modelled GPU.
	Worker int32 // worker index for JobStart/JobEnd
}

// Sink receives events. Emit is called synchronously by the layer that
// produced the event and must not call back into it.
type Sink interface {
	Emit(Event)
}

// Discard is a Sink that drops everything.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// Recorder is a Sink that keeps every event in order, for tests and for
// the headless CLI. The zero value is ready to use.
type Recorder struct {
	Events []Event
}

// Emit implements Sink.
func (r *Recorder) Emit(e Event) { r.Events = append(r.Events, e) }

// Of returns the recorded events of kind k.
func (r *Recorder) Of(k Kind) []Event {
	var out []Event
	for _, e := range r.Events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
