package timeline

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Request numbers and codes used by the fixed run, with names for the
// Chrome encoder (the real tables live in drm/ and device/).
const (
	ioctlSyncobjCreate   = 0xc00864bf // DRM_IOCTL_SYNCOBJ_CREATE
	ioctlExecbuffer      = 0xc0406442 // DRM_IOCTL_VIRTGPU_EXECBUFFER (the seed's layout)
	ioctlTimelineWait    = 0xc03064ca // DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT
	ioctlSyncobjTransfer = 0xc02064cc // DRM_IOCTL_SYNCOBJ_TRANSFER
	ioctlAtomic          = 0xc03864bc // DRM_IOCTL_MODE_ATOMIC
	ioctlSwSyncInc       = 0x40045701 // SW_SYNC_IOC_INC

	cmdSubmit3D   = 0x0207 // VIRTIO_GPU_CMD_SUBMIT_3D
	cmdFlush      = 0x0104 // VIRTIO_GPU_CMD_RESOURCE_FLUSH
	cmdUpdCursor  = 0x0300 // VIRTIO_GPU_CMD_UPDATE_CURSOR
	respOKNodata  = 0x1100 // VIRTIO_GPU_RESP_OK_NODATA
	flagFenceRing = 3      // VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX

	eTIME = 62
)

var goldenNames = Names{
	Ioctl: func(r uint32) string {
		switch r {
		case ioctlSyncobjCreate:
			return "DRM_IOCTL_SYNCOBJ_CREATE"
		case ioctlExecbuffer:
			return "DRM_IOCTL_VIRTGPU_EXECBUFFER"
		case ioctlTimelineWait:
			return "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT"
		case ioctlSyncobjTransfer:
			return "DRM_IOCTL_SYNCOBJ_TRANSFER"
		case ioctlAtomic:
			return "DRM_IOCTL_MODE_ATOMIC"
		case ioctlSwSyncInc:
			return "SW_SYNC_IOC_INC"
		}
		return fmt.Sprintf("ioctl %#x", r)
	},
	Cmd: func(c uint32) string {
		switch c {
		case cmdSubmit3D:
			return "SUBMIT_3D"
		case cmdFlush:
			return "RESOURCE_FLUSH"
		case cmdUpdCursor:
			return "UPDATE_CURSOR"
		case respOKNodata:
			return "OK_NODATA"
		}
		return fmt.Sprintf("%#x", c)
	},
	Errno: func(e uint16) string {
		if e == eTIME {
			return "ETIME"
		}
		return fmt.Sprintf("E%d", e)
	},
}

var goldenMeta = Meta{
	Guest:     "prodcons prodcons",
	Seed:      42,
	Config:    map[string]string{"threading": "per-ring", "displays": "64x64"},
	Processes: map[int32]string{1: "producer", 2: "consumer"},
}

