package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"fencelab/device"
	"fencelab/drm"
	"fencelab/errno"
	"fencelab/session"
	"fencelab/timeline"
)

// traceOut is --trace: JSON lines stream to the file as events come; a
// Chrome trace (FILE.json) is built at the end from the newest events a
// bounded ring kept.
type traceOut struct {
	path    string
	f       *os.File
	w       *timeline.Writer // JSON lines, once started
	pending []timeline.Event // JSON lines events before the header could be written
	ring    *timeline.Ring   // Chrome
	meta    timeline.Meta
	n       int
	err     error
}

// names are what the Chrome trace calls ioctls, virtio-gpu codes and
// errnos.
var names = timeline.Names{
	Ioctl: drm.IoctlName,
	Cmd:   device.WireName,
	Errno: func(e uint16) string { return errno.Errno(e).Name() },
}

// newTrace creates the file. The header's link is the whole spec, so a
// replay (the dev server's, say) runs the same guest, arguments, input
// and options; notReplayable says why it would not, when it would not.
func newTrace(path string, spec session.Spec, notReplayable string, maxEvents int) (*traceOut, error) {
	link, err := spec.Link()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	t := &traceOut{path: path, f: f, meta: timeline.Meta{Guest: spec.Guest, Seed: spec.Options.Seed,
		Config: map[string]string{"link": link}}}
	if notReplayable != "" {
		t.meta.Config[timeline.NotReplayable] = notReplayable
	}
	if strings.HasSuffix(path, ".json") {
		t.ring = timeline.NewRing(maxEvents)
	}
	return t, nil
}

// start names the session's processes in the header (pid i+1 is
// s.Procs[i]) and writes what came before it, the machine's boot.
func (t *traceOut) start(s *session.Session) {
	t.meta.Processes = s.ProcessNames()
	if t.ring != nil {
		return
	}
	t.w, t.err = timeline.NewWriter(t.f, t.meta)
	for _, e := range t.pending {
		if t.err == nil {
			t.err = t.w.WriteEvent(e)
		}
	}
	t.pending = nil
}

// Emit implements timeline.Sink.
func (t *traceOut) Emit(e timeline.Event) {
	t.n++
	switch {
	case t.ring != nil:
		t.ring.Emit(e)
	case t.w == nil:
		t.pending = append(t.pending, e)
	case t.err == nil:
		t.err = t.w.WriteEvent(e)
	}
}

// close finishes the file and returns how many events it holds.
func (t *traceOut) close() (int, error) {
	err := t.err
	if t.ring != nil {
		bw := bufio.NewWriterSize(t.f, 1<<16)
		if err == nil {
			err = timeline.WriteChrome(bw, t.meta, t.ring.Events(), names)
		}
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
	} else if t.w != nil {
		if ferr := t.w.Flush(); err == nil {
			err = ferr
		}
	}
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.path, err)
	}
	if t.ring != nil {
		return min(t.n, t.ring.Cap()), nil // the oldest beyond its capacity went (a Dropped event says so)
	}
	return t.n, nil
}
