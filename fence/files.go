package fence

import "fencelab/errno"

// File is an open file description that an fd can refer to: a [SyncFile],
// a [SyncobjFile], a [Timeline] (sw_sync), or an eventfd of the driver's.
// References are counted; the fd table takes one per fd and the object is
// released when the count reaches zero.
type File interface {
	IncRef()
	DecRef()
}

// FDTable is a process's file-descriptor table, as much of it as the syncobj
// and sync_file ioctls need. The driver layer implements it; fence defines
// it so that export and import can follow the kernel's order of effects.
type FDTable interface {
	// Reserve reserves the lowest free fd for a close-on-exec file, as
	// get_unused_fd_flags(O_CLOEXEC), or fails with EMFILE.
	Reserve() (int32, errno.Errno)
	// Install points a reserved fd at f, taking over the caller's
	// reference (fd_install). It cannot fail.
	Install(fd int32, f File)
	// Unreserve gives back a reserved fd that was never installed
	// (put_unused_fd).
	Unreserve(fd int32)
	// Get returns the file fd refers to with a new reference, which the
	// caller drops with DecRef, or EBADF (fget).
	Get(fd int32) (File, errno.Errno)
}

// Eventfd is the part of an eventfd that syncobj EVENTFD registrations use.
type Eventfd interface {
	File
	// Signal adds n to the counter and wakes readers and pollers, as
	// eventfd_signal.
	Signal(n uint64)
}

// UserMemory is the calling process's memory as the kernel's
// copy_from_user / copy_to_user see it. Addresses are the u64 "user
// pointer" fields of UAPI structs. Any byte outside the process's memory
// makes the copy fail with EFAULT; a copy of zero bytes touches nothing
// and cannot fail, whatever the address (callers skip it).
type UserMemory interface {
	CopyIn(addr uint64, dst []byte) errno.Errno
	CopyOut(addr uint64, src []byte) errno.Errno
}

// export is the common tail of every "make a new fd" path: reserve, build
// the file, install. It returns the fd, or the reservation error with the
// file never built.
func export(ft FDTable, build func() File) (int32, errno.Errno) {
	fd, e := ft.Reserve()
	if e != 0 {
		return -1, e
	}
	ft.Install(fd, build())
	return fd, 0
}
