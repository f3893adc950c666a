package device

import "encoding/binary"

// This file mirrors include/uapi/linux/virtio_gpu.h: command and response
// codes, flags, formats, and the request and response structs, little
// endian, with their C sizes. Decoders take the bytes after the 24-byte
// header and report false when there are too few.

// Feature bits (virtio-gpu §5.7.3).
const (
	VIRTIO_GPU_F_VIRGL         = 0
	VIRTIO_GPU_F_EDID          = 1
	VIRTIO_GPU_F_RESOURCE_UUID = 2
	VIRTIO_GPU_F_RESOURCE_BLOB = 3
	VIRTIO_GPU_F_CONTEXT_INIT  = 4
)

// VIRTIO_GPU_EVENT_DISPLAY is the config-space event bit: the display
// configuration changed.
const VIRTIO_GPU_EVENT_DISPLAY = 1 << 0

// Command codes.
const (
	VIRTIO_GPU_CMD_GET_DISPLAY_INFO        = 0x0100
	VIRTIO_GPU_CMD_RESOURCE_CREATE_2D      = 0x0101
	VIRTIO_GPU_CMD_RESOURCE_UNREF          = 0x0102
	VIRTIO_GPU_CMD_SET_SCANOUT             = 0x0103
	VIRTIO_GPU_CMD_RESOURCE_FLUSH          = 0x0104
	VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D     = 0x0105
	VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING = 0x0106
	VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING = 0x0107
	VIRTIO_GPU_CMD_GET_CAPSET_INFO         = 0x0108
	VIRTIO_GPU_CMD_GET_CAPSET              = 0x0109
	VIRTIO_GPU_CMD_GET_EDID                = 0x010a
	VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID    = 0x010b
	VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB    = 0x010c
	VIRTIO_GPU_CMD_SET_SCANOUT_BLOB        = 0x010d

	VIRTIO_GPU_CMD_CTX_CREATE            = 0x0200
	VIRTIO_GPU_CMD_CTX_DESTROY           = 0x0201
	VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE   = 0x0202
	VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE   = 0x0203
	VIRTIO_GPU_CMD_RESOURCE_CREATE_3D    = 0x0204
	VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D   = 0x0205
	VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D = 0x0206
	VIRTIO_GPU_CMD_SUBMIT_3D             = 0x0207
	VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB     = 0x0208
	VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB   = 0x0209

	VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300
	VIRTIO_GPU_CMD_MOVE_CURSOR   = 0x0301
)

// Response codes.
const (
	VIRTIO_GPU_RESP_OK_NODATA        = 0x1100
	VIRTIO_GPU_RESP_OK_DISPLAY_INFO  = 0x1101
	VIRTIO_GPU_RESP_OK_CAPSET_INFO   = 0x1102
	VIRTIO_GPU_RESP_OK_CAPSET        = 0x1103
	VIRTIO_GPU_RESP_OK_EDID          = 0x1104
	VIRTIO_GPU_RESP_OK_RESOURCE_UUID = 0x1105
	VIRTIO_GPU_RESP_OK_MAP_INFO      = 0x1106

	VIRTIO_GPU_RESP_ERR_UNSPEC              = 0x1200
	VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY       = 0x1201
	VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID  = 0x1202
	VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID = 0x1203
	VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID  = 0x1204
	VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER   = 0x1205
)

// Header flags.
const (
	VIRTIO_GPU_FLAG_FENCE         = 1 << 0
	VIRTIO_GPU_FLAG_INFO_RING_IDX = 1 << 1
)

// Pixel formats (enum virtio_gpu_formats); names give byte order in memory.
const (
	VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM = 1
	VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM = 2
	VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM = 3
	VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM = 4
	VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM = 67
	VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM = 68
	VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM = 121
	VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM = 134
)

