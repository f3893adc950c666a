#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <drm.h>

static int fd;
static int X(unsigned long req, void *arg) { int r = ioctl(fd, req, arg); return r < 0 ? errno : 0; }

int main(void)
{
	fd = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
	int card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	char name[64] = {0}, date[64] = {0}, desc[64] = {0};
	struct drm_version v = { .name_len = sizeof name, .name = name, .date_len = sizeof date, .date = date, .desc_len = sizeof desc, .desc = desc };
	{ int e = X(DRM_IOCTL_VERSION, &v); printf("version -> errno=%d %d.%d.%d name=%s(%zu) date=%s(%zu) desc=%s(%zu)\n", e, v.version_major, v.version_minor, v.version_patchlevel, name, v.name_len, date, v.date_len, desc, v.desc_len); }
	struct drm_version v2 = { .name_len = 3, .name = name };
	memset(name, 'x', sizeof name);
	{ int e = X(DRM_IOCTL_VERSION, &v2); printf("version name_len=3 -> errno=%d name_len=%zu name=%.8s\n", e, v2.name_len, name); }
	for (uint64_t cap = 0; cap <= 0x15; cap++) {
		struct drm_get_cap c = { .capability = cap, .value = 0xdead };
		int e = X(DRM_IOCTL_GET_CAP, &c);
		printf("get_cap render %#llx -> errno=%d value=%#llx\n", (unsigned long long)cap, e, (unsigned long long)c.value);
	}
	{ struct drm_get_cap c = { .capability = 0x10, .value = 0xdead }; int r = ioctl(card, DRM_IOCTL_GET_CAP, &c); printf("get_cap card 0x10 -> errno=%d value=%#llx\n", r < 0 ? errno : 0, (unsigned long long)c.value); }
	{ struct drm_get_cap c = { .capability = 0x1, .value = 0xdead }; int r = ioctl(card, DRM_IOCTL_GET_CAP, &c); printf("get_cap card 0x1 -> errno=%d value=%#llx\n", r < 0 ? errno : 0, (unsigned long long)c.value); }
	char buf[64] = {0};
	printf("type 'e' -> errno=%d\n", X(_IOWR('e', 0xBF, struct drm_syncobj_create), buf));
	printf("core nr 0xff -> errno=%d\n", X(DRM_IOWR(0xFF, struct drm_syncobj_create), buf));
	printf("core nr 0xd5 -> errno=%d\n", X(DRM_IOWR(0xD5, struct drm_syncobj_create), buf));
	printf("driver nr 0x4c -> errno=%d\n", X(DRM_IOWR(0x4C, struct drm_syncobj_create), buf));
	printf("driver nr 0x9f -> errno=%d\n", X(DRM_IOWR(0x9F, struct drm_syncobj_create), buf));
	printf("core nr 0x01 (get_unique) render -> errno=%d\n", X(DRM_IOWR(0x01, struct drm_unique), buf));
	printf("create argp=0x1000 -> errno=%d\n", X(DRM_IOCTL_SYNCOBJ_CREATE, (void *)0x1000));
	printf("create argp=NULL -> errno=%d\n", X(DRM_IOCTL_SYNCOBJ_CREATE, NULL));
	/* size from the caller's word: a 4-byte CREATE reads only handle, flags zero-filled */
	uint32_t small[4] = {0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd};
	{ int e = X(_IOC(_IOC_READ|_IOC_WRITE, 'd', 0xBF, 4), small); printf("create size=4 -> errno=%d words=%#x %#x\n", e, small[0], small[1]); }
	uint32_t big[8] = {0, 0xffffffff, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
	{ int e = X(_IOC(_IOC_READ|_IOC_WRITE, 'd', 0xBF, 32), big); printf("create size=32 flags=-1 -> errno=%d words=%#x %#x %#x\n", e, big[0], big[1], big[2]); }
	uint32_t w2[2] = {0, 0};
	{ int e = X(_IOC(_IOC_WRITE, 'd', 0xBF, 8), w2); printf("create IOW (no OUT) -> errno=%d handle=%#x\n", e, w2[0]); }
	{ int e = X(_IOC(_IOC_NONE, 'd', 0xBF, 0), NULL); printf("create IO size 0 -> errno=%d\n", e); }
	/* copy back on failure: WAIT with bad flags, first_signaled */
	struct drm_syncobj_wait wt = { .handles = 0, .count_handles = 1, .flags = 0xff, .first_signaled = 0x1234 };
	{ int e = X(DRM_IOCTL_SYNCOBJ_WAIT, &wt); printf("wait bad flags -> errno=%d first=%#x count=%u\n", e, wt.first_signaled, wt.count_handles); }
	/* destroy with handle 0 */
	struct drm_syncobj_destroy d0 = {0};
	printf("destroy 0 -> errno=%d\n", X(DRM_IOCTL_SYNCOBJ_DESTROY, &d0));
	/* eventfd ioctl on card0 (primary) */
	struct drm_syncobj_create c = {0};
	int e = ioctl(card, DRM_IOCTL_SYNCOBJ_CREATE, &c);
	printf("card0 syncobj create -> errno=%d handle=%u\n", e < 0 ? errno : 0, c.handle);
	return 0;
}
