package fence

import (
	"context"
	"fmt"
	"testing"

	"fencelab/errno"
)

// This file mirrors IGT's syncobj_basic and syncobj_wait (spec §5.1, §5.2),
// one Go subtest per IGT subtest, named exactly as IGT names it. The wait
// machinery is shared with syncobj_timeline (igt_common_test.go); here it
// is driven by igtBinary, DRM_IOCTL_SYNCOBJ_WAIT. Helpers are prefixed igtw.

// igtwWait is syncobj_wait_err for a timeout that polls (0 or UINT64_MAX),
// checked with igtCheck.
func igtwWait(f *drmFile, hs []uint32, timeout int64, flags uint32, want errno.Errno, wantFirst uint32) {
	f.t.Helper()
	igtPoll(f, igtBinary, hs, nil, timeout, flags, want, wantFirst)
}

func TestIGTSyncobjBasic(t *testing.T) {
	t.Run("bad-destroy", func(t *testing.T) {
		f := newDRMFile(t)
		e := f.tab.Destroy(&DrmSyncobjDestroy{Handle: 0xdeadbeef, Pad: 0})
		check(t, "Destroy(0xdeadbeef)", e, errno.EINVAL)
		f.teardown()
	})

	t.Run("bad-create-flags", func(t *testing.T) {
		f := newDRMFile(t)
		_, e := f.create(0xdeadbeef)
		check(t, "Create(flags 0xdeadbeef)", e, errno.EINVAL)
		if n := f.tab.Len(); n != 0 {
			t.Errorf("after a failed Create, table holds %d handles; want 0", n)
		}
		f.teardown()
	})

	t.Run("bad-handle-to-fd", func(t *testing.T) {
		f := newDRMFile(t)
		fd, e := f.handleToFD(0xdeadbeef, 0)
		check(t, "HandleToFD(0xdeadbeef, flags 0)", e, errno.EINVAL)
		if fd != -1 {
			t.Errorf("HandleToFD failed but wrote fd %d", fd)
		}
		f.teardown()
	})

	t.Run("bad-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		// IGT leaves handle and pad uninitialised; whichever check the
		// kernel hits first, the answer is EINVAL.
		for _, a := range []DrmSyncobjHandle{
			{Fd: -1},
			{Fd: -1, Handle: 0xdeadbeef},
			{Fd: -1, Handle: 0xdeadbeef, Pad: 0xdeadbeef},
		} {
			e := f.tab.FDToHandle(f.fds, &a)
			check(t, fmt.Sprintf("FDToHandle(fd -1, flags 0, pad %#x)", a.Pad), e, errno.EINVAL)
		}
		f.teardown()
	})

	t.Run("bad-flags-handle-to-fd", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Flags: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(flags 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		// Also with a valid handle, so that only the flags are wrong.
		h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		a = DrmSyncobjHandle{Handle: h, Flags: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(valid handle, flags 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		igtDestroy(f, h)
		f.teardown()
	})

	t.Run("bad-flags-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Flags: 0xdeadbeef}
		check(t, "FDToHandle(flags 0xdeadbeef)", f.tab.FDToHandle(f.fds, &a), errno.EINVAL)
		f.teardown()
	})

	t.Run("bad-pad-handle-to-fd", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Pad: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(pad 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		h := f.mustCreate(0)
		a = DrmSyncobjHandle{Handle: h, Pad: 0xdeadbeef, Fd: -1}
		check(t, "HandleToFD(valid handle, pad 0xdeadbeef)", f.tab.HandleToFD(f.fds, &a), errno.EINVAL)
		igtDestroy(f, h)
		f.teardown()
	})

	t.Run("bad-pad-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjHandle{Pad: 0xdeadbeef}
		check(t, "FDToHandle(pad 0xdeadbeef)", f.tab.FDToHandle(f.fds, &a), errno.EINVAL)
		// Also with a valid syncobj fd, so that only the pad is wrong.
		h := f.mustCreate(0)
		fd, e := f.handleToFD(h, 0)
		check(t, "HandleToFD", e, 0)
		a = DrmSyncobjHandle{Fd: fd, Pad: 0xdeadbeef}
		check(t, "FDToHandle(syncobj fd, pad 0xdeadbeef)", f.tab.FDToHandle(f.fds, &a), errno.EINVAL)
		if n := f.tab.Len(); n != 1 {
			t.Errorf("after a failed FDToHandle, table holds %d handles; want 1", n)
		}
		igtClose(f, fd)
		igtDestroy(f, h)
		f.teardown()
	})

	t.Run("illegal-fd-to-handle", func(t *testing.T) {
		f := newDRMFile(t)
		// The DRM device file itself: neither a syncobj file nor a
		// sync_file.
		drmfd := f.fds.open(nullFile{})
		_, e := f.fdToHandle(drmfd, 0, 0)
		check(t, "FDToHandle(the DRM fd)", e, errno.EINVAL)
		igtClose(f, drmfd)
		f.teardown()
	})

	t.Run("bad-destroy-pad", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(0)
		e := f.tab.Destroy(&DrmSyncobjDestroy{Handle: h, Pad: 0xdeadbeef})
		check(t, "Destroy(valid handle, pad 0xdeadbeef)", e, errno.EINVAL)
		check(t, "Destroy(valid handle) after the failed one", f.destroy(h), 0)
		f.teardown()
	})

	t.Run("create-signaled", func(t *testing.T) {
		f := newDRMFile(t)
		h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		igtwWait(f, []uint32{h}, 0, 0, 0, 0)
		igtDestroy(f, h)
		f.teardown()
	})

	t.Run("test-valid-cycle", func(t *testing.T) {
		f := newDRMFile(t)
		first := f.mustCreate(0)
		fd, e := f.handleToFD(first, 0)
		check(t, "HandleToFD", e, 0)
		second, e := f.fdToHandle(fd, 0, 0)
		check(t, "FDToHandle", e, 0)
		igtClose(f, fd)
		// No handle de-duplication: the import is a new handle.
		if first == second {
			t.Errorf("FDToHandle(HandleToFD(%d)) = %d; want a different handle", first, second)
		}
		igtDestroy(f, first, second)
		f.teardown()
	})
}

