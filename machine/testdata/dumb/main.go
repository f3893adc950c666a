//go:build wasip1

// dumb is the 2D path in miniature: a dumb buffer mapped into the guest,
// filled with one colour, and shown with SETCRTC on the first display.
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"
	"unsafe"

	"fencelab/guests/go/linux"
)

var le = binary.LittleEndian

func must(what string, err error) {
	if err != nil {
		fmt.Println(what+":", err)
		os.Exit(1)
	}
}

func main() {
	fd, err := linux.Open("/dev/dri/card0", linux.O_RDWR)
	must("open", err)
	// The connector's preferred mode.
	modes := make([]byte, 4*68)
	gc := make([]byte, 80)
	le.PutUint64(gc[8:], linux.Ptr(&modes[0]))
	le.PutUint32(gc[32:], 4)
	le.PutUint32(gc[48:], 37)
	must("GETCONNECTOR", linux.Ioctl(fd, 0xC05064A7, unsafe.Pointer(&gc[0])))
	mode := modes[:68]
	w, h := uint32(le.Uint16(mode[4:])), uint32(le.Uint16(mode[14:]))
	// A dumb buffer, mapped.
	cd := make([]byte, 32)
	le.PutUint32(cd, h)
	le.PutUint32(cd[4:], w)
	le.PutUint32(cd[8:], 32)
	must("CREATE_DUMB", linux.Ioctl(fd, 0xC02064B2, unsafe.Pointer(&cd[0])))
	handle, pitch, size := le.Uint32(cd[16:]), le.Uint32(cd[20:]), le.Uint64(cd[24:])
	md := make([]byte, 16)
	le.PutUint32(md, handle)
	must("MAP_DUMB", linux.Ioctl(fd, 0xC01064B3, unsafe.Pointer(&md[0])))
	pixels := linux.PageAligned(int(size))
	must("mmap", linux.Mmap(pixels, linux.PROT_READ|linux.PROT_WRITE, linux.MAP_SHARED|linux.MAP_FIXED, fd, int64(le.Uint64(md[8:]))))
	for i := 0; i+4 <= len(pixels); i += 4 {
		le.PutUint32(pixels[i:], 0x00ff8040) // XRGB8888
	}
	// A framebuffer, and the mode set on it.
	fb := make([]byte, 104)
	le.PutUint32(fb[4:], w)
	le.PutUint32(fb[8:], h)
	le.PutUint32(fb[12:], 'X'|'R'<<8|'2'<<16|'4'<<24)
	le.PutUint32(fb[20:], handle)
	le.PutUint32(fb[36:], pitch)
	must("ADDFB2", linux.Ioctl(fd, 0xC06864B8, unsafe.Pointer(&fb[0])))
	conn := []uint32{37}
	sc := make([]byte, 104)
	le.PutUint64(sc, linux.Ptr(&conn[0]))
	le.PutUint32(sc[8:], 1)
	le.PutUint32(sc[12:], 36)
	le.PutUint32(sc[16:], le.Uint32(fb))
	le.PutUint32(sc[32:], 1)
	copy(sc[36:], mode)
	must("SETCRTC", linux.Ioctl(fd, 0xC06864A2, unsafe.Pointer(&sc[0])))
	fmt.Printf("showing %dx%d\n", w, h)
	must("munmap", linux.Munmap(pixels))
	// Stay a while: when the process exits its framebuffer goes, and the
	// screen with it.
	time.Sleep(time.Second)
}
