//go:build wasip1

// Package linux is the guest side of fencelab's guest ABI for Go programs
// built with GOOS=wasip1 GOARCH=wasm: the `linux` module's system calls
// (DESIGN.md "The guest ABI"), with Linux's numbering of errors.
//
// Structs passed to Ioctl have the layout of the Linux UAPI headers for a
// 32-bit process (a wasm32 guest is one); a "user pointer" field holds a
// linear-memory address, which Ptr gives for a Go value:
//
//	fd, err := linux.Open("/dev/dri/renderD128", linux.O_RDWR)
//	arg := make([]byte, 8) // struct drm_syncobj_create
//	err = linux.Ioctl(fd, 0xC00864BF, unsafe.Pointer(&arg[0]))
package linux

import (
	"strconv"
	"time"
	"unsafe"
)

// Open flags.
const (
	O_RDWR     = 0x2
	O_NONBLOCK = 0x800
	O_CLOEXEC  = 0x80000
)

//go:wasmimport linux open
func open(path unsafe.Pointer, n, flags int32) int32

//go:wasmimport linux close
func close_(fd int32) int32

//go:wasmimport linux dup
func dup(fd int32) int32

//go:wasmimport linux ioctl
func ioctl(fd, req int32, arg unsafe.Pointer) int32

//go:wasmimport linux read
func read(fd int32, buf unsafe.Pointer, n int32) int32

//go:wasmimport linux write
func write(fd int32, buf unsafe.Pointer, n int32) int32

//go:wasmimport linux poll
func poll(fds unsafe.Pointer, n, timeout int32) int32

// PollFd is struct pollfd.
type PollFd struct {
	Fd      int32
	Events  int16
	Revents int16
}

// Poll events.
const (
	POLLIN   = 0x1
	POLLOUT  = 0x4
	POLLNVAL = 0x20
)

// Poll waits up to timeoutMs (negative: for ever) for one of fds to be
// ready, and returns how many are.
func Poll(fds []PollFd, timeoutMs int32) (int, error) {
	if len(fds) == 0 {
		var none PollFd
		n, err := check(poll(unsafe.Pointer(&none), 0, timeoutMs))
		return int(n), err
	}
	n, err := check(poll(unsafe.Pointer(&fds[0]), int32(len(fds)), timeoutMs))
	return int(n), err
}

//go:wasmimport linux sendfd
func sendfd(ch, fd int32) int32

//go:wasmimport linux recvfd
func recvfd(ch, flags int32) int32

// SendFD passes fd's open file on the channel ch (an fd of a path under
// /run/fencelab/): the receiver gets an fd of its own for it.
func SendFD(ch, fd int32) error { _, err := check(sendfd(ch, fd)); return err }

// RecvFD receives the oldest fd sent on ch, waiting for one unless flags
// has O_NONBLOCK.
func RecvFD(ch, flags int32) (int32, error) { return check(recvfd(ch, flags)) }

//go:wasmimport linux eventfd
func eventfd(initval, flags int32) int32

// Errno is a Linux error number (not WASI's: syscall.Errno on wasip1
// numbers errors the WASI way).
type Errno int32

// Linux error numbers a guest meets.
const (
	EPERM      Errno = 1
	ENOENT     Errno = 2
	EBADF      Errno = 9
	EAGAIN     Errno = 11
	ENOMEM     Errno = 12
	EACCES     Errno = 13
	EFAULT     Errno = 14
	EBUSY      Errno = 16
	EINVAL     Errno = 22
	EMFILE     Errno = 24
	ENOTTY     Errno = 25
	ENODEV     Errno = 19
	ENOSPC     Errno = 28
	ERANGE     Errno = 34
	ENOSYS     Errno = 38
	ETIME      Errno = 62
	EOPNOTSUPP Errno = 95
	ETIMEDOUT  Errno = 110
)

var errnoNames = map[Errno]string{EPERM: "EPERM", ENOENT: "ENOENT", EBADF: "EBADF", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
	EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EINVAL: "EINVAL", ENODEV: "ENODEV", EMFILE: "EMFILE", ENOTTY: "ENOTTY",
	ENOSPC: "ENOSPC", ERANGE: "ERANGE", ENOSYS: "ENOSYS", ETIME: "ETIME", EOPNOTSUPP: "EOPNOTSUPP", ETIMEDOUT: "ETIMEDOUT"}

func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}

