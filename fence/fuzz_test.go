package fence

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"fencelab/errno"
)

// FuzzSyncobjIoctls decodes the input as a sequence of syncobj, sync_file
// and sw_sync ioctls with guest-chosen arguments (handles, flags, counts,
// points, fds and pointers, valid or not) and runs them on one DRM file.
// Blocking calls get a context that is already cancelled, so a call that
// would sleep returns ERESTARTSYS instead of hanging the fuzzer. It checks
// that nothing panics, that every result is an errno Linux could give for
// that ioctl, that no eventfd registration fires twice, and that closing
// everything releases every object.
func FuzzSyncobjIoctls(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x01\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x05\x01\x01\x00\x03\x00\x00\x00\x03\x01\x00\x00\x01\x00\x00\x00"))
	f.Add([]byte("\x0b\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x01\x00\x00\x00\x00\x00\x06\x00\x01\x00\x02\x00\x00\x00\x08\x00\x01\x00\x00\x00\x00\x00\x07\x02\x01\x00\x00\x00\x00\x00"))
	f.Fuzz(runFuzzBody)
}

func runFuzzBody(t *testing.T, data []byte) {
	// A hang is a bug: crash with every goroutine's stack so the fuzzer
	// keeps the input.
	watchdog := time.AfterFunc(10*time.Second, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("fuzz input ran for 10s; goroutines:\n%s", buf[:runtime.Stack(buf, true)]))
	})
	defer watchdog.Stop()
	if len(data) > 4096 {
		data = data[:4096]
	}
	fz := newDRMFile(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var evs []*testEventfd
	tl, tlfd := fz.swTimeline()

	for len(data) >= 8 {
		op, a, b, c := data[0], data[1], data[2], binary.LittleEndian.Uint32(data[4:8])
		data = data[8:]
		h := uint32(a % 6)     // handles 0..5: some valid, 0 never
		fd := int32(b%8) - 1   // fds -1..6
		point := uint64(c % 9) // small points
		flags := c >> 24       // any flag bits
		ptr := fz.mem.u32s(uint32(a%6), uint32(b%6), uint32(c%6))
		if b&0x80 != 0 {
			ptr = uint64(c) // a hostile pointer
		}
		count := uint32(b % 4)
		if a&0x80 != 0 {
			count = c // a hostile count
		}
		var e errno.Errno
		switch op % 16 {
		case 0:
			a := DrmSyncobjCreate{Flags: flags & 3}
			e = fz.tab.Create(&a)
		case 1:
			e = fz.tab.Destroy(&DrmSyncobjDestroy{Handle: h, Pad: flags & 1})
		case 2:
			a := DrmSyncobjHandle{Handle: h, Flags: flags & 3, Fd: fd}
			e = fz.tab.HandleToFD(fz.fds, &a)
		case 3:
			a := DrmSyncobjHandle{Handle: h, Flags: flags & 3, Fd: fd}
			e = fz.tab.FDToHandle(fz.fds, &a)
		case 4:
			a := DrmSyncobjWait{Handles: ptr, CountHandles: count, Flags: flags & 0xf, TimeoutNsec: int64(c) - 5}
			e = fz.tab.Wait(cancelled, fz.mem, &a)
		case 5:
			pts := fz.mem.u64s(point, point+1, 0)
			a := DrmSyncobjTimelineWait{Handles: ptr, Points: pts, CountHandles: count, Flags: flags & 0xf, TimeoutNsec: fz.now() + int64(c)}
			e = fz.tab.TimelineWait(cancelled, fz.mem, &a)
		case 6:
			e = fz.tab.Reset(fz.mem, &DrmSyncobjArray{Handles: ptr, CountHandles: count, Pad: flags & 1})
		case 7:
			e = fz.tab.Signal(fz.mem, &DrmSyncobjArray{Handles: ptr, CountHandles: count})
		case 8:
			e = fz.tab.TimelineSignal(fz.mem, &DrmSyncobjTimelineArray{Handles: ptr, Points: fz.mem.u64s(point, point+2, point+4), CountHandles: count, Flags: flags & 1})
		case 9:
			e = fz.tab.Query(fz.mem, &DrmSyncobjTimelineArray{Handles: ptr, Points: fz.mem.alloc(24), CountHandles: count, Flags: flags & 3})
		case 10:
			e = fz.tab.Transfer(cancelled, &DrmSyncobjTransfer{SrcHandle: h, DstHandle: uint32(b % 6), SrcPoint: point, DstPoint: uint64(c>>8) % 9, Flags: flags & 3})
		case 11:
			fd := fz.swFence(tlfd, c%5)
			if h != 0 {
				fz.tab.FDToHandle(fz.fds, &DrmSyncobjHandle{Handle: h, Flags: DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, Fd: fd})
			}
		case 12:
			tl.Inc(c % 3)
		case 13:
			ev := newTestEventfd()
			evs = append(evs, ev)
			evfd := fz.fds.open(ev)
			e = fz.tab.Eventfd(fz.fds, &DrmSyncobjEventfd{Handle: h, Point: point, Fd: evfd, Flags: flags & 5}, 0)
			fz.fds.close(evfd)
		case 14:
			if f, ok := fz.fds.file(fd).(*SyncFile); ok {
				arg := fz.mem.alloc(SyncMergeDataSize)
				var buf [SyncMergeDataSize]byte
				(&SyncMergeData{Fd2: int32(c%8) - 1}).Marshal(buf[:])
				fz.mem.CopyOut(arg, buf[:])
				e = f.Ioctl(fz.mem, fz.fds, SYNC_IOC_MERGE, arg)
			}
		case 15:
			if fd != tlfd {
				fz.fds.close(fd)
			}
		}
		switch e {
		case 0, errno.EINVAL, errno.ENOENT, errno.EFAULT, errno.ENOMEM, errno.ETIME,
			errno.ERESTARTSYS, errno.EBADF, errno.EMFILE:
		default:
			t.Fatalf("op %d returned %v, which no syncobj ioctl returns", op%16, e)
		}
	}
	fz.fds.close(tlfd) // pending points signal with ENOENT
	fz.tab.Close()
	fz.fds.closeAll()
	for i, ev := range evs {
		if n := ev.count.Load(); n > 1 {
			t.Fatalf("eventfd registration %d fired %d times", i, n)
		}
	}
	if l := fz.d.Live(); !l.Zero() {
		t.Fatalf("after closing everything Live() = %+v", l)
	}
}
