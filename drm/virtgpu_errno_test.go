package drm

import (
	"encoding/binary"
	"testing"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/timeline"
)

// Device feature sets for the rows of TestVirtgpuErrnoRows.
const (
	vxFull      = device.DefaultFeatures
	vxNo3D      = device.DefaultFeatures &^ (1 << device.VIRTIO_GPU_F_VIRGL)
	vxNoBlob    = device.DefaultFeatures &^ (1 << device.VIRTIO_GPU_F_RESOURCE_BLOB)
	vxNoUUID    = device.DefaultFeatures &^ (1 << device.VIRTIO_GPU_F_RESOURCE_UUID)
	vxNoCtxInit = device.DefaultFeatures &^ (1 << device.VIRTIO_GPU_F_CONTEXT_INIT)
)

// vxBad is an address the process has not mapped.
const vxBad = 0x10

// vxCall is one ioctl a row makes, and what to check after a successful
// call (the device has run by then unless the row is busy).
type vxCall struct {
	req   uint32
	arg   []byte
	check func(t *testing.T, m *testMachine, fd int32, out []byte, events []timeline.Event)
}

// vxRow is one errno row: a fresh machine with the given features, a
// setup that prepares objects and returns the call, and the errno wanted.
type vxRow struct {
	name  string
	feat  uint64
	setup func(t *testing.T, m *testMachine, fd int32) vxCall
	want  errno.Errno
	// same: a successful call that must leave no state behind either.
	same bool
	// busy: the device must not run between the setup and the checks.
	busy bool
}

// vxCreateArg is drm_virtgpu_resource_create: R8G8B8A8 64×64, bind 1.
func vxCreateArg(target, depth, arraySize, lastLevel, samples, size uint32) []byte {
	return u32s(target, device.VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 1, 64, 64, depth, arraySize, lastLevel, samples, 0, 0, 0, size, 0)
}

// vxBlobArg is drm_virtgpu_resource_create_blob.
func vxBlobArg(mem, flags uint32, size uint64, cmdSize uint32, cmd, blobID uint64) []byte {
	return cat(u32s(mem, flags, 0, 0), u64s(size), u32s(0, cmdSize), u64s(cmd, blobID))
}

// vxXferArg is drm_virtgpu_3d_transfer_{to,from}_host over the whole 64×64 box.
func vxXferArg(bo, stride, layerStride uint32) []byte {
	return u32s(bo, 0, 0, 0, 64, 64, 1, 0, 0, stride, layerStride)
}

// vxCapsArg is drm_virtgpu_get_caps.
func vxCapsArg(id, ver uint32, addr uint64, size uint32) []byte {
	return cat(u32s(id, ver), u64s(addr), u32s(size, 0))
}

// vxMust runs an ioctl that must succeed and returns the struct after.
func vxMust(t *testing.T, m *testMachine, fd int32, req uint32, arg []byte) []byte {
	t.Helper()
	e, out := m.ioctl(fd, req, arg)
	if e != 0 {
		t.Fatalf("setup ioctl %#x = %v", req, e)
	}
	return out
}

// vxResource makes a 64×64 2D-compatible resource with a backing of size
// bytes and returns its GEM handle.
func vxResource(t *testing.T, m *testMachine, fd int32, size uint32) uint32 {
	t.Helper()
	return le32(vxMust(t, m, fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, vxCreateArg(2, 1, 1, 0, 0, size)), 10)
}

// vxBlob makes a blob of one page and returns its GEM handle.
func vxBlob(t *testing.T, m *testMachine, fd int32, mem uint32) uint32 {
	t.Helper()
	return le32(vxMust(t, m, fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, vxBlobArg(mem, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0)), 2)
}

// vxInfo is RESOURCE_INFO of bo with blob_mem preset to a sentinel:
// res_handle, size, blob_mem as returned.
func vxInfo(t *testing.T, m *testMachine, fd int32, bo uint32) (uint32, uint32, uint32) {
	t.Helper()
	out := vxMust(t, m, fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, u32s(bo, 0, 0, vxSentinel))
	return le32(out, 1), le32(out, 2), le32(out, 3)
}

