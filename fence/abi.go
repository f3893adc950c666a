package fence

import "encoding/binary"

// This file mirrors the UAPI structs of include/uapi/drm/drm.h (syncobj),
// include/uapi/linux/sync_file.h and the sw_sync ioctls of
// drivers/dma-buf/sw_sync.c. Field names follow C; all fields are little
// endian. Each struct's Size is its C sizeof on every Linux ABI (none has
// a pointer-sized member: user pointers are u64). Marshal and Unmarshal
// need a slice of at least Size bytes; shorter slices panic, so callers
// (the ioctl layer) size their buffers from Size.
//
// Request numbers are the ioctl layer's business, not this package's.

// Flag values of the syncobj UAPI (drm.h).
const (
	DRM_SYNCOBJ_CREATE_SIGNALED = 1 << 0

	DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE = 1 << 0
	DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE = 1 << 0

	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL        = 1 << 0
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT = 1 << 1
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE  = 1 << 2
	DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE   = 1 << 3

	DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED = 1 << 0
)

var le = binary.LittleEndian

// DrmSyncobjCreate is struct drm_syncobj_create (DRM_IOCTL_SYNCOBJ_CREATE).
type DrmSyncobjCreate struct {
	Handle uint32 // out
	Flags  uint32
}

// Size of struct drm_syncobj_create.
const DrmSyncobjCreateSize = 8

// Unmarshal decodes s from the first DrmSyncobjCreateSize bytes of b.
func (s *DrmSyncobjCreate) Unmarshal(b []byte) {
	s.Handle, s.Flags = le.Uint32(b[0:]), le.Uint32(b[4:])
}

// Marshal encodes s into the first DrmSyncobjCreateSize bytes of b.
func (s *DrmSyncobjCreate) Marshal(b []byte) {
	le.PutUint32(b[0:], s.Handle)
	le.PutUint32(b[4:], s.Flags)
}

// DrmSyncobjDestroy is struct drm_syncobj_destroy (DRM_IOCTL_SYNCOBJ_DESTROY).
type DrmSyncobjDestroy struct {
	Handle uint32
	Pad    uint32
}

// Size of struct drm_syncobj_destroy.
const DrmSyncobjDestroySize = 8

// Unmarshal decodes s from the first DrmSyncobjDestroySize bytes of b.
func (s *DrmSyncobjDestroy) Unmarshal(b []byte) {
	s.Handle, s.Pad = le.Uint32(b[0:]), le.Uint32(b[4:])
}

// Marshal encodes s into the first DrmSyncobjDestroySize bytes of b.
func (s *DrmSyncobjDestroy) Marshal(b []byte) {
	le.PutUint32(b[0:], s.Handle)
	le.PutUint32(b[4:], s.Pad)
}

// DrmSyncobjHandle is struct drm_syncobj_handle as Linux 6.12 has it
// (DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD and FD_TO_HANDLE). Later kernels append a
// u64 point (24 bytes) used with a TIMELINE flag that 6.12 rejects.
type DrmSyncobjHandle struct {
	Handle uint32
	Flags  uint32
	Fd     int32
	Pad    uint32
}

// Size of struct drm_syncobj_handle in Linux 6.12.
const DrmSyncobjHandleSize = 16

// Unmarshal decodes s from the first DrmSyncobjHandleSize bytes of b.
func (s *DrmSyncobjHandle) Unmarshal(b []byte) {
	s.Handle, s.Flags = le.Uint32(b[0:]), le.Uint32(b[4:])
	s.Fd, s.Pad = int32(le.Uint32(b[8:])), le.Uint32(b[12:])
}

// Marshal encodes s into the first DrmSyncobjHandleSize bytes of b.
func (s *DrmSyncobjHandle) Marshal(b []byte) {
	le.PutUint32(b[0:], s.Handle)
	le.PutUint32(b[4:], s.Flags)
	le.PutUint32(b[8:], uint32(s.Fd))
	le.PutUint32(b[12:], s.Pad)
}

// DrmSyncobjTransfer is struct drm_syncobj_transfer (DRM_IOCTL_SYNCOBJ_TRANSFER).
type DrmSyncobjTransfer struct {
	SrcHandle uint32
	DstHandle uint32
	SrcPoint  uint64
	DstPoint  uint64
	Flags     uint32
	Pad       uint32
}

// Size of struct drm_syncobj_transfer.
const DrmSyncobjTransferSize = 32

// Unmarshal decodes s from the first DrmSyncobjTransferSize bytes of b.
func (s *DrmSyncobjTransfer) Unmarshal(b []byte) {
	s.SrcHandle, s.DstHandle = le.Uint32(b[0:]), le.Uint32(b[4:])
	s.SrcPoint, s.DstPoint = le.Uint64(b[8:]), le.Uint64(b[16:])
	s.Flags, s.Pad = le.Uint32(b[24:]), le.Uint32(b[28:])
}

