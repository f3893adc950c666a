package drm

import (
	"encoding/binary"
	"testing"

	"fencelab/device"
	"fencelab/errno"
	"fencelab/timeline"
)

// createResource is IGT's shared resource: target 2, format 67 (R8G8B8A8),
// bind 1, 64×64, depth 1, array_size 1. It returns the BO and resource
// handles.
func (m *testMachine) createResource(fd int32) (uint32, uint32) {
	m.t.Helper()
	e, out := m.ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, u32s(2, 67, 1, 64, 64, 1, 1, 0, 0, 0, 0, 0, 0, 0))
	if e != 0 {
		m.t.Fatalf("RESOURCE_CREATE = %v", e)
	}
	return le32(out, 10), le32(out, 11)
}

// TestIGTDrmVirtgpu runs IGT's drm_virtgpu subtests (kernel-semantics
// §5.5) by name. Two are adapted to fencelab's device, which offers its own
// capset (31) instead of virgl's (1 and 2): get-caps and context-init ask
// for capset 31, and check that 1 and 2 are refused as not advertised.
// The map subtest checks the offset; the mmap half arrives with the guest
// runtime.
func TestIGTDrmVirtgpu(t *testing.T) {
	m := newMachine(t, device.Config{})
	fd := m.open(PathCard)
	bo, res := m.createResource(fd)
	fl := uint64(device.VIRTIO_GPU_CAPSET_FENCELAB)

	t.Run("drm-virtgpu-map", func(t *testing.T) {
		e, out := m.ioctl(fd, DRM_IOCTL_VIRTGPU_MAP, cat(u64s(0), u32s(bo, 0)))
		if e != 0 || binary.LittleEndian.Uint64(out) == 0 {
			t.Errorf("MAP = %v, offset %#x; want 0 and a non-zero offset", e, binary.LittleEndian.Uint64(out))
		}
	})
	t.Run("drm-virtgpu-execbuffer", func(t *testing.T) {
		if e, _ := m.execbuf(fd, exec{bos: []uint32{bo}, fenceFd: -1}); e != 0 {
			t.Errorf("EXECBUFFER with one BO = %v; want 0", e)
		}
	})
	t.Run("drm-virtgpu-resource-info", func(t *testing.T) {
		e, out := m.ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, u32s(bo, 0, 0, 0))
		if e != 0 || le32(out, 1) != res || le32(out, 2) == 0 {
			t.Errorf("RESOURCE_INFO = %v, res %d size %d; want 0, %d, > 0", e, le32(out, 1), le32(out, 2), res)
		}
	})
	t.Run("drm-virtgpu-3d-transfer-to-host", func(t *testing.T) {
		if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, u32s(bo, 0, 0, 0, 64, 64, 1, 0, 0, 0, 0)); e != 0 {
			t.Errorf("TRANSFER_TO_HOST = %v", e)
		}
	})
	t.Run("drm-virtgpu-3d-transfer-from-host", func(t *testing.T) {
		if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST, u32s(bo, 0, 0, 0, 64, 64, 1, 0, 0, 0, 0)); e != 0 {
			t.Errorf("TRANSFER_FROM_HOST = %v", e)
		}
	})
	t.Run("drm-virtgpu-3d-wait", func(t *testing.T) {
		m.run() // IGT accepts any answer; once the device has run it must be 0
		if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, u32s(bo, 0)); e != 0 {
			t.Errorf("WAIT = %v", e)
		}
	})
	t.Run("drm-virtgpu-resource-create", func(t *testing.T) {
		if _, r := m.createResource(fd); r == 0 {
			t.Error("RESOURCE_CREATE gave res_handle 0")
		}
	})
	t.Run("drm-virtgpu-resource-create-blob", func(t *testing.T) {
		e, out := m.ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, cat(u32s(VIRTGPU_BLOB_MEM_GUEST,
			VIRTGPU_BLOB_FLAG_USE_MAPPABLE|VIRTGPU_BLOB_FLAG_USE_SHAREABLE, 0, 0), u64s(4096), u32s(0, 0), u64s(0, 0)))
		if e != 0 || le32(out, 3) == 0 {
			t.Errorf("RESOURCE_CREATE_BLOB = %v, res %d; want 0 and a resource", e, le32(out, 3))
		}
	})
	t.Run("drm-virtgpu-get-caps", func(t *testing.T) {
		buf := m.proc.mem.put(make([]byte, 64))
		caps := func(id uint32) errno.Errno {
			e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, cat(u32s(id, 1), u64s(buf), u32s(64, 0)))
			return e
		}
		if e := caps(uint32(fl)); e != 0 {
			t.Errorf("GET_CAPS(fencelab) = %v", e)
		}
		for _, id := range []uint32{1, 2, 9999} {
			if e := caps(id); e != errno.EINVAL {
				t.Errorf("GET_CAPS(%d) = %v; want EINVAL (not advertised)", id, e)
			}
		}
	})
	t.Run("drm-virtgpu-context-init", func(t *testing.T) {
		name := m.proc.mem.put(append([]byte("IGT-Test-Context"), 0))
		fresh := m.open(PathCard)
		if e := m.contextInit(fresh, VIRTGPU_CONTEXT_PARAM_CAPSET_ID, 1, VIRTGPU_CONTEXT_PARAM_DEBUG_NAME, name); e != errno.EINVAL {
			t.Errorf("CONTEXT_INIT with virgl's capset = %v; want EINVAL here", e)
		}
		fresh2 := m.open(PathCard)
		if e := m.contextInit(fresh2, VIRTGPU_CONTEXT_PARAM_CAPSET_ID, fl, VIRTGPU_CONTEXT_PARAM_DEBUG_NAME, name); e != 0 && e != errno.EEXIST {
			t.Errorf("CONTEXT_INIT = %v; want 0 or EEXIST", e)
		}
	})
	t.Run("drm-virtgpu-getparam", func(t *testing.T) {
		ok := 0
		for p := uint64(1); p <= 8; p++ {
			if _, e := m.getParam(fd, p); e == 0 {
				ok++
			}
		}
		if ok == 0 {
			t.Error("no GETPARAM 1..8 answered")
		}
	})
	m.run()
	// The driver does not look at host errors (nor does Linux's): check
	// that the device accepted every request the driver encoded.
	for _, e := range m.rec.Of(timeline.Response) {
		if e.Resp >= device.VIRTIO_GPU_RESP_ERR_UNSPEC {
			t.Errorf("the device answered command %#x with %#x", e.Cmd, e.Resp)
		}
	}
	m.teardown()
}