const vxSentinel = 0xdead

// vxAnswered reports whether events contain a response to cmd with resp,
// and the request's header flags.
func vxAnswered(events []timeline.Event, cmd, resp uint32) (bool, uint32) {
	var flags uint32
	seen := false
	for _, e := range events {
		if e.Kind == timeline.Request && e.Cmd == cmd {
			flags = e.Flags
		}
		if e.Kind == timeline.Response && e.Cmd == cmd && e.Resp == resp {
			seen = true
		}
	}
	return seen, flags
}

func vxCount(events []timeline.Event, kind timeline.Kind, cmd uint32) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind && e.Cmd == cmd {
			n++
		}
	}
	return n
}

// vxCall0 is a call with no check beyond its errno.
func vxCall0(req uint32, arg []byte) func(*testing.T, *testMachine, int32) vxCall {
	return func(*testing.T, *testMachine, int32) vxCall { return vxCall{req: req, arg: arg} }
}

// vxParam is a GETPARAM row: the int written at value must be want.
func vxParam(name string, feat uint64, param uint64, want uint32) vxRow {
	return vxRow{name: name, feat: feat, same: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
		out := m.proc.mem.put(u32s(0xffffffff))
		return vxCall{req: DRM_IOCTL_VIRTGPU_GETPARAM, arg: u64s(param, out),
			check: func(t *testing.T, m *testMachine, fd int32, _ []byte, _ []timeline.Event) {
				if v := binary.LittleEndian.Uint32(m.proc.mem.get(out, 4)); v != want {
					t.Errorf("GETPARAM(%d) wrote %d; want %d", param, v, want)
				}
			}}
	}}
}

// vxXferRow is a TRANSFER row on an object made by obj.
func vxXferRow(name string, feat uint64, req uint32, obj func(*testing.T, *testMachine, int32) uint32, stride, layerStride uint32, want errno.Errno) vxRow {
	return vxRow{name: name, feat: feat, want: want, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
		return vxCall{req: req, arg: vxXferArg(obj(t, m, fd), stride, layerStride)}
	}}
}

func vxClassic(t *testing.T, m *testMachine, fd int32) uint32 { return vxResource(t, m, fd, 64*64*4) }
func vxGuestBlob(t *testing.T, m *testMachine, fd int32) uint32 {
	return vxBlob(t, m, fd, VIRTGPU_BLOB_MEM_GUEST)
}
func vxHost3DBlob(t *testing.T, m *testMachine, fd int32) uint32 {
	return vxBlob(t, m, fd, VIRTGPU_BLOB_MEM_HOST3D)
}
func vxNoObject(*testing.T, *testMachine, int32) uint32 { return 77 }