// igtwSingleWait and igtwMultiWait are syncobj_wait's matrices (spec §5.2):
// one or three syncobjs, all at point 0.
var igtwSingleWait = []igtMatrixRow{
	{"invalid-single-wait-unsubmitted", "U", 0, errno.EINVAL},
	{"single-wait-for-submit-unsubmitted", "U", igtFS, errno.ETIME},
	{"invalid-single-wait-all-unsubmitted", "U", igtAll, errno.EINVAL},
	{"single-wait-all-for-submit-unsubmitted", "U", igtAll | igtFS, errno.ETIME},
	{"single-wait-submitted", "S", 0, errno.ETIME},
	{"single-wait-for-submit-submitted", "S", igtFS, errno.ETIME},
	{"single-wait-all-submitted", "S", igtAll, errno.ETIME},
	{"single-wait-all-for-submit-submitted", "S", igtAll | igtFS, errno.ETIME},
	{"single-wait-signaled", "G", 0, 0},
	{"single-wait-for-submit-signaled", "G", igtFS, 0},
	{"single-wait-all-signaled", "G", igtAll, 0},
	{"single-wait-all-for-submit-signaled", "G", igtAll | igtFS, 0},
}

var igtwMultiWait = []igtMatrixRow{
	{"invalid-multi-wait-unsubmitted", "UUU", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted", "UUU", igtFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted", "UUU", igtAll, errno.EINVAL},
	{"multi-wait-all-for-submit-unsubmitted", "UUU", igtAll | igtFS, errno.ETIME},
	{"multi-wait-submitted", "SSS", 0, errno.ETIME},
	{"multi-wait-for-submit-submitted", "SSS", igtFS, errno.ETIME},
	{"multi-wait-all-submitted", "SSS", igtAll, errno.ETIME},
	{"multi-wait-all-for-submit-submitted", "SSS", igtAll | igtFS, errno.ETIME},
	{"invalid-multi-wait-unsubmitted-submitted", "USS", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-submitted", "USS", igtFS, errno.ETIME},
	{"invalid-multi-wait-all-unsubmitted-submitted", "USS", igtAll, errno.EINVAL},
	{"multi-wait-all-for-submit-unsubmitted-submitted", "USS", igtAll | igtFS, errno.ETIME},
	{"multi-wait-signaled", "GGG", 0, 0},
	{"multi-wait-for-submit-signaled", "GGG", igtFS, 0},
	{"multi-wait-all-signaled", "GGG", igtAll, 0},
	{"multi-wait-all-for-submit-signaled", "GGG", igtAll | igtFS, 0},
	{"invalid-multi-wait-unsubmitted-signaled", "UGG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-signaled", "UGG", igtFS, 0},
	{"invalid-multi-wait-all-unsubmitted-signaled", "UGG", igtAll, errno.EINVAL},
	{"multi-wait-all-for-submit-unsubmitted-signaled", "UGG", igtAll | igtFS, errno.ETIME},
	{"multi-wait-submitted-signaled", "SGG", 0, 0},
	{"multi-wait-for-submit-submitted-signaled", "SGG", igtFS, 0},
	{"multi-wait-all-submitted-signaled", "SGG", igtAll, errno.ETIME},
	{"multi-wait-all-for-submit-submitted-signaled", "SGG", igtAll | igtFS, errno.ETIME},
	{"invalid-multi-wait-unsubmitted-submitted-signaled", "USG", 0, errno.EINVAL},
	{"multi-wait-for-submit-unsubmitted-submitted-signaled", "USG", igtFS, 0},
	{"invalid-multi-wait-all-unsubmitted-submitted-signaled", "USG", igtAll, errno.EINVAL},
	// IGT's loop stops below WAIT_FLAGS_MAX, so
	// multi-wait-all-for-submit-unsubmitted-submitted-signaled does not exist.
}

func TestIGTSyncobjWait(t *testing.T) {
	igtCheckTable(t, igtBinary, "single-wait", 1, igtwSingleWait)
	igtCheckTable(t, igtBinary, "multi-wait", 3, igtwMultiWait)

	t.Run("invalid-wait-bad-flags", func(t *testing.T) {
		f := newDRMFile(t)
		// A zeroed struct but for the flags: the flags are checked before
		// the (zero) count.
		a := DrmSyncobjWait{Flags: 0xdeadbeef}
		check(t, "Wait(flags 0xdeadbeef)", f.tab.Wait(context.Background(), f.mem, &a), errno.EINVAL)
		f.teardown()
	})

	// IGT up to 2024 named this subtest invalid-wait-zero-handles and
	// expected EINVAL; since Linux 6.6 (and IGT from late 2024) WAIT with
	// count_handles == 0 returns 0 (spec §0, §3.3).
	t.Run("wait-zero-handles", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjWait{}
		check(t, "Wait(count 0)", f.tab.Wait(context.Background(), f.mem, &a), 0)
		f.teardown()
	})

	t.Run("invalid-wait-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		igtwWait(f, []uint32{0}, 0, 0, errno.ENOENT, 0)
		f.teardown()
	})

	t.Run("invalid-reset-zero-handles", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Reset(count 0)", f.tab.Reset(f.mem, &DrmSyncobjArray{}), errno.EINVAL)
		f.teardown()
	})

	t.Run("invalid-reset-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Reset({0})", f.reset(0), errno.ENOENT)
		f.teardown()
	})

	t.Run("invalid-reset-one-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		b := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
		igtwWait(f, []uint32{a}, 0, 0, 0, 0)
		igtwWait(f, []uint32{b}, 0, 0, 0, 0)
		check(t, fmt.Sprintf("Reset({%d, 0, %d})", a, b), f.reset(a, 0, b), errno.ENOENT)
		// Nothing was reset.
		igtwWait(f, []uint32{a}, 0, 0, 0, 0)
		igtwWait(f, []uint32{b}, 0, 0, 0, 0)
		igtDestroy(f, a, b)
		f.teardown()
	})

	t.Run("invalid-reset-bad-pad", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjArray{Handles: f.mem.u32s(0), CountHandles: 1, Pad: 0xdeadbeef}
		check(t, "Reset({0}, pad 0xdeadbeef)", f.tab.Reset(f.mem, &a), errno.EINVAL)
		f.teardown()
	})

	t.Run("invalid-signal-zero-handles", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Signal(count 0)", f.tab.Signal(f.mem, &DrmSyncobjArray{}), errno.EINVAL)
		f.teardown()
	})

	t.Run("invalid-signal-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		check(t, "Signal({0})", f.signal(0), errno.ENOENT)
		f.teardown()
	})

	t.Run("invalid-signal-one-illegal-handle", func(t *testing.T) {
		f := newDRMFile(t)
		a := f.mustCreate(0)
		b := f.mustCreate(0)
		igtwWait(f, []uint32{a}, 0, 0, errno.EINVAL, 0)
		igtwWait(f, []uint32{b}, 0, 0, errno.EINVAL, 0)
		check(t, fmt.Sprintf("Signal({%d, 0, %d})", a, b), f.signal(a, 0, b), errno.ENOENT)
		// Nothing was signalled: still no fence.
		igtwWait(f, []uint32{a}, 0, 0, errno.EINVAL, 0)
		igtwWait(f, []uint32{b}, 0, 0, errno.EINVAL, 0)
		igtDestroy(f, a, b)
		f.teardown()
	})

	t.Run("invalid-signal-bad-pad", func(t *testing.T) {
		f := newDRMFile(t)
		a := DrmSyncobjArray{Handles: f.mem.u32s(0), CountHandles: 1, Pad: 0xdeadbeef}
		check(t, "Signal({0}, pad 0xdeadbeef)", f.tab.Signal(f.mem, &a), errno.EINVAL)
		f.teardown()
	})

	for _, row := range igtwSingleWait {
		t.Run(row.name, func(t *testing.T) { igtRunMatrix(t, igtBinary, "single-wait", row, igtBinary.points(1)) })
	}

	t.Run("wait-delayed-signal", func(t *testing.T) { igtDelayedSignal(t, igtBinary, 0) })
	t.Run("wait-for-submit-delayed-submit", func(t *testing.T) { igtDelayedSignal(t, igtBinary, igtFS) })
	t.Run("wait-all-delayed-signal", func(t *testing.T) { igtDelayedSignal(t, igtBinary, igtAll) })
	t.Run("wait-all-for-submit-delayed-submit", func(t *testing.T) { igtDelayedSignal(t, igtBinary, igtAll|igtFS) })

	t.Run("reset-unsignaled", func(t *testing.T) { igtResetUnsignaled(t, igtBinary) })
	t.Run("reset-signaled", func(t *testing.T) { igtResetSignaled(t, igtBinary) })
	t.Run("reset-multiple-signaled", func(t *testing.T) { igtResetMultipleSignaled(t, igtBinary) })
	t.Run("reset-during-wait-for-submit", func(t *testing.T) { igtResetDuringWaitForSubmit(t, igtBinary) })
	t.Run("signal", func(t *testing.T) { igtSignal(t, igtBinary) })

	for _, row := range igtwMultiWait {
		t.Run(row.name, func(t *testing.T) { igtRunMatrix(t, igtBinary, "multi-wait", row, igtBinary.points(3)) })
	}

	t.Run("wait-any-snapshot", func(t *testing.T) { igtSnapshot(t, igtBinary, 0) })
	t.Run("wait-all-snapshot", func(t *testing.T) { igtSnapshot(t, igtBinary, igtAll) })
	t.Run("wait-for-submit-snapshot", func(t *testing.T) { igtSnapshot(t, igtBinary, igtFS) })
	t.Run("wait-all-for-submit-snapshot", func(t *testing.T) { igtSnapshot(t, igtBinary, igtAll|igtFS) })

	t.Run("wait-any-complex", func(t *testing.T) { igtComplex(t, igtBinary, 0) })
	t.Run("wait-all-complex", func(t *testing.T) { igtComplex(t, igtBinary, igtAll) })
	t.Run("wait-for-submit-complex", func(t *testing.T) { igtComplex(t, igtBinary, igtFS) })
	t.Run("wait-all-for-submit-complex", func(t *testing.T) { igtComplex(t, igtBinary, igtAll|igtFS) })

	t.Run("wait-any-interrupted", func(t *testing.T) { igtInterrupted(t, igtBinary, 0) })
	t.Run("wait-all-interrupted", func(t *testing.T) { igtInterrupted(t, igtBinary, igtAll) })
}