func TestGEMObjects(t *testing.T) {
	m := newMachine(t, device.Config{})
	baseline := m.drv.gpu.alloc.inUse()
	fd := m.open(PathRender)
	a, _ := m.createResource(fd)
	b, _ := m.createResource(fd)
	if a != 1 || b != 2 {
		t.Fatalf("handles %d, %d; want 1, 2", a, b)
	}
	gemClose := func(h, pad uint32) errno.Errno { e, _ := m.ioctl(fd, DRM_IOCTL_GEM_CLOSE, u32s(h, pad)); return e }
	// Linux 6.12 ignores pad (testdata/oracle/prime.linux.txt).
	if e := gemClose(a, 1); e != 0 {
		t.Errorf("GEM_CLOSE with pad = %v; want 0", e)
	}
	if e := gemClose(a, 0); e != errno.EINVAL {
		t.Errorf("second GEM_CLOSE = %v; want EINVAL", e)
	}
	if c, _ := m.createResource(fd); c != a {
		t.Errorf("next handle = %d; want the freed %d", c, a)
	}
	for _, tt := range []struct {
		name string
		req  uint32
		arg  []byte
		want errno.Errno
	}{
		{"RESOURCE_INFO unknown", DRM_IOCTL_VIRTGPU_RESOURCE_INFO, u32s(99, 0, 0, 0), errno.ENOENT},
		{"MAP unknown", DRM_IOCTL_VIRTGPU_MAP, cat(u64s(0), u32s(99, 0)), errno.ENOENT},
		{"WAIT unknown", DRM_IOCTL_VIRTGPU_WAIT, u32s(99, 0), errno.ENOENT},
		{"TRANSFER unknown", DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, u32s(99, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0), errno.ENOENT},
		{"TRANSFER with a stride", DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST, u32s(b, 0, 0, 0, 1, 1, 1, 0, 0, 256, 0), errno.EINVAL},
		{"blob with flags unknown", DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, cat(u32s(1, 8, 0, 0), u64s(4096), u32s(0, 0), u64s(0, 0)), errno.EINVAL},
		{"blob mem 0", DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, cat(u32s(0, 0, 0, 0), u64s(4096), u32s(0, 0), u64s(0, 0)), errno.EINVAL},
		{"guest blob with blob_id", DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, cat(u32s(1, 0, 0, 0), u64s(4096), u32s(0, 0), u64s(0, 7)), errno.EINVAL},
		{"host blob cmd_size not ×4", DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, cat(u32s(2, 0, 0, 0), u64s(4096), u32s(0, 3), u64s(0, 0)), errno.EINVAL},
	} {
		if e, _ := m.ioctl(fd, tt.req, tt.arg); e != tt.want {
			t.Errorf("%s = %v; want %v", tt.name, e, tt.want)
		}
	}
	// A guest blob cannot be transferred.
	_, out := m.ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, cat(u32s(1, 0, 0, 0), u64s(4096), u32s(0, 0), u64s(0, 0)))
	blob := le32(out, 2)
	if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, u32s(blob, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0)); e != errno.EINVAL {
		t.Errorf("TRANSFER of a guest blob = %v; want EINVAL", e)
	}
	if e, info := m.ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, u32s(blob, 0, 0, 0)); e != 0 || le32(info, 3) != VIRTGPU_BLOB_MEM_GUEST {
		t.Errorf("RESOURCE_INFO of a blob = %v, blob_mem %d", e, le32(info, 3))
	}
	// An EXECBUFFER naming the BO makes it busy until the device retires it.
	m.contextInit(fd)
	if e, _ := m.execbuf(fd, exec{bos: []uint32{b}, cmd: work(3_000_000)}); e != 0 {
		t.Fatal(e)
	}
	if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, u32s(b, VIRTGPU_WAIT_NOWAIT)); e != errno.EBUSY {
		t.Errorf("WAIT NOWAIT on a busy BO = %v; want EBUSY", e)
	}
	m.run()
	if e, _ := m.ioctl(fd, DRM_IOCTL_VIRTGPU_WAIT, u32s(b, VIRTGPU_WAIT_NOWAIT)); e != 0 {
		t.Errorf("WAIT NOWAIT after the device ran = %v; want 0", e)
	}
	// Closing the file unrefs every resource on the host and gives back
	// every byte of guest memory.
	m.task.FDs.Close(fd)
	m.run()
	unrefs := m.requests(device.VIRTIO_GPU_CMD_RESOURCE_UNREF)
	if unrefs != 4 {
		t.Errorf("the device saw %d RESOURCE_UNREF; want 4 (3 resources and the blob)", unrefs)
	}
	if got := m.drv.gpu.alloc.inUse(); got != baseline {
		t.Errorf("guest memory in use after closing everything: %d bytes; want %d", got, baseline)
	}
	m.teardown()
}