// TestVirtgpuErrnoRows covers the errno rows of kernel-semantics §1.7 (and
// §1.4's GETPARAM answers per device configuration, §1.5/§1.6's
// CONTEXT_INIT and EXECBUFFER without 3D). Every failing call must leave
// the machine exactly as it found it: no fence object, fd, guest memory,
// pending fence or event space gained or lost.
func TestVirtgpuErrnoRows(t *testing.T) {
	fl := uint32(device.VIRTIO_GPU_CAPSET_FENCELAB)
	var (
		create = DRM_IOCTL_VIRTGPU_RESOURCE_CREATE
		info   = DRM_IOCTL_VIRTGPU_RESOURCE_INFO
		from   = DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST
		to     = DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST
		blob   = DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB
		caps   = DRM_IOCTL_VIRTGPU_GET_CAPS
	)
	rows := []vxRow{
		// RESOURCE_CREATE without 3D: only single-level 2D textures.
		{name: "RESOURCE_CREATE no3D depth>1", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(create, vxCreateArg(2, 2, 1, 0, 0, 0))},
		{name: "RESOURCE_CREATE no3D nr_samples>1", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(create, vxCreateArg(2, 1, 1, 0, 2, 0))},
		{name: "RESOURCE_CREATE no3D last_level>1", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(create, vxCreateArg(2, 1, 1, 2, 0, 0))},
		{name: "RESOURCE_CREATE no3D target!=2", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(create, vxCreateArg(3, 1, 1, 0, 0, 0))},
		{name: "RESOURCE_CREATE no3D target 0", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(create, vxCreateArg(0, 1, 1, 0, 0, 0))},
		{name: "RESOURCE_CREATE no3D array_size>1", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(create, vxCreateArg(2, 1, 2, 0, 0, 0))},
		{name: "RESOURCE_CREATE no3D last_level 1 ok", feat: vxNo3D, setup: vxCall0(create, vxCreateArg(2, 1, 1, 1, 1, 0))},
		{name: "RESOURCE_CREATE no3D valid 2D", feat: vxNo3D, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			before := m.drv.gpu.alloc.inUse()
			return vxCall{req: create, arg: vxCreateArg(2, 1, 1, 0, 0, 64*64*4),
				check: func(t *testing.T, m *testMachine, fd int32, out []byte, ev []timeline.Event) {
					bo, res := le32(out, 10), le32(out, 11)
					if bo == 0 || res == 0 {
						t.Errorf("bo_handle %d res_handle %d; want both non-zero", bo, res)
					}
					ok, flags := vxAnswered(ev, device.VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, device.VIRTIO_GPU_RESP_OK_NODATA)
					if !ok {
						t.Error("the device did not answer RESOURCE_CREATE_2D with OK_NODATA")
					}
					if flags&device.VIRTIO_GPU_FLAG_FENCE == 0 {
						t.Error("RESOURCE_CREATE_2D was not fenced (§1.7: a fence on the global context)")
					}
					if ok, _ := vxAnswered(ev, device.VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, device.VIRTIO_GPU_RESP_OK_NODATA); !ok {
						t.Error("the device did not answer RESOURCE_ATTACH_BACKING with OK_NODATA")
					}
					for _, c := range []uint32{device.VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, device.VIRTIO_GPU_CMD_CTX_CREATE} {
						if n := vxCount(ev, timeline.Request, c); n != 0 {
							t.Errorf("without 3D the device saw %d requests %#x", n, c)
						}
					}
					if r, size, bm := vxInfo(t, m, fd, bo); r != res || size != 64*64*4 || bm != vxSentinel {
						t.Errorf("RESOURCE_INFO = res %d size %d blob_mem %#x; want %d, %d, untouched", r, size, bm, res, 64*64*4)
					}
					if got := m.drv.gpu.alloc.inUse() - before; got != 64*64*4 {
						t.Errorf("guest memory grew by %d; want the %d-byte backing", got, 64*64*4)
					}
					if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, u32s(bo, VIRTGPU_WAIT_NOWAIT)); e != 0 {
						t.Errorf("WAIT NOWAIT after the device ran = %v; want 0", e)
					}
				}}
		}},
		{name: "RESOURCE_CREATE size 0 is one page", feat: vxNo3D, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: create, arg: vxCreateArg(2, 1, 1, 0, 0, 0),
				check: func(t *testing.T, m *testMachine, fd int32, out []byte, _ []timeline.Event) {
					if _, size, _ := vxInfo(t, m, fd, le32(out, 10)); size != 4096 {
						t.Errorf("RESOURCE_INFO size = %d; want 4096", size)
					}
				}}
		}},
		{name: "RESOURCE_CREATE 3D target 3 goes to the host", feat: vxFull, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: create, arg: vxCreateArg(3, 2, 1, 0, 0, 0),
				check: func(t *testing.T, m *testMachine, fd int32, out []byte, ev []timeline.Event) {
					if n := vxCount(ev, timeline.Request, device.VIRTIO_GPU_CMD_RESOURCE_CREATE_3D); n != 1 {
						t.Errorf("the device saw %d RESOURCE_CREATE_3D; want 1", n)
					}
				}}
		}},

		// RESOURCE_INFO.
		{name: "RESOURCE_INFO unknown handle", feat: vxFull, want: errno.ENOENT, setup: vxCall0(info, u32s(77, 0, 0, 0))},
		{name: "RESOURCE_INFO handle 0", feat: vxFull, want: errno.ENOENT, setup: vxCall0(info, u32s(0, 0, 0, 0))},
		{name: "RESOURCE_INFO guest blob writes blob_mem", feat: vxFull, same: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			bo := vxGuestBlob(t, m, fd)
			return vxCall{req: info, arg: u32s(bo, 0, 0, vxSentinel), check: func(t *testing.T, _ *testMachine, _ int32, out []byte, _ []timeline.Event) {
				if le32(out, 1) == 0 || le32(out, 2) != 4096 || le32(out, 3) != VIRTGPU_BLOB_MEM_GUEST {
					t.Errorf("RESOURCE_INFO = res %d size %d blob_mem %#x; want non-zero, 4096, 1", le32(out, 1), le32(out, 2), le32(out, 3))
				}
			}}
		}},

		// TRANSFER_FROM_HOST / TRANSFER_TO_HOST.
		vxXferRow("TRANSFER_FROM_HOST no3D", vxNo3D, from, vxClassic, 0, 0, errno.ENOSYS),
		vxXferRow("TRANSFER_FROM_HOST no3D unknown handle", vxNo3D, from, vxNoObject, 0, 0, errno.ENOSYS),
		{name: "TRANSFER_TO_HOST no3D is a 2D transfer", feat: vxNo3D, same: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			bo := vxClassic(t, m, fd)
			return vxCall{req: to, arg: vxXferArg(bo, 0, 0), check: func(t *testing.T, m *testMachine, fd int32, _ []byte, ev []timeline.Event) {
				ok, flags := vxAnswered(ev, device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, device.VIRTIO_GPU_RESP_OK_NODATA)
				if !ok {
					t.Error("the device did not answer TRANSFER_TO_HOST_2D with OK_NODATA")
				}
				if flags&device.VIRTIO_GPU_FLAG_FENCE != 0 {
					t.Error("the 2D transfer was fenced; §1.7 says no fence")
				}
				if n := vxCount(ev, timeline.Request, device.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D); n != 0 {
					t.Errorf("without 3D the device saw %d TRANSFER_TO_HOST_3D", n)
				}
			}}
		}},
		vxXferRow("TRANSFER_TO_HOST no3D unknown handle", vxNo3D, to, vxNoObject, 0, 0, errno.ENOENT),
		vxXferRow("TRANSFER_TO_HOST unknown handle", vxFull, to, vxNoObject, 0, 0, errno.ENOENT),
		vxXferRow("TRANSFER_FROM_HOST unknown handle", vxFull, from, vxNoObject, 0, 0, errno.ENOENT),
		vxXferRow("TRANSFER_TO_HOST guest-only blob", vxFull, to, vxGuestBlob, 0, 0, errno.EINVAL),
		vxXferRow("TRANSFER_FROM_HOST guest-only blob", vxFull, from, vxGuestBlob, 0, 0, errno.EINVAL),
		// The guest-blob check comes before the 2D/3D split in TO_HOST.
		vxXferRow("TRANSFER_TO_HOST no3D guest-only blob", vxNo3D, to, vxGuestBlob, 0, 0, errno.EINVAL),
		vxXferRow("TRANSFER_TO_HOST stride", vxFull, to, vxClassic, 256, 0, errno.EINVAL),
		vxXferRow("TRANSFER_TO_HOST layer_stride", vxFull, to, vxClassic, 0, 16384, errno.EINVAL),
		vxXferRow("TRANSFER_FROM_HOST stride", vxFull, from, vxClassic, 256, 0, errno.EINVAL),
		vxXferRow("TRANSFER_FROM_HOST layer_stride", vxFull, from, vxClassic, 0, 16384, errno.EINVAL),
		// The stride rule is for non-host3d objects only: a host3d blob's
		// strides go to the host.
		vxXferRow("TRANSFER_TO_HOST host3d blob with stride", vxFull, to, vxHost3DBlob, 256, 16384, 0),
		vxXferRow("TRANSFER_FROM_HOST host3d blob with stride", vxFull, from, vxHost3DBlob, 256, 16384, 0),

		// WAIT.
		{name: "WAIT unknown handle", feat: vxFull, want: errno.ENOENT, setup: vxCall0(DRM_IOCTL_VIRTGPU_WAIT, u32s(77, 0))},
		{name: "WAIT NOWAIT unknown handle", feat: vxFull, want: errno.ENOENT, setup: vxCall0(DRM_IOCTL_VIRTGPU_WAIT, u32s(77, VIRTGPU_WAIT_NOWAIT))},
		// Busy: an EXECBUFFER of 1 ms of modelled work wrote the object,
		// and the device has not run it yet.
		{name: "WAIT NOWAIT busy", feat: vxFull, want: errno.EBUSY, busy: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			bo := vxClassic(t, m, fd)
			m.run()
			if e, _ := m.execbuf(fd, exec{cmd: work(1_000_000), bos: []uint32{bo}, fenceFd: -1}); e != 0 {
				t.Fatalf("EXECBUFFER = %v", e)
			}
			return vxCall{req: DRM_IOCTL_VIRTGPU_WAIT, arg: u32s(bo, VIRTGPU_WAIT_NOWAIT)}
		}},
		{name: "WAIT NOWAIT idle", feat: vxFull, same: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: DRM_IOCTL_VIRTGPU_WAIT, arg: u32s(vxClassic(t, m, fd), VIRTGPU_WAIT_NOWAIT)}
		}},

		// GET_CAPS.
		{name: "GET_CAPS no capsets", feat: vxNo3D, want: errno.ENOSYS, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: caps, arg: vxCapsArg(fl, 1, m.proc.mem.put(make([]byte, 64)), 64)}
		}},
		{name: "GET_CAPS no capsets size 0", feat: vxNo3D, want: errno.ENOSYS, setup: vxCall0(caps, vxCapsArg(fl, 1, vxBad, 0))},
		{name: "GET_CAPS size 0", feat: vxFull, want: errno.EINVAL, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: caps, arg: vxCapsArg(fl, 1, m.proc.mem.put(make([]byte, 64)), 0)}
		}},
		{name: "GET_CAPS unknown id", feat: vxFull, want: errno.EINVAL, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: caps, arg: vxCapsArg(1, 0, m.proc.mem.put(make([]byte, 64)), 64)}
		}},
		{name: "GET_CAPS version past max", feat: vxFull, want: errno.EINVAL, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: caps, arg: vxCapsArg(fl, 2, m.proc.mem.put(make([]byte, 64)), 64)}
		}},
		{name: "GET_CAPS bad addr", feat: vxFull, want: errno.EFAULT, setup: vxCall0(caps, vxCapsArg(fl, 1, vxBad, 64))},
		{name: "GET_CAPS ok", feat: vxFull, same: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			buf := m.proc.mem.put(make([]byte, 64))
			return vxCall{req: caps, arg: vxCapsArg(fl, 1, buf, 64), check: func(t *testing.T, m *testMachine, _ int32, _ []byte, _ []timeline.Event) {
				if got := m.proc.mem.get(buf, 4); string(got) != "FLAB" {
					t.Errorf("capset bytes % x; want FLAB", got)
				}
			}}
		}},

		// RESOURCE_CREATE_BLOB: every validation failure is EINVAL.
		{name: "CREATE_BLOB no blob feature", feat: vxNoBlob, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB unknown flag bits", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST, 8, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB high flag bit", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST, 1<<31|VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB CROSS_DEVICE no UUID", feat: vxNoUUID, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST,
			VIRTGPU_BLOB_FLAG_USE_MAPPABLE|VIRTGPU_BLOB_FLAG_USE_SHAREABLE|VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB CROSS_DEVICE with UUID ok", feat: vxFull, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST,
			VIRTGPU_BLOB_FLAG_USE_MAPPABLE|VIRTGPU_BLOB_FLAG_USE_SHAREABLE|VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB blob_mem 0", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(0, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB blob_mem 4", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(4, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB HOST3D no3D", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_HOST3D, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0))},
		{name: "CREATE_BLOB HOST3D_GUEST no3D", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_HOST3D_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0))},
		// Validation comes before the command is copied: a bad cmd
		// pointer is not reached.
		{name: "CREATE_BLOB HOST3D cmd_size%4", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_HOST3D, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 6, vxBad, 0))},
		{name: "CREATE_BLOB HOST3D_GUEST cmd_size%4", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_HOST3D_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 2, vxBad, 0))},
		{name: "CREATE_BLOB GUEST blob_id", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 1))},
		{name: "CREATE_BLOB GUEST cmd_size", feat: vxFull, want: errno.EINVAL, setup: vxCall0(blob, vxBlobArg(VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 4, vxBad, 0))},
		{name: "CREATE_BLOB GUEST no3D ok", feat: vxNo3D, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: blob, arg: vxBlobArg(VIRTGPU_BLOB_MEM_GUEST, VIRTGPU_BLOB_FLAG_USE_MAPPABLE, 4096, 0, 0, 0),
				check: func(t *testing.T, m *testMachine, fd int32, out []byte, ev []timeline.Event) {
					if bo := le32(out, 2); bo == 0 || le32(out, 3) == 0 {
						t.Errorf("bo_handle %d res_handle %d; want both non-zero", bo, le32(out, 3))
					}
					if ok, _ := vxAnswered(ev, device.VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, device.VIRTIO_GPU_RESP_OK_NODATA); !ok {
						t.Error("the device did not answer RESOURCE_CREATE_BLOB with OK_NODATA")
					}
				}}
		}},

		// MAP.
		{name: "MAP unknown handle", feat: vxFull, want: errno.ENOENT, setup: vxCall0(DRM_IOCTL_VIRTGPU_MAP, cat(u64s(0), u32s(77, 0)))},
		{name: "MAP ok", feat: vxNo3D, same: true, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: DRM_IOCTL_VIRTGPU_MAP, arg: cat(u64s(0), u32s(vxClassic(t, m, fd), 0)),
				check: func(t *testing.T, _ *testMachine, _ int32, out []byte, _ []timeline.Event) {
					if off := binary.LittleEndian.Uint64(out); off == 0 || off%4096 != 0 {
						t.Errorf("MAP offset %#x; want non-zero and page-aligned", off)
					}
				}}
		}},

		// GETPARAM per device configuration (§1.4).
		vxParam("GETPARAM 3D_FEATURES no3D", vxNo3D, VIRTGPU_PARAM_3D_FEATURES, 0),
		vxParam("GETPARAM 3D_FEATURES full", vxFull, VIRTGPU_PARAM_3D_FEATURES, 1),
		vxParam("GETPARAM CAPSET_QUERY_FIX no3D", vxNo3D, VIRTGPU_PARAM_CAPSET_QUERY_FIX, 1),
		vxParam("GETPARAM SUPPORTED_CAPSET_IDs no3D", vxNo3D, VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, 0),
		vxParam("GETPARAM SUPPORTED_CAPSET_IDs full", vxFull, VIRTGPU_PARAM_SUPPORTED_CAPSET_IDs, 1<<device.VIRTIO_GPU_CAPSET_FENCELAB),
		vxParam("GETPARAM RESOURCE_BLOB noBlob", vxNoBlob, VIRTGPU_PARAM_RESOURCE_BLOB, 0),
		vxParam("GETPARAM RESOURCE_BLOB full", vxFull, VIRTGPU_PARAM_RESOURCE_BLOB, 1),
		vxParam("GETPARAM CROSS_DEVICE noUUID", vxNoUUID, VIRTGPU_PARAM_CROSS_DEVICE, 0),
		vxParam("GETPARAM CROSS_DEVICE full", vxFull, VIRTGPU_PARAM_CROSS_DEVICE, 1),
		vxParam("GETPARAM CONTEXT_INIT noCtxInit", vxNoCtxInit, VIRTGPU_PARAM_CONTEXT_INIT, 0),
		vxParam("GETPARAM CONTEXT_INIT full", vxFull, VIRTGPU_PARAM_CONTEXT_INIT, 1),
		vxParam("GETPARAM EXPLICIT_DEBUG_NAME noCtxInit", vxNoCtxInit, VIRTGPU_PARAM_EXPLICIT_DEBUG_NAME, 0),
		vxParam("GETPARAM HOST_VISIBLE full", vxFull, VIRTGPU_PARAM_HOST_VISIBLE, 0),
		{name: "GETPARAM unknown param", feat: vxNo3D, want: errno.EINVAL, setup: func(t *testing.T, m *testMachine, fd int32) vxCall {
			return vxCall{req: DRM_IOCTL_VIRTGPU_GETPARAM, arg: u64s(9, m.proc.mem.put(make([]byte, 4)))}
		}},
		{name: "GETPARAM bad value pointer", feat: vxNo3D, want: errno.EFAULT, setup: vxCall0(DRM_IOCTL_VIRTGPU_GETPARAM, u64s(VIRTGPU_PARAM_3D_FEATURES, vxBad))},

		// EXECBUFFER and CONTEXT_INIT need 3D (§1.5, §1.6).
		{name: "EXECBUFFER no3D", feat: vxNo3D, want: errno.ENOSYS, setup: vxCall0(DRM_IOCTL_VIRTGPU_EXECBUFFER,
			cat(u32s(0, 0), u64s(0, 0), u32s(0, 0xffffffff, 0, syncobjDescSize, 0, 0), u64s(0, 0)))},
		{name: "CONTEXT_INIT no3D", feat: vxNo3D, want: errno.EINVAL, setup: vxCall0(DRM_IOCTL_VIRTGPU_CONTEXT_INIT, cat(u32s(0, 0), u64s(0)))},
		{name: "CONTEXT_INIT noCtxInit", feat: vxNoCtxInit, want: errno.EINVAL, setup: vxCall0(DRM_IOCTL_VIRTGPU_CONTEXT_INIT, cat(u32s(0, 0), u64s(0)))},
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Fatalf("two rows named %q", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) { vxRunRow(t, row) })
	}
}

// vxRunRow runs one row on a fresh machine.
func vxRunRow(t *testing.T, row vxRow) {
	m := newMachine(t, device.Config{Features: row.feat})
	fd := m.open(PathRender)
	call := row.setup(t, m, fd)
	if !row.busy {
		m.run()
	}
	before := m.snapshot()
	mark := len(m.rec.Events)
	e, out := m.ioctl(fd, call.req, call.arg)
	if !row.busy {
		m.run()
	}
	after := m.snapshot()
	if e != row.want {
		t.Errorf("ioctl %#x = %v; want %v", call.req, e, row.want)
	}
	if (row.want != 0 || row.same) && after != before {
		t.Errorf("the call changed the machine:\n before %+v\n after  %+v", before, after)
	}
	if e == 0 && call.check != nil {
		call.check(t, m, fd, out, m.rec.Events[mark:])
	}
	m.run()
	m.teardown()
}