// Marshal encodes s into the first DrmSyncobjTransferSize bytes of b.
func (s *DrmSyncobjTransfer) Marshal(b []byte) {
	le.PutUint32(b[0:], s.SrcHandle)
	le.PutUint32(b[4:], s.DstHandle)
	le.PutUint64(b[8:], s.SrcPoint)
	le.PutUint64(b[16:], s.DstPoint)
	le.PutUint32(b[24:], s.Flags)
	le.PutUint32(b[28:], s.Pad)
}

// DrmSyncobjWait is struct drm_syncobj_wait (DRM_IOCTL_SYNCOBJ_WAIT).
// Callers built against headers older than 6.4 pass 32 bytes, without
// DeadlineNsec; the ioctl layer zero-fills it.
type DrmSyncobjWait struct {
	Handles       uint64 // user pointer to u32[CountHandles]
	TimeoutNsec   int64  // absolute CLOCK_MONOTONIC
	CountHandles  uint32
	Flags         uint32
	FirstSignaled uint32 // out, on success only
	Pad           uint32
	DeadlineNsec  uint64
}

// Size of struct drm_syncobj_wait.
const DrmSyncobjWaitSize = 40

// Unmarshal decodes s from the first DrmSyncobjWaitSize bytes of b.
func (s *DrmSyncobjWait) Unmarshal(b []byte) {
	s.Handles, s.TimeoutNsec = le.Uint64(b[0:]), int64(le.Uint64(b[8:]))
	s.CountHandles, s.Flags = le.Uint32(b[16:]), le.Uint32(b[20:])
	s.FirstSignaled, s.Pad = le.Uint32(b[24:]), le.Uint32(b[28:])
	s.DeadlineNsec = le.Uint64(b[32:])
}

// Marshal encodes s into the first DrmSyncobjWaitSize bytes of b.
func (s *DrmSyncobjWait) Marshal(b []byte) {
	le.PutUint64(b[0:], s.Handles)
	le.PutUint64(b[8:], uint64(s.TimeoutNsec))
	le.PutUint32(b[16:], s.CountHandles)
	le.PutUint32(b[20:], s.Flags)
	le.PutUint32(b[24:], s.FirstSignaled)
	le.PutUint32(b[28:], s.Pad)
	le.PutUint64(b[32:], s.DeadlineNsec)
}

// DrmSyncobjTimelineWait is struct drm_syncobj_timeline_wait
// (DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT); 40 bytes before 6.4 added DeadlineNsec.
type DrmSyncobjTimelineWait struct {
	Handles       uint64 // user pointer to u32[CountHandles]
	Points        uint64 // user pointer to u64[CountHandles]; 0 means all points 0
	TimeoutNsec   int64
	CountHandles  uint32
	Flags         uint32
	FirstSignaled uint32 // out, on success only
	Pad           uint32
	DeadlineNsec  uint64
}

// Size of struct drm_syncobj_timeline_wait.
const DrmSyncobjTimelineWaitSize = 48

// Unmarshal decodes s from the first DrmSyncobjTimelineWaitSize bytes of b.
func (s *DrmSyncobjTimelineWait) Unmarshal(b []byte) {
	s.Handles, s.Points = le.Uint64(b[0:]), le.Uint64(b[8:])
	s.TimeoutNsec = int64(le.Uint64(b[16:]))
	s.CountHandles, s.Flags = le.Uint32(b[24:]), le.Uint32(b[28:])
	s.FirstSignaled, s.Pad = le.Uint32(b[32:]), le.Uint32(b[36:])
	s.DeadlineNsec = le.Uint64(b[40:])
}

// Marshal encodes s into the first DrmSyncobjTimelineWaitSize bytes of b.
func (s *DrmSyncobjTimelineWait) Marshal(b []byte) {
	le.PutUint64(b[0:], s.Handles)
	le.PutUint64(b[8:], s.Points)
	le.PutUint64(b[16:], uint64(s.TimeoutNsec))
	le.PutUint32(b[24:], s.CountHandles)
	le.PutUint32(b[28:], s.Flags)
	le.PutUint32(b[32:], s.FirstSignaled)
	le.PutUint32(b[36:], s.Pad)
	le.PutUint64(b[40:], s.DeadlineNsec)
}

// DrmSyncobjEventfd is struct drm_syncobj_eventfd (DRM_IOCTL_SYNCOBJ_EVENTFD).
type DrmSyncobjEventfd struct {
	Handle uint32
	Flags  uint32
	Point  uint64
	Fd     int32
	Pad    uint32
}

