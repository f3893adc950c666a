package device

import (
	"bytes"
	"testing"
)

// createBlob makes a guest blob of size bytes backed by fresh guest memory
// and returns the memory's address.
func (g *testGuest) createBlob(id uint32, size uint32) uint64 {
	g.t.Helper()
	addr := g.alloc(uint64(size))
	got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(id, VIRTIO_GPU_BLOB_MEM_GUEST, VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE, 1).
		u64(0).u64(uint64(size)).u64(addr).u32(size, 0).bytes())
	if got != VIRTIO_GPU_RESP_OK_NODATA {
		g.t.Fatalf("RESOURCE_CREATE_BLOB(%d) = %s", id, respName(got))
	}
	return addr
}

// scanoutBlob builds SET_SCANOUT_BLOB for a w×h framebuffer in format at
// offset with stride, showing rect r.
func scanoutBlob(sid, rid uint32, r Rect, w, h, format, stride, offset uint32) []byte {
	return cmd(VIRTIO_GPU_CMD_SET_SCANOUT_BLOB).u32(r.X, r.Y, r.Width, r.Height, sid, rid, w, h, format, 0).
		u32(stride, 0, 0, 0, offset, 0, 0, 0).bytes()
}

func TestBlobErrorResponses(t *testing.T) {
	g := newGuest(t, Config{})
	g.createBlob(1, 64*64*4)
	g.create2D(2, 2, 64, 64)
	full := Rect{0, 0, 64, 64}
	tests := []struct {
		name string
		req  []byte
		want uint32
	}{
		{"CREATE_BLOB id 0", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(0, 1, 2, 0).u64(0).u64(4096).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"CREATE_BLOB host memory", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(3, VIRTIO_GPU_BLOB_MEM_HOST3D, 2, 0).u64(1).u64(4096).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"CREATE_BLOB id exists", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(1, 1, 2, 0).u64(0).u64(4096).bytes(), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"CREATE_BLOB entries missing", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(3, 1, 2, 2).u64(0).u64(4096).u64(0x100000).u32(4096, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
		{"CREATE_BLOB entry outside memory", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(3, 1, 2, 1).u64(0).u64(4096).u64(guestMemSize).u32(1, 0).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
		{"CREATE_BLOB short", cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(3, 1).bytes(), VIRTIO_GPU_RESP_ERR_UNSPEC},
		{"SCANOUT_BLOB scanout out of range", scanoutBlob(1, 1, full, 64, 64, 2, 256, 0), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID},
		{"SCANOUT_BLOB unknown resource", scanoutBlob(0, 9, full, 64, 64, 2, 256, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID},
		{"SCANOUT_BLOB bad format", scanoutBlob(0, 1, full, 64, 64, 5, 256, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SCANOUT_BLOB past the blob", scanoutBlob(0, 1, full, 64, 64, 2, 256, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SCANOUT_BLOB stride too big", scanoutBlob(0, 1, full, 64, 64, 2, 300, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SCANOUT_BLOB rect under 16", scanoutBlob(0, 1, Rect{0, 0, 8, 64}, 64, 64, 2, 256, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SCANOUT_BLOB not a blob", scanoutBlob(0, 2, full, 64, 64, 2, 256, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER},
		{"SCANOUT_BLOB ok", scanoutBlob(0, 1, full, 64, 64, 2, 256, 0), VIRTIO_GPU_RESP_OK_NODATA},
		{"SCANOUT_BLOB resource 0 disables", scanoutBlob(0, 0, Rect{}, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA},
	}
	for _, tt := range tests {
		if got := g.respType(tt.req); got != tt.want {
			t.Errorf("%s: response %s; want %s", tt.name, respName(got), respName(tt.want))
		}
	}
	// Without the feature both commands are ERR_INVALID_PARAMETER (QEMU).
	g2 := newGuest(t, Config{Features: DefaultFeatures &^ (1 << VIRTIO_GPU_F_RESOURCE_BLOB)})
	if got := g2.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB).u32(1, 1, 2, 0).u64(0).u64(4096).bytes()); got != VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER {
		t.Errorf("CREATE_BLOB without RESOURCE_BLOB: %s", respName(got))
	}
}

// A blob scanout shows guest memory as of the last flush.
func TestBlobScanoutFollowsGuestMemory(t *testing.T) {
	g := newGuest(t, Config{Displays: []Display{{32, 16}}})
	const stride = 40 * 4 // a framebuffer narrower than its stride
	addr := g.createBlob(1, stride*16)
	px := bytes.Repeat([]byte{1, 2, 3, 4}, stride*16/4)
	g.mem.Write(addr, px)
	if got := g.respType(scanoutBlob(0, 1, Rect{0, 0, 32, 16}, 32, 16, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, stride, 0)); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("SET_SCANOUT_BLOB = %s", respName(got))
	}
	s := g.dev.Scanout(0)
	if !s.Enabled || s.Width != 32 || s.Height != 16 || !bytes.Equal(s.Pixels[:4], []byte{1, 2, 3, 4}) {
		t.Fatalf("Scanout(0) = %+v", s)
	}
	// The guest draws; nothing shows until it flushes, then only the flushed part.
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			g.mem.Write(addr+uint64(y*stride+x*4), []byte{9, 9, 9, 9})
		}
	}
	if s := g.dev.Scanout(0); s.Pixels[0] != 1 {
		t.Fatal("the scanout changed before RESOURCE_FLUSH")
	}
	if got := g.respType(cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(0, 0, 16, 16).u32(1, 0).bytes()); got != VIRTIO_GPU_RESP_OK_NODATA {
		t.Fatalf("RESOURCE_FLUSH = %s", respName(got))
	}
	s = g.dev.Scanout(0)
	if s.Pixels[0] != 9 || s.Pixels[(16)*4] != 1 {
		t.Errorf("after flushing the left half: pixel (0,0) = %d, (16,0) = %d; want 9 and 1", s.Pixels[0], s.Pixels[16*4])
	}
	if dmg := g.dev.TakeDamage(0); len(dmg) != 1 || dmg[0] != (Rect{0, 0, 16, 16}) {
		t.Errorf("damage = %v; want the flushed half", dmg)
	}
}
