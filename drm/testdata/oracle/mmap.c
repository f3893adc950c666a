/* mmap of GEM fake offsets on Linux 6.12 (the oracle): which errno for an
 * offset inside the object, a length past it, a file with no handle to the
 * object (never had one, or closed it), and an object that is gone.
 * drm/mmap_test.go replays the same calls on fencelab. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <drm.h>
#include <virtgpu_drm.h>

static void try_map(const char *what, int fd, size_t len, uint64_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	printf("mmap %s len=%zu -> %s errno=%d\n", what, len, p == MAP_FAILED ? "FAILED" : "ok", p == MAP_FAILED ? errno : 0);
	if (p != MAP_FAILED)
		munmap(p, len);
}

int main(void)
{
	int a = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	int b = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	struct drm_virtgpu_resource_create rc = { .target = 2, .format = 1, .bind = 2, .width = 64, .height = 64,
		.depth = 1, .array_size = 1, .size = 64 * 64 * 4 };
	int r = ioctl(a, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc);
	printf("resource_create -> ret=%d errno=%d\n", r, r ? errno : 0);
	struct drm_virtgpu_map m = { .handle = rc.bo_handle };
	r = ioctl(a, DRM_IOCTL_VIRTGPU_MAP, &m);
	printf("map -> ret=%d errno=%d offset_nonzero=%d page_aligned=%d\n", r, r ? errno : 0, m.offset != 0, (m.offset & 4095) == 0);
	uint64_t off = m.offset;
	try_map("own whole", a, 16384, off);
	try_map("own first page", a, 4096, off);
	try_map("own second page (offset+4096)", a, 4096, off + 4096);
	try_map("own len past end", a, 16384 + 4096, off);
	try_map("own offset 0", a, 4096, 0);
	try_map("own unknown offset", a, 4096, off + (1ull << 30));
	try_map("foreign file", b, 16384, off);

	struct drm_prime_handle ph = { .handle = rc.bo_handle, .flags = DRM_CLOEXEC | DRM_RDWR };
	r = ioctl(a, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph);
	printf("prime export -> ret=%d errno=%d\n", r, r ? errno : 0);
	struct drm_prime_handle ih = { .fd = ph.fd };
	r = ioctl(b, DRM_IOCTL_PRIME_FD_TO_HANDLE, &ih);
	printf("prime import in b -> ret=%d errno=%d\n", r, r ? errno : 0);
	try_map("b after import", b, 16384, off);
	struct drm_gem_close gc = { .handle = ih.handle };
	r = ioctl(b, DRM_IOCTL_GEM_CLOSE, &gc);
	printf("gem_close in b -> ret=%d errno=%d\n", r, r ? errno : 0);
	try_map("b after its handle closed", b, 16384, off);
	close(ph.fd);
	gc.handle = rc.bo_handle;
	r = ioctl(a, DRM_IOCTL_GEM_CLOSE, &gc);
	printf("gem_close in a -> ret=%d errno=%d\n", r, r ? errno : 0);
	try_map("a after close (object gone)", a, 16384, off);
	return 0;
}