// Size of struct drm_syncobj_eventfd.
const DrmSyncobjEventfdSize = 24

// Unmarshal decodes s from the first DrmSyncobjEventfdSize bytes of b.
func (s *DrmSyncobjEventfd) Unmarshal(b []byte) {
	s.Handle, s.Flags = le.Uint32(b[0:]), le.Uint32(b[4:])
	s.Point = le.Uint64(b[8:])
	s.Fd, s.Pad = int32(le.Uint32(b[16:])), le.Uint32(b[20:])
}

// Marshal encodes s into the first DrmSyncobjEventfdSize bytes of b.
func (s *DrmSyncobjEventfd) Marshal(b []byte) {
	le.PutUint32(b[0:], s.Handle)
	le.PutUint32(b[4:], s.Flags)
	le.PutUint64(b[8:], s.Point)
	le.PutUint32(b[16:], uint32(s.Fd))
	le.PutUint32(b[20:], s.Pad)
}

// DrmSyncobjArray is struct drm_syncobj_array (DRM_IOCTL_SYNCOBJ_RESET and
// DRM_IOCTL_SYNCOBJ_SIGNAL).
type DrmSyncobjArray struct {
	Handles      uint64 // user pointer to u32[CountHandles]
	CountHandles uint32
	Pad          uint32
}

// Size of struct drm_syncobj_array.
const DrmSyncobjArraySize = 16

// Unmarshal decodes s from the first DrmSyncobjArraySize bytes of b.
func (s *DrmSyncobjArray) Unmarshal(b []byte) {
	s.Handles = le.Uint64(b[0:])
	s.CountHandles, s.Pad = le.Uint32(b[8:]), le.Uint32(b[12:])
}

// Marshal encodes s into the first DrmSyncobjArraySize bytes of b.
func (s *DrmSyncobjArray) Marshal(b []byte) {
	le.PutUint64(b[0:], s.Handles)
	le.PutUint32(b[8:], s.CountHandles)
	le.PutUint32(b[12:], s.Pad)
}

// DrmSyncobjTimelineArray is struct drm_syncobj_timeline_array
// (DRM_IOCTL_SYNCOBJ_QUERY and DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL).
type DrmSyncobjTimelineArray struct {
	Handles      uint64 // user pointer to u32[CountHandles]
	Points       uint64 // user pointer to u64[CountHandles]
	CountHandles uint32
	Flags        uint32
}

// Size of struct drm_syncobj_timeline_array.
const DrmSyncobjTimelineArraySize = 24

// Unmarshal decodes s from the first DrmSyncobjTimelineArraySize bytes of b.
func (s *DrmSyncobjTimelineArray) Unmarshal(b []byte) {
	s.Handles, s.Points = le.Uint64(b[0:]), le.Uint64(b[8:])
	s.CountHandles, s.Flags = le.Uint32(b[16:]), le.Uint32(b[20:])
}

// Marshal encodes s into the first DrmSyncobjTimelineArraySize bytes of b.
func (s *DrmSyncobjTimelineArray) Marshal(b []byte) {
	le.PutUint64(b[0:], s.Handles)
	le.PutUint64(b[8:], s.Points)
	le.PutUint32(b[16:], s.CountHandles)
	le.PutUint32(b[20:], s.Flags)
}

// SyncMergeData is struct sync_merge_data (SYNC_IOC_MERGE).
type SyncMergeData struct {
	Name  [32]byte
	Fd2   int32
	Fence int32 // out
	Flags uint32
	Pad   uint32
}

// Size of struct sync_merge_data.
const SyncMergeDataSize = 48

// Unmarshal decodes s from the first SyncMergeDataSize bytes of b.
func (s *SyncMergeData) Unmarshal(b []byte) {
	copy(s.Name[:], b[0:32])
	s.Fd2, s.Fence = int32(le.Uint32(b[32:])), int32(le.Uint32(b[36:]))
	s.Flags, s.Pad = le.Uint32(b[40:]), le.Uint32(b[44:])
}

// Marshal encodes s into the first SyncMergeDataSize bytes of b.
func (s *SyncMergeData) Marshal(b []byte) {
	copy(b[0:32], s.Name[:])
	le.PutUint32(b[32:], uint32(s.Fd2))
	le.PutUint32(b[36:], uint32(s.Fence))
	le.PutUint32(b[40:], s.Flags)
	le.PutUint32(b[44:], s.Pad)
}

