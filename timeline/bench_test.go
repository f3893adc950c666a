package timeline

import (
	"bytes"
	"io"
	"testing"
)

// syntheticRun is n rounds of a producer and a consumer: the producer
// submits a job whose out-fence goes to a timeline syncobj point, the
// device runs it, the consumer waits for the point and wakes; a vblank
// every fourth round. About 17 events a round, of the kinds a real run
// emits most.
func syntheticRun(n int) []Event {
	evs := make([]Event, 0, n*17)
	const us = 1000
	for i := range n {
		t := int64(i) * 100 * us
		id := uint64(i + 1)
		ring := uint8(i % 2)
		f := Fence{Context: 5 + uint64(ring), Seqno: id}
		evs = append(evs,
			Event{Time: t, Kind: IoctlEnter, Pid: 1, FD: 3, Ioctl: ioctlExecbuffer},
			Event{Time: t, Kind: FenceEmitted, Pid: 1, FD: 3, Fence: f, FenceID: id, CtxID: 1, RingIdx: ring},
			Event{Time: t, Kind: QueueAdd, Head: uint16(i), Cmd: cmdSubmit3D, Flags: flagFenceRing, FenceID: id, CtxID: 1, RingIdx: ring},
			Event{Time: t, Kind: QueueAvail, Head: uint16(i)},
			Event{Time: t, Kind: Request, Head: uint16(i), Cmd: cmdSubmit3D, Flags: flagFenceRing, FenceID: id, CtxID: 1, RingIdx: ring},
			Event{Time: t, Kind: JobStart, Worker: int32(ring), CtxID: 1, RingIdx: ring, FenceID: id},
			Event{Time: t, Kind: SyncobjAddPoint, Pid: 1, Syncobj: 1, Handle: 1, Point: id, Fence: f},
			Event{Time: t, Kind: IoctlExit, Pid: 1, FD: 3, Ioctl: ioctlExecbuffer},
			Event{Time: t + us, Kind: IoctlEnter, Pid: 2, FD: 3, Ioctl: ioctlTimelineWait},
			Event{Time: t + us, Kind: WaitBlocked, Pid: 2, FD: 3, Syncobj: 1, Handle: 2, Point: id, Fence: f},
			Event{Time: t + 50*us, Kind: JobEnd, Worker: int32(ring), CtxID: 1, RingIdx: ring, FenceID: id},
			Event{Time: t + 50*us, Kind: FenceRetired, FenceID: id, CtxID: 1, RingIdx: ring, Flags: flagFenceRing},
			Event{Time: t + 50*us, Kind: Response, Head: uint16(i), Cmd: cmdSubmit3D, Resp: respOKNodata, Len: 24,
				Flags: flagFenceRing, FenceID: id, CtxID: 1, RingIdx: ring},
			Event{Time: t + 50*us, Kind: QueueUsed, Head: uint16(i), Len: 24},
			Event{Time: t + 50*us, Kind: FenceSignalled, Fence: f},
			Event{Time: t + 50*us, Kind: WaitWoken, Pid: 2, FD: 3, Syncobj: 1, Handle: 2, Point: id, Fence: f},
			Event{Time: t + 50*us, Kind: IoctlExit, Pid: 2, FD: 3, Ioctl: ioctlTimelineWait},
		)
		if i%4 == 3 {
			evs = append(evs, Event{Time: t + 60*us, Kind: Vblank, Count: uint64(i / 4)})
		}
	}
	return evs
}

func reportEvents(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendEvent is the JSON lines encoder alone.
func BenchmarkAppendEvent(b *testing.B) {
	evs := syntheticRun(1000)
	buf := make([]byte, 0, 64<<10)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, e := range evs {
			buf = AppendEvent(buf, e)
		}
		n += len(evs)
	}
	b.SetBytes(int64(len(buf)))
	reportEvents(b, n)
}

// BenchmarkWriter is the JSON lines Writer into io.Discard.
func BenchmarkWriter(b *testing.B) {
	evs := syntheticRun(1000)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteAll(io.Discard, goldenMeta, evs); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportEvents(b, n)
}

// BenchmarkReader decodes what BenchmarkWriter writes.
func BenchmarkReader(b *testing.B) {
	evs := syntheticRun(1000)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, goldenMeta)
	for _, e := range evs {
		w.WriteEvent(e)
	}
	w.Flush()
	data := buf.Bytes()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.SetBytes(int64(len(data)))
	reportEvents(b, n)
}

// BenchmarkChrome is the Chrome trace encoder on a 17,000-event run.
func BenchmarkChrome(b *testing.B) {
	evs := syntheticRun(1000)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteChrome(io.Discard, goldenMeta, evs, goldenNames); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportEvents(b, n)
}

// BenchmarkRingEmit is the cost of emitting into a full Ring.
func BenchmarkRingEmit(b *testing.B) {
	r := NewRing(1024)
	e := Event{Kind: JobStart, CtxID: 1, FenceID: 1}
	b.ReportAllocs()
	for b.Loop() {
		e.Time++
		r.Emit(e)
	}
}

func TestSyntheticRunIsValid(t *testing.T) {
	evs := syntheticRun(50)
	for i, e := range evs {
		if err := e.Check(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	tr := checkChrome(t, encodeChrome(t, goldenMeta, evs, goldenNames))
	if len(tr.arrows) < 50*4 {
		t.Errorf("%d arrows for 50 rounds; want at least 4 a round", len(tr.arrows))
	}
}