func check(r int32) (int32, error) {
	if r < 0 {
		return -1, Errno(-r)
	}
	return r, nil
}

// Open opens a device path: /dev/dri/renderD128, /dev/dri/card0,
// /sys/kernel/debug/sync/sw_sync or /dev/null.
func Open(path string, flags int32) (int32, error) {
	b := []byte(path)
	if len(b) == 0 {
		b = []byte{0}
		return check(open(unsafe.Pointer(&b[0]), 0, flags))
	}
	return check(open(unsafe.Pointer(&b[0]), int32(len(b)), flags))
}

// Close closes fd.
func Close(fd int32) error { _, err := check(close_(fd)); return err }

// Dup duplicates fd.
func Dup(fd int32) (int32, error) { return check(dup(fd)) }

// Ioctl runs request req (the 32-bit Linux number) on the struct at arg.
func Ioctl(fd int32, req uint32, arg unsafe.Pointer) error {
	_, err := check(ioctl(fd, int32(req), arg))
	return err
}

// Read reads DRM events or an eventfd's counter into b.
func Read(fd int32, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := check(read(fd, unsafe.Pointer(&b[0]), int32(len(b))))
	return int(n), err
}

// Write adds to an eventfd's counter.
func Write(fd int32, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := check(write(fd, unsafe.Pointer(&b[0]), int32(len(b))))
	return int(n), err
}

// Eventfd creates an eventfd.
func Eventfd(initval uint32, flags int32) (int32, error) {
	return check(eventfd(int32(initval), flags))
}

// Ptr is the linear-memory address of p, for a struct's pointer field.
func Ptr[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(id uint32, precision uint64, result unsafe.Pointer) uint32

// Monotonic is CLOCK_MONOTONIC in nanoseconds: the clock the kernel's
// absolute timeouts (syncobj waits) are read on.
func Monotonic() int64 {
	var t uint64
	clockTimeGet(1, 1, unsafe.Pointer(&t))
	return int64(t)
}

//go:wasmimport linux ioctl
func ioctlAddr(fd, req, addr int32) int32

// IoctlAddr is Ioctl with the struct's address as a number: for
// addresses that are not a Go value's (a test of a bad pointer).
func IoctlAddr(fd int32, req uint32, addr uint32) error {
	_, err := check(ioctlAddr(fd, int32(req), int32(addr)))
	return err
}

//go:wasmimport linux mmap
func mmap(addr unsafe.Pointer, length, prot, flags, fd int32, offset int64) int32

//go:wasmimport linux munmap
func munmap(addr unsafe.Pointer, length int32) int32

//go:wasmimport linux sigtimer
func sigtimer(intervalUS int32) int32

// SigTimer delivers a signal to the process every interval of virtual
// time (at least 100µs, else EINVAL; 0 stops them), as an interval timer with an empty handler
// installed without SA_RESTART: a system call asleep when one comes
// returns EINTR. It returns how many signals were delivered so far.
func SigTimer(interval time.Duration) (int32, error) {
	return check(sigtimer(int32(interval.Microseconds())))
}

// Memory protections and mmap flags.
const (
	PROT_READ  = 0x1
	PROT_WRITE = 0x2
	MAP_SHARED = 0x01
	MAP_FIXED  = 0x10
)

// Mmap maps length bytes of a DRM fd at a fake offset (MAP_DUMB's,
// VIRTGPU_MAP's) onto buf, which must be page-aligned and the guest's
// own: fencelab keeps buf and the buffer object in step at every system
// call (guests/ABI.md). flags must include MAP_FIXED.
func Mmap(buf []byte, prot, flags, fd int32, offset int64) error {
	if len(buf) == 0 {
		return EINVAL
	}
	r := mmap(unsafe.Pointer(&buf[0]), int32(len(buf)), prot, flags, fd, offset)
	if r < 0 && r >= -4095 {
		return Errno(-r)
	}
	return nil
}

// Munmap unmaps buf.
func Munmap(buf []byte) error {
	if len(buf) == 0 {
		return EINVAL
	}
	_, err := check(munmap(unsafe.Pointer(&buf[0]), int32(len(buf))))
	return err
}

// PageAligned returns n bytes starting at a page boundary, for Mmap.
func PageAligned(n int) []byte {
	b := make([]byte, n+4095)
	skip := (4096 - int(uintptr(unsafe.Pointer(&b[0]))%4096)) % 4096
	return b[skip : skip+n]
}
