#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <drm.h>

static int X(int fd, unsigned long req, void *arg) { int r = ioctl(fd, req, arg); return r < 0 ? errno : 0; }

int main(void)
{
	int fd = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	int fd2 = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	int null = open("/dev/null", O_RDWR);
	struct drm_mode_create_dumb cd = { .width = 64, .height = 64, .bpp = 32 };
	int card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	{ int e = X(card, DRM_IOCTL_MODE_CREATE_DUMB, &cd); printf("create_dumb -> errno=%d handle=%u\n", e, cd.handle); }
	struct drm_prime_handle p = { .handle = cd.handle, .flags = 0xdead0000 };
	{ int e = X(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p); printf("handle_to_fd bad flags -> errno=%d\n", e); }
	p.flags = DRM_CLOEXEC | DRM_RDWR; p.handle = 999;
	{ int e = X(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p); printf("handle_to_fd unknown -> errno=%d\n", e); }
	p.handle = cd.handle; p.fd = -1;
	{ int e = X(card, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p); printf("handle_to_fd -> errno=%d fd=%s\n", e, p.fd >= 0 ? "valid" : "-1"); }
	int buf = p.fd;
	struct drm_prime_handle q = { .fd = buf };
	{ int e = X(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &q); printf("fd_to_handle same file -> errno=%d same=%d\n", e, q.handle == cd.handle); }
	struct drm_prime_handle r = { .fd = buf };
	{ int e = X(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &r); printf("fd_to_handle other file -> errno=%d handle=%u\n", e, r.handle); }
	struct drm_prime_handle r2 = { .fd = buf };
	{ int e = X(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &r2); printf("fd_to_handle other file again -> errno=%d same=%d\n", e, r2.handle == r.handle); }
	struct drm_prime_handle s = { .fd = null };
	{ int e = X(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &s); printf("fd_to_handle /dev/null -> errno=%d\n", e); }
	struct drm_prime_handle s2 = { .fd = -1 };
	{ int e = X(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &s2); printf("fd_to_handle -1 -> errno=%d\n", e); }
	struct drm_prime_handle s3 = { .fd = buf, .flags = 0xff };
	{ int e = X(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &s3); printf("fd_to_handle flags=0xff -> errno=%d\n", e); }
	struct drm_gem_close gc = { .handle = 999 };
	{ int e = X(fd, DRM_IOCTL_GEM_CLOSE, &gc); printf("gem_close unknown -> errno=%d\n", e); }
	gc.handle = r.handle; gc.pad = 1;
	{ int e = X(fd, DRM_IOCTL_GEM_CLOSE, &gc); printf("gem_close pad=1 -> errno=%d\n", e); }
	(void)fd2;
	return 0;
}