// goldenEvents is a fixed run that uses every kind: a producer submits
// two jobs on two rings of context 1, the first after an in-fence from a
// CPU timeline, putting their out-fences on a timeline syncobj; a consumer
// waits for point 1, transfers it, exports and merges sync_files; the
// display commits with an in-fence from the second job (delayed by an
// injected fault) and flips at the first vblank; a third job hangs.
func goldenEvents() []Event {
	const (
		ms     = 1_000_000
		vblank = 16_666_666
	)
	f31 := Fence{3, 1}   // sw_sync timeline
	f51 := Fence{5, 1}   // ctx 1 ring 0
	f61 := Fence{6, 1}   // ctx 1 ring 1
	f91 := Fence{9, 1}   // CRTC 0 out-fence
	f101 := Fence{10, 1} // a merge
	return []Event{
		{Time: 0, Kind: Dropped, Count: 3},
		{Time: 0, Kind: ProcessStart, Pid: 1},
		{Time: 0, Kind: ProcessStart, Pid: 2},
		{Time: 0, Kind: IoctlEnter, Pid: 1, FD: 3, Ioctl: ioctlSyncobjCreate},
		{Time: 0, Kind: IoctlExit, Pid: 1, FD: 3, Ioctl: ioctlSyncobjCreate},
		{Time: 0, Kind: FenceEmitted, Pid: 2, FD: 4, Fence: f31},
		{Time: 0, Kind: SyncFileCreated, Pid: 2, FD: 5, Fence: f31},

		// The producer's first submit waits for the CPU fence.
		{Time: 1000, Kind: IoctlEnter, Pid: 1, FD: 3, Ioctl: ioctlExecbuffer},
		{Time: 1000, Kind: WaitBlocked, Pid: 1, FD: 6, Fence: f31},
		{Time: 2000, Kind: IoctlEnter, Pid: 2, FD: 4, Ioctl: ioctlSwSyncInc},
		{Time: 2000, Kind: FenceSignalled, Fence: f31},
		{Time: 2000, Kind: IoctlExit, Pid: 2, FD: 4, Ioctl: ioctlSwSyncInc},
		{Time: 2000, Kind: WaitWoken, Pid: 1, FD: 6, Fence: f31},
		{Time: 2000, Kind: FenceEmitted, Pid: 1, FD: 3, Fence: f51, FenceID: 1, CtxID: 1, RingIdx: 0},
		{Time: 2000, Kind: QueueAdd, Queue: 0, Head: 0, Cmd: cmdSubmit3D, Flags: flagFenceRing, FenceID: 1, CtxID: 1},
		{Time: 2000, Kind: QueueAvail, Queue: 0, Head: 0},
		{Time: 2000, Kind: Request, Queue: 0, Head: 0, Cmd: cmdSubmit3D, Flags: flagFenceRing, FenceID: 1, CtxID: 1},
		{Time: 2000, Kind: JobStart, Worker: 0, CtxID: 1, RingIdx: 0, FenceID: 1},
		{Time: 2000, Kind: SyncobjAddPoint, Pid: 1, Syncobj: 1, Handle: 1, Point: 1, Fence: f51},
		{Time: 2000, Kind: IoctlExit, Pid: 1, FD: 3, Ioctl: ioctlExecbuffer},

		// The consumer waits for point 1.
		{Time: 2500, Kind: IoctlEnter, Pid: 2, FD: 3, Ioctl: ioctlTimelineWait},
		{Time: 2500, Kind: WaitBlocked, Pid: 2, FD: 3, Syncobj: 1, Handle: 2, Point: 1, Fence: f51},

		// The second submit hands its in-fence to the host.
		{Time: 3000, Kind: IoctlEnter, Pid: 1, FD: 3, Ioctl: ioctlExecbuffer},
		{Time: 3000, Kind: WaitSkipped, Pid: 1, FD: 3, Syncobj: 1, Handle: 1, Point: 1, Fence: f51, Reason: SkipHost},
		{Time: 3000, Kind: FenceEmitted, Pid: 1, FD: 3, Fence: f61, FenceID: 2, CtxID: 1, RingIdx: 1},
		{Time: 3000, Kind: QueueAdd, Queue: 0, Head: 2, Cmd: cmdSubmit3D, Flags: flagFenceRing, FenceID: 2, CtxID: 1, RingIdx: 1},
		{Time: 3000, Kind: QueueAvail, Queue: 0, Head: 2},
		{Time: 3000, Kind: Request, Queue: 0, Head: 2, Cmd: cmdSubmit3D, Flags: flagFenceRing, FenceID: 2, CtxID: 1, RingIdx: 1},
		{Time: 3000, Kind: FaultInjected, CtxID: 1, RingIdx: 1, FenceID: 2, Worker: 1, Fault: 1},
		{Time: 3000, Kind: JobStart, Worker: 1, CtxID: 1, RingIdx: 1, FenceID: 2},
		{Time: 3000, Kind: SyncobjAddPoint, Pid: 1, Syncobj: 1, Handle: 1, Point: 2, Fence: f61},
		{Time: 3000, Kind: IoctlExit, Pid: 1, FD: 3, Ioctl: ioctlExecbuffer},

		// A job on context 2 that will never finish.
		{Time: 5000, Kind: JobStart, Worker: 2, CtxID: 2, RingIdx: 0, FenceID: 3},

		// The first job completes; the consumer wakes.
		{Time: 1*ms + 2000, Kind: JobEnd, Worker: 0, CtxID: 1, RingIdx: 0, FenceID: 1},
		{Time: 1*ms + 2000, Kind: FenceRetired, FenceID: 1, CtxID: 1, RingIdx: 0, Flags: flagFenceRing},
		{Time: 1*ms + 2000, Kind: Response, Queue: 0, Head: 0, Cmd: cmdSubmit3D, Resp: respOKNodata, Len: 24,
			Flags: flagFenceRing, FenceID: 1, CtxID: 1},
		{Time: 1*ms + 2000, Kind: QueueUsed, Queue: 0, Head: 0, Len: 24},
		{Time: 1*ms + 2000, Kind: FenceSignalled, Fence: f51},
		{Time: 1*ms + 2000, Kind: EventfdFired, Pid: 2, FD: 7, Syncobj: 1, Handle: 2, Point: 1, Fence: f51},
		{Time: 1*ms + 2000, Kind: WaitWoken, Pid: 2, FD: 3, Syncobj: 1, Handle: 2, Point: 1, Fence: f51},
		{Time: 1*ms + 2000, Kind: IoctlExit, Pid: 2, FD: 3, Ioctl: ioctlTimelineWait},
		{Time: 1*ms + 2000, Kind: IoctlEnter, Pid: 2, FD: 3, Ioctl: ioctlSyncobjTransfer},
		{Time: 1*ms + 2000, Kind: SyncobjTransfer, Pid: 2, Syncobj: 2, Handle: 3, Fence: f51,
			SrcSyncobj: 1, SrcHandle: 2, SrcPoint: 1, SrcFence: f51},
		{Time: 1*ms + 2000, Kind: IoctlExit, Pid: 2, FD: 3, Ioctl: ioctlSyncobjTransfer},
		{Time: 1*ms + 2000, Kind: SyncFileCreated, Pid: 2, FD: 8, Fence: f51, SrcSyncobj: 2, SrcHandle: 3},
		{Time: 1*ms + 2000, Kind: SyncFileMerged, Pid: 2, FD: 9, Fence: f101, SrcFD: 8, SrcFence: f51},
		{Time: 1*ms + 2000, Kind: SyncFileMerged, Pid: 2, FD: 9, Fence: f101, SrcFD: 5, SrcFence: f31},

		// The consumer commits a frame that waits for the second job.
		{Time: 1*ms + 3000, Kind: IoctlEnter, Pid: 2, FD: 10, Ioctl: ioctlAtomic},
		{Time: 1*ms + 3000, Kind: FenceEmitted, Pid: 2, FD: 10, Fence: f91},
		{Time: 1*ms + 3000, Kind: AtomicCommit, Pid: 2, FD: 10, Scanout: 0, Flags: 0x0200, Count: 1, Fence: f91},
		{Time: 1*ms + 3000, Kind: IoctlExit, Pid: 2, FD: 10, Ioctl: ioctlAtomic},
		{Time: 1*ms + 3000, Kind: WaitBlocked, Fence: f61},
		{Time: 1*ms + 4000, Kind: IoctlEnter, Pid: 1, FD: 3, Ioctl: ioctlTimelineWait},
		{Time: 1*ms + 4000, Kind: WaitBlocked, Pid: 1, FD: 3, Syncobj: 1, Handle: 1, Point: 3},
		{Time: 4*ms + 3000, Kind: JobEnd, Worker: 1, CtxID: 1, RingIdx: 1, FenceID: 2},
		{Time: 4*ms + 3000, Kind: FenceRetired, FenceID: 2, CtxID: 1, RingIdx: 1, Flags: flagFenceRing},
		{Time: 4*ms + 3000, Kind: Response, Queue: 0, Head: 2, Cmd: cmdSubmit3D, Resp: respOKNodata, Len: 24,
			Flags: flagFenceRing, FenceID: 2, CtxID: 1, RingIdx: 1},
		{Time: 4*ms + 3000, Kind: QueueUsed, Queue: 0, Head: 2, Len: 24},
		{Time: 4*ms + 3000, Kind: FenceSignalled, Fence: f61},
		{Time: 4*ms + 3000, Kind: WaitWoken, Fence: f61},
		{Time: 5*ms + 4000, Kind: WaitWoken, Pid: 1, FD: 3, Syncobj: 1, Handle: 1, Point: 3, Errno: eTIME},
		{Time: 5*ms + 4000, Kind: IoctlExit, Pid: 1, FD: 3, Ioctl: ioctlTimelineWait, Errno: eTIME},

		// Vblank: the commit reaches the screen.
		{Time: vblank, Kind: Vblank, Scanout: 0, Count: 1},
		{Time: vblank, Kind: ScanoutSet, Scanout: 0, Resource: 5, Rect: Rect{0, 0, 64, 64}},
		{Time: vblank, Kind: Flush, Scanout: 0, Resource: 5, Rect: Rect{0, 0, 64, 64}},
		{Time: vblank, Kind: Flip, Scanout: 0, Resource: 5, Count: 1},
		{Time: vblank, Kind: FenceSignalled, Fence: f91},
		{Time: vblank, Kind: Request, Queue: 1, Head: 0, Cmd: cmdUpdCursor},
		{Time: vblank, Kind: Cursor, Scanout: 0, X: -4, Y: 10, Resource: 6},
		{Time: vblank, Kind: QueueUsed, Queue: 1, Head: 0},

		// A binary syncobj's life, and the end.
		{Time: 17 * ms, Kind: SyncobjSignal, Pid: 1, Syncobj: 3, Handle: 4, Fence: Fence{11, 1}},
		{Time: 17 * ms, Kind: SyncobjReplace, Pid: 1, Syncobj: 3, Handle: 4, Fence: Fence{3, 2}, SrcFD: 5},
		{Time: 17 * ms, Kind: SyncobjReplace, Pid: 1, Syncobj: 3, Handle: 4},
		{Time: 17 * ms, Kind: SyncobjReset, Pid: 1, Syncobj: 3, Handle: 4},
		{Time: 17 * ms, Kind: FenceSignalled, Fence: Fence{3, 2}, Errno: 2},
		{Time: 17 * ms, Kind: QueueBroken, Queue: 1},
		{Time: 18 * ms, Kind: ProcessExit, Pid: 1},
		{Time: 18*ms + 1, Kind: ProcessExit, Pid: 2, Status: -1},
	}
}

// checkGolden compares got with the golden file at path (rewriting it with
// -update) and reports the first differing line.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s differs at line %d (run with -update if the change is intended):\n got: %s\nwant: %s", path, i+1, gl, wl)
		}
	}
}

func TestGoldenUsesEveryKind(t *testing.T) {
	used := map[Kind]bool{}
	for i, e := range goldenEvents() {
		if err := e.Check(); err != nil {
			t.Errorf("golden event %d: %v", i, err)
		}
		used[e.Kind] = true
	}
	for k := Kind(1); k < numKinds; k++ {
		if !used[k] {
			t.Errorf("the golden run has no %v event", k)
		}
	}
}
