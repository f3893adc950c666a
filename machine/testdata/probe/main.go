//go:build wasip1

// probe is a guest for the machine's tests: it prints what a few system
// calls return and how much virtual time passed, and exits with 3.
package main

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"time"
	"unsafe"

	"fencelab/guests/go/linux"
)

var le = binary.LittleEndian

func main() {
	fmt.Println("args:", os.Args[1:])
	var r [8]byte
	crand.Read(r[:])
	fmt.Printf("random: %x\n", r)
	fd, err := linux.Open("/dev/dri/renderD128", linux.O_RDWR)
	fmt.Println("open:", fd, err)
	// DRM_IOCTL_VERSION, 32-bit layout.
	name := make([]byte, 32)
	v := make([]byte, 36)
	le.PutUint32(v[12:], 32)
	le.PutUint32(v[16:], uint32(linux.Ptr(&name[0])))
	err = linux.Ioctl(fd, 0xC0246400, unsafe.Pointer(&v[0]))
	fmt.Printf("version: %v %s %d.%d.%d\n", err, name[:le.Uint32(v[12:])], le.Uint32(v), le.Uint32(v[4:]), le.Uint32(v[8:]))
	err = linux.IoctlAddr(fd, 0xC0246400, 0xfffffff0)
	fmt.Println("version at a bad address:", err)
	_, err = linux.Open("/dev/nope", linux.O_RDWR)
	fmt.Println("open /dev/nope:", err)
	// A syncobj, and a wait for a point nobody submits, 5 ms.
	c := make([]byte, 8)
	err = linux.Ioctl(fd, 0xC00864BF, unsafe.Pointer(&c[0]))
	handle := le.Uint32(c)
	start := time.Now()
	h := []uint32{handle}
	w := make([]byte, 40) // struct drm_syncobj_wait
	le.PutUint64(w, linux.Ptr(&h[0]))
	le.PutUint64(w[8:], uint64(linux.Monotonic()+5_000_000))
	le.PutUint32(w[16:], 1)
	le.PutUint32(w[20:], 2) // WAIT_FOR_SUBMIT
	err = linux.Ioctl(fd, 0xC02864C3, unsafe.Pointer(&w[0]))
	fmt.Println("wait:", err, time.Since(start))
	time.Sleep(10 * time.Millisecond)
	fmt.Println("slept:", time.Since(start))
	efd, _ := linux.Eventfd(0, 0)
	fds := []linux.PollFd{{Fd: efd, Events: linux.POLLIN}, {Fd: 99, Events: linux.POLLIN}}
	n, err := linux.Poll(fds[:1], 20)
	fmt.Println("poll an idle eventfd for 20 ms:", n, err, time.Since(start))
	linux.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	n, err = linux.Poll(fds, -1)
	fmt.Printf("poll after a write: %d %v revents %#x %#x\n", n, err, fds[0].Revents, fds[1].Revents)
	page := linux.PageAligned(4096)
	fmt.Println("mmap without MAP_FIXED:", linux.Mmap(page, linux.PROT_READ, linux.MAP_SHARED, fd, 0x100000000))
	fmt.Println("mmap of an offset no object has:", linux.Mmap(page, linux.PROT_READ, linux.MAP_SHARED|linux.MAP_FIXED, fd, 0x100000000))
	fmt.Println("mmap of an eventfd:", linux.Mmap(page, linux.PROT_READ, linux.MAP_SHARED|linux.MAP_FIXED, efd, 0))
	// Two mappings of one dumb buffer see each other's writes at system
	// calls, and neither overwrites the other with stale bytes.
	card, _ := linux.Open("/dev/dri/card0", linux.O_RDWR)
	cd := make([]byte, 32)
	le.PutUint32(cd, 64)
	le.PutUint32(cd[4:], 64)
	le.PutUint32(cd[8:], 32)
	linux.Ioctl(card, 0xC02064B2, unsafe.Pointer(&cd[0]))
	md := make([]byte, 16)
	le.PutUint32(md, le.Uint32(cd[16:]))
	linux.Ioctl(card, 0xC01064B3, unsafe.Pointer(&md[0]))
	a, b := linux.PageAligned(4096), linux.PageAligned(4096)
	rw, shared := int32(linux.PROT_READ|linux.PROT_WRITE), int32(linux.MAP_SHARED|linux.MAP_FIXED)
	linux.Mmap(a, rw, shared, card, int64(le.Uint64(md[8:])))
	linux.Mmap(b, rw, shared, card, int64(le.Uint64(md[8:])))
	a[0] = 0x11
	linux.Close(-1) // any system call syncs
	b[1] = 0x22
	linux.Close(-1)
	fmt.Printf("two mappings: % x % x\n", a[:2], b[:2])
	os.Exit(3)
}
