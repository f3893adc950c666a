package device

import (
	"encoding/binary"
	"testing"
)

// FuzzControlQueue sends arbitrary requests through a real control queue,
// fenced or not, on rings or not, and then, if the input says so,
// scribbles over the queue's own memory. The device must never panic or
// spin: every request is answered (at once or once its timeline retires)
// unless a hang fault or an unmet host wait holds it, and a scribbled
// queue may only put the device in NEEDS_RESET.
func FuzzControlQueue(f *testing.F) {
	seed := func(reqs ...[]byte) []byte {
		var b []byte
		for _, r := range reqs {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(r)))
			b = append(b, r...)
		}
		return b
	}
	name := make([]byte, 64)
	f.Add(seed(cmd(VIRTIO_GPU_CMD_GET_DISPLAY_INFO).bytes()))
	f.Add(seed(
		cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D).u32(1, 2, 32, 32).bytes(),
		cmd(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING).u32(1, 1).u64(0x200000).u32(4096, 0).bytes(),
		cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D).u32(0, 0, 32, 32).u64(0).u32(1, 0).bytes(),
		cmd(VIRTIO_GPU_CMD_SET_SCANOUT).u32(0, 0, 32, 32, 0, 1).bytes(),
		cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH).u32(0, 0, 32, 32).u32(1, 0).bytes(),
	))
	f.Add(seed(
		cmd(VIRTIO_GPU_CMD_CTX_CREATE).ctx(1).u32(0, 0).raw(name).bytes(),
		cmd(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D).u32(2, 2, 67, 1, 16, 16, 1, 1, 0, 0, 0, 0).bytes(),
		submit(stream{}.op(OpClear, 2, 0xff00ff00).work(ms)).ctx(1).ring(1).fence(3).bytes(),
		submit(stream{}.wait(1, 1, 3).op(OpFill, 2, 1, 1, 4, 4, 0xffffffff)).ctx(1).ring(0).fence(4).bytes(),
	))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newGuestSized(t, Config{Threading: Threading(len(data) % 3), HostMem: 8 << 20}, 4<<20)
		// Each request takes two descriptors (request, response) of the
		// queue's 64: at most 32 fit before the first kick.
		sent := 0
		for len(data) >= 2 && sent < 32 {
			n := int(binary.LittleEndian.Uint16(data)) % 8192
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			g.send(data[:n], 256)
			data = data[n:]
			sent++
		}
		scribbled := len(data) >= 8
		if scribbled { // scribble over the control queue's memory
			l := g.ctrl.Layout()
			span := uint64(l.Size)*16 + 4096
			off := binary.LittleEndian.Uint32(data) % uint32(span)
			g.mem.Write(l.Desc+uint64(off), data[4:min(len(data), 64)])
		}
		g.kick()
		for steps := 0; steps < 10_000; steps++ {
			next, ok := g.dev.NextEvent()
			if !ok {
				break
			}
			g.dev.Advance(next)
			if steps == 9_999 {
				t.Fatal("the device still has work after 10000 events")
			}
		}
		if g.dev.NeedsReset() {
			return
		}
		answered := 0
		for {
			_, _, ok, err := g.ctrl.PopUsed()
			if err != nil && scribbled {
				// The scribble can make a head available twice or
				// name one the driver never posted; the device serves
				// what the ring says (as QEMU's does), and it is the
				// driver that finds the queue broken, as Linux's
				// virtqueue_get_buf does ("id %u is not a head").
				return
			}
			if err != nil {
				t.Fatalf("the device corrupted the used ring: %v", err)
			}
			if !ok {
				break
			}
			answered++
		}
		if answered > sent {
			t.Fatalf("%d answers for %d requests", answered, sent)
		}
	})
}