// SyncFileInfo is struct sync_file_info (SYNC_IOC_FILE_INFO).
type SyncFileInfo struct {
	Name          [32]byte // out
	Status        int32    // out
	Flags         uint32
	NumFences     uint32 // in: capacity of SyncFenceInfo; out: leaves
	Pad           uint32
	SyncFenceInfo uint64 // user pointer to SyncFenceInfo[NumFences]
}

// Size of struct sync_file_info.
const SyncFileInfoSize = 56

// Unmarshal decodes s from the first SyncFileInfoSize bytes of b.
func (s *SyncFileInfo) Unmarshal(b []byte) {
	copy(s.Name[:], b[0:32])
	s.Status, s.Flags = int32(le.Uint32(b[32:])), le.Uint32(b[36:])
	s.NumFences, s.Pad = le.Uint32(b[40:]), le.Uint32(b[44:])
	s.SyncFenceInfo = le.Uint64(b[48:])
}

// Marshal encodes s into the first SyncFileInfoSize bytes of b.
func (s *SyncFileInfo) Marshal(b []byte) {
	copy(b[0:32], s.Name[:])
	le.PutUint32(b[32:], uint32(s.Status))
	le.PutUint32(b[36:], s.Flags)
	le.PutUint32(b[40:], s.NumFences)
	le.PutUint32(b[44:], s.Pad)
	le.PutUint64(b[48:], s.SyncFenceInfo)
}

// SyncFenceInfo is struct sync_fence_info, one per leaf fence.
type SyncFenceInfo struct {
	ObjName     [32]byte // timeline name
	DriverName  [32]byte
	Status      int32
	Flags       uint32
	TimestampNs uint64
}

// Size of struct sync_fence_info.
const SyncFenceInfoSize = 80

// Unmarshal decodes s from the first SyncFenceInfoSize bytes of b.
func (s *SyncFenceInfo) Unmarshal(b []byte) {
	copy(s.ObjName[:], b[0:32])
	copy(s.DriverName[:], b[32:64])
	s.Status, s.Flags = int32(le.Uint32(b[64:])), le.Uint32(b[68:])
	s.TimestampNs = le.Uint64(b[72:])
}

// Marshal encodes s into the first SyncFenceInfoSize bytes of b.
func (s *SyncFenceInfo) Marshal(b []byte) {
	copy(b[0:32], s.ObjName[:])
	copy(b[32:64], s.DriverName[:])
	le.PutUint32(b[64:], uint32(s.Status))
	le.PutUint32(b[68:], s.Flags)
	le.PutUint64(b[72:], s.TimestampNs)
}

// SyncSetDeadline is struct sync_set_deadline (SYNC_IOC_SET_DEADLINE).
type SyncSetDeadline struct {
	DeadlineNs uint64
	Pad        uint64
}

// Size of struct sync_set_deadline.
const SyncSetDeadlineSize = 16

// Unmarshal decodes s from the first SyncSetDeadlineSize bytes of b.
func (s *SyncSetDeadline) Unmarshal(b []byte) {
	s.DeadlineNs, s.Pad = le.Uint64(b[0:]), le.Uint64(b[8:])
}

// Marshal encodes s into the first SyncSetDeadlineSize bytes of b.
func (s *SyncSetDeadline) Marshal(b []byte) {
	le.PutUint64(b[0:], s.DeadlineNs)
	le.PutUint64(b[8:], s.Pad)
}

// SwSyncCreateFenceData is struct sw_sync_create_fence_data
// (SW_SYNC_IOC_CREATE_FENCE).
type SwSyncCreateFenceData struct {
	Value uint32
	Name  [32]byte
	Fence int32 // out
}

// Size of struct sw_sync_create_fence_data.
const SwSyncCreateFenceDataSize = 40

// Unmarshal decodes s from the first SwSyncCreateFenceDataSize bytes of b.
func (s *SwSyncCreateFenceData) Unmarshal(b []byte) {
	s.Value = le.Uint32(b[0:])
	copy(s.Name[:], b[4:36])
	s.Fence = int32(le.Uint32(b[36:]))
}

// Marshal encodes s into the first SwSyncCreateFenceDataSize bytes of b.
func (s *SwSyncCreateFenceData) Marshal(b []byte) {
	le.PutUint32(b[0:], s.Value)
	copy(b[4:36], s.Name[:])
	le.PutUint32(b[36:], uint32(s.Fence))
}

// cString returns the bytes of b up to its first NUL, as a string.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// putCString copies s into b as strscpy does: truncated to len(b)-1 bytes
// and NUL-terminated, the rest zeroed.
func putCString(b []byte, s string) {
	clear(b)
	if len(b) == 0 {
		return
	}
	if len(s) > len(b)-1 {
		s = s[:len(b)-1]
	}
	copy(b, s)
}
