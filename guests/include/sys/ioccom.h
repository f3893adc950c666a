/*
 * Linux's ioctl request encoding, for the UAPI headers (drm.h reaches for
 * <sys/ioccom.h> on systems other than Linux, and wasm32-wasi is one):
 * direction in bits 30-31 (write 1, read 2), size in bits 16-29, type in
 * bits 8-15, number in bits 0-7.
 */
#ifndef FENCELAB_SYS_IOCCOM_H
#define FENCELAB_SYS_IOCCOM_H

#define _IOC(dir, type, nr, size) \
	((unsigned long)(((dir) << 30) | ((size) << 16) | ((type) << 8) | (nr)))
#define _IO(type, nr)         _IOC(0U, (type), (nr), 0U)
#define _IOW(type, nr, t)     _IOC(1U, (type), (nr), sizeof(t))
#define _IOR(type, nr, t)     _IOC(2U, (type), (nr), sizeof(t))
#define _IOWR(type, nr, t)    _IOC(3U, (type), (nr), sizeof(t))

#endif
