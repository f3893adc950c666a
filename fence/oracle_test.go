package fence

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"fencelab/errno"
)

// TestOracleSyncobjErrno replays testdata/oracle/syncobj_errno.c, a probe
// that was run on Debian's Linux 6.12.117 (virtio-gpu, under QEMU) by
// ../shared/oracle/run.sh, and compares fencelab's transcript with the
// kernel's, line for line: the allocation limits of the array lookups and
// their order against copy faults, TRANSFER's order of checks, 6.12's
// rejection of the newer TIMELINE handle flags, QUERY after an unordered
// point, first_signaled on failure and success, and EVENTFD's errnos.
//
// To ask the kernel again:
//
//	gcc -static -O2 -I/usr/include/libdrm -o /tmp/p fence/testdata/oracle/syncobj_errno.c
//	../shared/oracle/run.sh /tmp/p > fence/testdata/oracle/syncobj_errno.linux.txt
func TestOracleSyncobjErrno(t *testing.T) {
	want, err := os.ReadFile("testdata/oracle/syncobj_errno.linux.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := newDRMFile(t)
	var out bytes.Buffer
	say := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	n := func(e errno.Errno) int { return int(e) }
	cHex := func(v uint32) string { // C's %#x: no prefix for zero
		if v == 0 {
			return "0"
		}
		return fmt.Sprintf("%#x", v)
	}
	const unmapped = 0x1000 // below testMem's base, as 0x1000 is unmapped in the probe

	h, h2, bad := f.mustCreate(0), f.mustCreate(0), uint32(0xdead)
	hAddr, h2Addr := f.mem.u32s(h), f.mem.u32s(h2)
	ptAddr := f.mem.alloc(8)
	pt := func() uint64 { return f.mem.readU64s(ptAddr, 1)[0] }
	setPt := func(v uint64) { f.mem.CopyOut(ptAddr, le.AppendUint64(nil, v)) }

	w := DrmSyncobjWait{Handles: unmapped, CountHandles: 0x100000}
	say("wait count=2^20 handles=unmapped -> errno=%d", n(f.tab.Wait(nil, f.mem, &w)))
	w.CountHandles = 0x100001
	say("wait count=2^20+1 handles=unmapped -> errno=%d", n(f.tab.Wait(nil, f.mem, &w)))
	w.CountHandles = 0x80000
	say("wait count=2^19 handles=unmapped -> errno=%d", n(f.tab.Wait(nil, f.mem, &w)))
	ta := DrmSyncobjTimelineArray{Handles: unmapped, CountHandles: 0x100000}
	say("query count=2^20 handles=unmapped -> errno=%d", n(f.tab.Query(f.mem, &ta)))

	setPt(5)
	ta = DrmSyncobjTimelineArray{Handles: hAddr, Points: ptAddr, CountHandles: 1}
	say("timeline_signal h@5 -> errno=%d", n(f.tab.TimelineSignal(f.mem, &ta)))
	setPt(3)
	say("timeline_signal h@3 -> errno=%d", n(f.tab.TimelineSignal(f.mem, &ta)))
	setPt(0)
	e := f.tab.Query(f.mem, &ta)
	say("query h -> errno=%d point=%d", n(e), pt())
	ta.Flags = DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED
	setPt(0)
	e = f.tab.Query(f.mem, &ta)
	say("query h LAST_SUBMITTED -> errno=%d point=%d", n(e), pt())
	ta.Flags, ta.Points = 0, unmapped
	say("query points=unmapped -> errno=%d", n(f.tab.Query(f.mem, &ta)))

	tr := DrmSyncobjTransfer{SrcHandle: h, DstHandle: h2, SrcPoint: 5, Flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL}
	say("transfer flags=WAIT_ALL valid -> errno=%d", n(f.tab.Transfer(nil, &tr)))
	tr.SrcHandle = bad
	say("transfer flags=WAIT_ALL unknown src -> errno=%d", n(f.tab.Transfer(nil, &tr)))
	tr.SrcHandle, tr.DstHandle, tr.Flags = h, bad, 0
	say("transfer unknown dst -> errno=%d", n(f.tab.Transfer(nil, &tr)))
	tr.DstHandle, tr.SrcPoint = h2, 7
	say("transfer src point 7 unsubmitted -> errno=%d", n(f.tab.Transfer(nil, &tr)))
	tr.SrcPoint, tr.DstPoint = 5, 9
	say("transfer 5 -> h2@9 -> errno=%d", n(f.tab.Transfer(nil, &tr)))
	ta.Handles, ta.Points = h2Addr, ptAddr
	setPt(0)
	e = f.tab.Query(f.mem, &ta)
	say("query h2 -> errno=%d point=%d", n(e), pt())

	hd := DrmSyncobjHandle{Handle: h, Flags: 3}
	say("handle_to_fd flags=3 -> errno=%d", n(f.tab.HandleToFD(f.fds, &hd)))
	hd.Flags, hd.Handle = 0, bad
	say("handle_to_fd unknown -> errno=%d", n(f.tab.HandleToFD(f.fds, &hd)))
	hd.Flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE
	say("handle_to_fd EXPORT unknown -> errno=%d", n(f.tab.HandleToFD(f.fds, &hd)))
	hd.Handle = f.mustCreate(0)
	say("handle_to_fd EXPORT fenceless -> errno=%d", n(f.tab.HandleToFD(f.fds, &hd)))
	hd.Handle, hd.Fd = bad, -1
	say("fd_to_handle IMPORT fd=-1 unknown handle -> errno=%d", n(f.tab.FDToHandle(f.fds, &hd)))

	tw := DrmSyncobjTimelineWait{Handles: f.mem.u32s(h, bad), CountHandles: 2, Points: unmapped}
	say("timeline_wait unknown handle + points unmapped -> errno=%d", n(f.tab.TimelineWait(nil, f.mem, &tw)))
	tw.CountHandles = 1
	say("timeline_wait points unmapped -> errno=%d", n(f.tab.TimelineWait(nil, f.mem, &tw)))
	setPt(10)
	tw.Points, tw.Flags, tw.FirstSignaled = ptAddr, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, 0xdead
	e = f.tab.TimelineWait(nil, f.mem, &tw)
	say("timeline_wait h@10 FOR_SUBMIT timeout 0 -> errno=%d first=%s", n(e), cHex(tw.FirstSignaled))
	setPt(4)
	tw.Flags = 0
	e = f.tab.TimelineWait(nil, f.mem, &tw)
	say("timeline_wait h@4 -> errno=%d first=%s", n(e), cHex(tw.FirstSignaled))
	w = DrmSyncobjWait{Handles: hAddr, CountHandles: 1, Flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE}
	say("wait flags=AVAILABLE -> errno=%d", n(f.tab.Wait(nil, f.mem, &w)))

	ev := DrmSyncobjEventfd{Handle: h, Fd: -1}
	say("eventfd fd=-1 -> errno=%d", n(f.tab.Eventfd(f.fds, &ev, 0)))
	ev.Fd = f.fds.open(nullFile{})
	say("eventfd /dev/null(valid) -> errno=%d", n(f.tab.Eventfd(f.fds, &ev, 0)))
	ev.Handle, ev.Fd = bad, -1
	say("eventfd unknown handle fd=-1 -> errno=%d", n(f.tab.Eventfd(f.fds, &ev, 0)))

	if got := out.String(); got != string(want) {
		t.Errorf("fencelab's transcript differs from Linux 6.12's:\n--- fencelab\n%s--- linux\n%s", got, want)
	}
	f.teardown()
}
