package main

import (
	"syscall/js"

	"fencelab/session"
	"fencelab/timeline"
)

// feed is the timeline sink of the page's session: events become JSON
// lines (timeline's wire format) handed to fencelab.onEvents in batches,
// at each tick and after each step. What the page has not taken by the
// time a batch passes maxBatch is dropped, and the drop is said in the
// batch, so a page that cannot keep up never grows the tab's memory.
type feed struct {
	buf      []byte
	dropped  int
	lastTime int64  // of the newest event dropped
	header   []byte // the run's header line, first in the first batch
	meta     timeline.Meta
}

const maxBatch = 4 << 20

func newFeed() *feed { return &feed{} }

// reset starts the stream of a new run; notReplayable, if not empty, is
// why its link does not reproduce it.
func (f *feed) reset(spec session.Spec, notReplayable string) {
	meta := timeline.Meta{Guest: spec.Guest, Seed: spec.Options.Seed,
		Config: map[string]string{"link": spec.Query().Encode()}}
	if notReplayable != "" {
		meta.Config[timeline.NotReplayable] = notReplayable
	}
	f.meta = meta
	f.buf, f.dropped = f.buf[:0], 0
	f.setHeader()
}

// named gives the run's processes their names in the header (the panel
// names their tracks with them); it comes before the first flush.
func (f *feed) named(names map[int32]string) {
	f.meta.Processes = names
	f.setHeader()
}

func (f *feed) setHeader() {
	h, err := timeline.AppendHeader(nil, f.meta)
	if err != nil {
		h = nil
	}
	f.header = h
}

// discard forgets what is buffered and not yet handed to the page: a
// run that is gone, or one that never started.
func (f *feed) discard() { f.buf, f.dropped, f.header = f.buf[:0], 0, nil }

// Emit implements timeline.Sink.
func (f *feed) Emit(e timeline.Event) {
	if len(f.buf) > maxBatch {
		f.dropped++
		f.lastTime = e.Time
		return
	}
	f.buf = timeline.AppendEvent(f.buf, e)
}

// flush hands what is buffered to the page, if it listens. Until it
// does, the events wait (up to maxBatch, then counted as dropped): the
// page sets its listener a moment after the machine starts, and a short
// run may be over by then.
func (f *feed) flush() {
	if len(f.buf) == 0 && f.header == nil && f.dropped == 0 {
		return
	}
	cb := js.Global().Get("fencelab").Get("onEvents")
	if cb.Type() != js.TypeFunction {
		return
	}
	if f.dropped > 0 { // said where the gap is, as timeline.Ring does
		f.buf = timeline.AppendEvent(f.buf, timeline.Event{Time: f.lastTime, Kind: timeline.Dropped, Count: uint64(f.dropped)})
	}
	batch := string(f.header) + string(f.buf)
	f.header, f.buf, f.dropped = nil, f.buf[:0], 0
	cb.Invoke(batch)
}
