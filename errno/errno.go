// Package errno is the one place where fencelab decides what an error is:
// a Linux errno value, numbered as on x86-64 and arm64 Linux
// (include/uapi/asm-generic/errno-base.h and errno.h), plus the kernel-internal
// ERESTARTSYS that a blocking ioctl returns when it is interrupted.
//
// Every layer that answers a guest (fence/, drm/, guest/) returns an [Errno];
// zero means success. The guest ABI turns a non-zero Errno e into the
// result -e, exactly as a Linux system call does. Tests compare Errno values
// directly, so a test that expects EINVAL and gets ENOENT fails with both names
// in the message.
package errno

import "strconv"

// Errno is a Linux error number. The zero value means success.
// Errno implements error only so it can travel through Go APIs that want one;
// fencelab's own code returns and compares Errno values, never wrapped errors.
type Errno uint16

// The values Linux uses, under their C names so they grep alike in Go and C.
const (
	EPERM        Errno = 1
	ENOENT       Errno = 2
	ESRCH        Errno = 3
	EINTR        Errno = 4
	EIO          Errno = 5
	ENXIO        Errno = 6
	E2BIG        Errno = 7
	ENOEXEC      Errno = 8
	EBADF        Errno = 9
	ECHILD       Errno = 10
	EAGAIN       Errno = 11
	ENOMEM       Errno = 12
	EACCES       Errno = 13
	EFAULT       Errno = 14
	EBUSY        Errno = 16
	EEXIST       Errno = 17
	ENODEV       Errno = 19
	ENOTDIR      Errno = 20
	EISDIR       Errno = 21
	EINVAL       Errno = 22
	ENFILE       Errno = 23
	EMFILE       Errno = 24
	ENOTTY       Errno = 25
	EFBIG        Errno = 27
	ENOSPC       Errno = 28
	ESPIPE       Errno = 29
	EROFS        Errno = 30
	EPIPE        Errno = 32
	ERANGE       Errno = 34
	EDEADLK      Errno = 35
	ENAMETOOLONG Errno = 36
	ENOSYS       Errno = 38
	ENODATA      Errno = 61
	ETIME        Errno = 62
	EOVERFLOW    Errno = 75
	ENOTSOCK     Errno = 88
	EMSGSIZE     Errno = 90
	EOPNOTSUPP   Errno = 95
	ETIMEDOUT    Errno = 110
	ECANCELED    Errno = 125

	// ERESTARTSYS is kernel-internal (include/linux/errno.h): a blocking
	// call was interrupted by a signal and may be restarted. A guest never
	// sees it; the syscall boundary turns it into EINTR or a restart.
	ERESTARTSYS Errno = 512

	// EWOULDBLOCK is EAGAIN, as on Linux.
	EWOULDBLOCK = EAGAIN
)

// info holds the C name and the strerror text of each value above.
var info = map[Errno][2]string{
	EPERM:        {"EPERM", "operation not permitted"},
	ENOENT:       {"ENOENT", "no such file or directory"},
	ESRCH:        {"ESRCH", "no such process"},
	EINTR:        {"EINTR", "interrupted system call"},
	EIO:          {"EIO", "input/output error"},
	ENXIO:        {"ENXIO", "no such device or address"},
	E2BIG:        {"E2BIG", "argument list too long"},
	ENOEXEC:      {"ENOEXEC", "exec format error"},
	EBADF:        {"EBADF", "bad file descriptor"},
	ECHILD:       {"ECHILD", "no child processes"},
	EAGAIN:       {"EAGAIN", "resource temporarily unavailable"},
	ENOMEM:       {"ENOMEM", "cannot allocate memory"},
	EACCES:       {"EACCES", "permission denied"},
	EFAULT:       {"EFAULT", "bad address"},
	EBUSY:        {"EBUSY", "device or resource busy"},
	EEXIST:       {"EEXIST", "file exists"},
	ENODEV:       {"ENODEV", "no such device"},
	ENOTDIR:      {"ENOTDIR", "not a directory"},
	EISDIR:       {"EISDIR", "is a directory"},
	EINVAL:       {"EINVAL", "invalid argument"},
	ENFILE:       {"ENFILE", "too many open files in system"},
	EMFILE:       {"EMFILE", "too many open files"},
	ENOTTY:       {"ENOTTY", "inappropriate ioctl for device"},
	EFBIG:        {"EFBIG", "file too large"},
	ENOSPC:       {"ENOSPC", "no space left on device"},
	ESPIPE:       {"ESPIPE", "illegal seek"},
	EROFS:        {"EROFS", "read-only file system"},
	EPIPE:        {"EPIPE", "broken pipe"},
	ERANGE:       {"ERANGE", "numerical result out of range"},
	EDEADLK:      {"EDEADLK", "resource deadlock avoided"},
	ENAMETOOLONG: {"ENAMETOOLONG", "file name too long"},
	ENOSYS:       {"ENOSYS", "function not implemented"},
	ENODATA:      {"ENODATA", "no data available"},
	ETIME:        {"ETIME", "timer expired"},
	EOVERFLOW:    {"EOVERFLOW", "value too large for defined data type"},
	ENOTSOCK:     {"ENOTSOCK", "socket operation on non-socket"},
	EMSGSIZE:     {"EMSGSIZE", "message too long"},
	EOPNOTSUPP:   {"EOPNOTSUPP", "operation not supported"},
	ETIMEDOUT:    {"ETIMEDOUT", "connection timed out"},
	ECANCELED:    {"ECANCELED", "operation canceled"},
	ERESTARTSYS:  {"ERESTARTSYS", "interrupted, restartable (kernel-internal)"},
}

// Name returns the C name of e ("EINVAL"), "OK" for zero, or "errno(N)" for a
// value fencelab does not name.
func (e Errno) Name() string {
	if e == 0 {
		return "OK"
	}
	if s, ok := info[e]; ok {
		return s[0]
	}
	return "errno(" + strconv.Itoa(int(e)) + ")"
}

// String returns the C name, so %v prints EINVAL.
func (e Errno) String() string { return e.Name() }

// Error returns the C name and the strerror text: "EINVAL (invalid argument)".
func (e Errno) Error() string {
	if s, ok := info[e]; ok {
		return s[0] + " (" + s[1] + ")"
	}
	return e.Name()
}

// Neg returns the value a Linux system call returns for e: -e, or 0 for
// success.
func (e Errno) Neg() int32 { return -int32(e) }

// FromNeg is the inverse of [Errno.Neg]: it maps a system call result r < 0
// to its Errno and any r ≥ 0 to zero. Results below -4095 are not errnos on
// Linux and map to zero as well.
func FromNeg(r int64) Errno {
	if r < 0 && r >= -4095 {
		return Errno(-r)
	}
	return 0
}
