package stream

import (
	"testing"

	"fencelab/timeline"
)

// benchFrame is a message of 1024 events of several kinds.
func benchFrame() []byte {
	evs := make([]timeline.Event, 1024)
	for i := range evs {
		t := int64(1_000_000_000 + i*1000)
		switch i % 4 {
		case 0:
			evs[i] = timeline.Event{Time: t, Kind: timeline.JobStart, Worker: 1, CtxID: 1, RingIdx: 2, FenceID: uint64(i)}
		case 1:
			evs[i] = timeline.Event{Time: t, Kind: timeline.QueueAdd, Head: uint16(i), Cmd: 0x207, Flags: 3, FenceID: uint64(i), CtxID: 1, RingIdx: 2}
		case 2:
			evs[i] = timeline.Event{Time: t, Kind: timeline.FenceSignalled, Fence: timeline.Fence{Context: 9, Seqno: uint64(i)}}
		default:
			evs[i] = timeline.Event{Time: t, Kind: timeline.IoctlExit, Pid: 1, FD: 3, Ioctl: 0xc0186444}
		}
	}
	return AppendEvents(nil, 0, evs)
}

// BenchmarkDecodeFrame: what the server spends taking a message apart,
// per event.
func BenchmarkDecodeFrame(b *testing.B) {
	msg := benchFrame()
	var evs []timeline.Event
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		f, err := DecodeFrame(msg, 0, evs)
		if err != nil {
			b.Fatal(err)
		}
		evs = f.Events[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1024, "ns/event")
}