// Limits of the protocol and of QEMU's device, which fencelab shares.
const (
	VIRTIO_GPU_MAX_SCANOUTS = 16
	// maxBackingEntries is QEMU's cap on RESOURCE_ATTACH_BACKING entries.
	maxBackingEntries = 16384
	// edidSize is the EDID buffer of struct virtio_gpu_resp_edid.
	edidSize = 1024
)

// validFormat reports whether f is one of the formats above.
func validFormat(f uint32) bool {
	switch f {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
		VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM,
		VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM,
		VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
		return true
	}
	return false
}

var le = binary.LittleEndian

// CtrlHdr is struct virtio_gpu_ctrl_hdr, 24 bytes.
type CtrlHdr struct {
	Type    uint32
	Flags   uint32
	FenceID uint64
	CtxID   uint32
	RingIdx uint8
}

// CtrlHdrSize is sizeof(struct virtio_gpu_ctrl_hdr).
const CtrlHdrSize = 24

// Unmarshal decodes h from b, which must hold CtrlHdrSize bytes.
func (h *CtrlHdr) Unmarshal(b []byte) {
	h.Type, h.Flags = le.Uint32(b[0:]), le.Uint32(b[4:])
	h.FenceID, h.CtxID, h.RingIdx = le.Uint64(b[8:]), le.Uint32(b[16:]), b[20]
}

// Marshal encodes h into b[:CtrlHdrSize], padding zeroed.
func (h *CtrlHdr) Marshal(b []byte) {
	le.PutUint32(b[0:], h.Type)
	le.PutUint32(b[4:], h.Flags)
	le.PutUint64(b[8:], h.FenceID)
	le.PutUint32(b[16:], h.CtxID)
	b[20], b[21], b[22], b[23] = h.RingIdx, 0, 0, 0
}

// Rect is struct virtio_gpu_rect.
type Rect struct{ X, Y, Width, Height uint32 }

func rectAt(b []byte) Rect {
	return Rect{le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])}
}

func putRect(b []byte, r Rect) {
	le.PutUint32(b[0:], r.X)
	le.PutUint32(b[4:], r.Y)
	le.PutUint32(b[8:], r.Width)
	le.PutUint32(b[12:], r.Height)
}

// insideOf reports whether r lies within a w×h surface, with QEMU's checks
// (each coordinate and extent, then their sums, without overflow).
func (r Rect) insideOf(w, h uint32) bool {
	return r.X <= w && r.Y <= h && r.Width <= w && r.Height <= h &&
		uint64(r.X)+uint64(r.Width) <= uint64(w) && uint64(r.Y)+uint64(r.Height) <= uint64(h)
}

// intersect returns the overlap of r and o (zero size if none).
func (r Rect) intersect(o Rect) Rect {
	x0, y0 := max(uint64(r.X), uint64(o.X)), max(uint64(r.Y), uint64(o.Y))
	x1 := min(uint64(r.X)+uint64(r.Width), uint64(o.X)+uint64(o.Width))
	y1 := min(uint64(r.Y)+uint64(r.Height), uint64(o.Y)+uint64(o.Height))
	if x1 <= x0 || y1 <= y0 {
		return Rect{}
	}
	return Rect{uint32(x0), uint32(y0), uint32(x1 - x0), uint32(y1 - y0)}
}

// Body sizes of the requests after the header (sizeof the C struct minus 24).
const (
	resourceCreate2DSize = 16 // resource_id, format, width, height
	resourceUnrefSize    = 8  // resource_id, padding
	setScanoutSize       = 24 // rect, scanout_id, resource_id
	resourceFlushSize    = 24 // rect, resource_id, padding
	transferToHost2DSize = 32 // rect, offset, resource_id, padding
	attachBackingSize    = 8  // resource_id, nr_entries; then entries
	memEntrySize         = 16 // addr, length, padding
	detachBackingSize    = 8
	getCapsetInfoSize    = 8  // capset_index, padding
	getCapsetSize        = 8  // capset_id, capset_version
	getEDIDSize          = 8  // scanout, padding
	cursorPosSize        = 16 // scanout_id, x, y, padding
	updateCursorSize     = 32 // pos, resource_id, hot_x, hot_y, padding
)

// Response sizes including the header.
const (
	respNodataSize      = CtrlHdrSize
	respDisplayInfoSize = CtrlHdrSize + VIRTIO_GPU_MAX_SCANOUTS*24
	respCapsetInfoSize  = CtrlHdrSize + 16
	respEDIDSize        = CtrlHdrSize + 8 + edidSize
)

// Config space: struct virtio_gpu_config.
const (
	configEventsRead  = 0
	configEventsClear = 4
	configNumScanouts = 8
	configNumCapsets  = 12
	configSize        = 16
)

// WireName names a command or response code: the VIRTIO_GPU_CMD_ or
// VIRTIO_GPU_RESP_ name without its prefix ("SUBMIT_3D",
// "ERR_INVALID_PARAMETER"), or "" for one it does not know.
func WireName(t uint32) string {
	switch t {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return "GET_DISPLAY_INFO"
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return "RESOURCE_CREATE_2D"
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return "RESOURCE_UNREF"
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return "SET_SCANOUT"
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return "RESOURCE_FLUSH"
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return "TRANSFER_TO_HOST_2D"
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return "RESOURCE_ATTACH_BACKING"
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return "RESOURCE_DETACH_BACKING"
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		return "GET_CAPSET_INFO"
	case VIRTIO_GPU_CMD_GET_CAPSET:
		return "GET_CAPSET"
	case VIRTIO_GPU_CMD_GET_EDID:
		return "GET_EDID"
	case VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID:
		return "RESOURCE_ASSIGN_UUID"
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB:
		return "RESOURCE_CREATE_BLOB"
	case VIRTIO_GPU_CMD_SET_SCANOUT_BLOB:
		return "SET_SCANOUT_BLOB"
	case VIRTIO_GPU_CMD_CTX_CREATE:
		return "CTX_CREATE"
	case VIRTIO_GPU_CMD_CTX_DESTROY:
		return "CTX_DESTROY"
	case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
		return "CTX_ATTACH_RESOURCE"
	case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
		return "CTX_DETACH_RESOURCE"
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
		return "RESOURCE_CREATE_3D"
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
		return "TRANSFER_TO_HOST_3D"
	case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
		return "TRANSFER_FROM_HOST_3D"
	case VIRTIO_GPU_CMD_SUBMIT_3D:
		return "SUBMIT_3D"
	case VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB:
		return "RESOURCE_MAP_BLOB"
	case VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB:
		return "RESOURCE_UNMAP_BLOB"
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
		return "UPDATE_CURSOR"
	case VIRTIO_GPU_CMD_MOVE_CURSOR:
		return "MOVE_CURSOR"
	case VIRTIO_GPU_RESP_OK_NODATA:
		return "OK_NODATA"
	case VIRTIO_GPU_RESP_OK_DISPLAY_INFO:
		return "OK_DISPLAY_INFO"
	case VIRTIO_GPU_RESP_OK_CAPSET_INFO:
		return "OK_CAPSET_INFO"
	case VIRTIO_GPU_RESP_OK_CAPSET:
		return "OK_CAPSET"
	case VIRTIO_GPU_RESP_OK_EDID:
		return "OK_EDID"
	case VIRTIO_GPU_RESP_OK_RESOURCE_UUID:
		return "OK_RESOURCE_UUID"
	case VIRTIO_GPU_RESP_OK_MAP_INFO:
		return "OK_MAP_INFO"
	case VIRTIO_GPU_RESP_ERR_UNSPEC:
		return "ERR_UNSPEC"
	case VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY:
		return "ERR_OUT_OF_MEMORY"
	case VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID:
		return "ERR_INVALID_SCANOUT_ID"
	case VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID:
		return "ERR_INVALID_RESOURCE_ID"
	case VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID:
		return "ERR_INVALID_CONTEXT_ID"
	case VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER:
		return "ERR_INVALID_PARAMETER"
	}
	return ""
}
