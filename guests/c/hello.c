/*
 * hello: the smallest C guest. It opens the render node, makes sync
 * objects with libdrm's names, waits 5 ms of virtual time on a point
 * nobody submits, signals a timeline point and queries it, shows that a
 * bad pointer is EFAULT, and exits with 7.
 */
#include <inttypes.h>
#include <stdio.h>

#include "fencelab.h"

static const char *name(int e)
{
	return e == ETIME ? "ETIME" : e == EFAULT ? "EFAULT" : e == EINVAL ? "EINVAL" : e == ENOENT ? "ENOENT" : "other";
}

int main(int argc, char **argv)
{
	int fd = fl_open("/dev/dri/renderD128", FL_O_RDWR);
	printf("open: %d\n", fd);
	if (fl_open("/dev/nope", FL_O_RDWR) < 0)
		printf("open /dev/nope: %s\n", name(errno));

	uint32_t s, t;
	drmSyncobjCreate(fd, 0, &s);
	drmSyncobjCreate(fd, 0, &t);
	printf("syncobjs: %u %u\n", s, t);
	int64_t start = fl_monotonic_ns();
	int r = drmSyncobjWait(fd, &s, 1, start + 5000000, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, NULL);
	printf("wait: %s after %" PRId64 " ms\n", r < 0 ? name(-r) : "ok", (fl_monotonic_ns() - start) / 1000000);

	uint64_t point = 3;
	drmSyncobjTimelineSignal(fd, &t, &point, 1);
	uint64_t got = 0;
	drmSyncobjQuery(fd, &t, &got, 1);
	printf("timeline point after signalling 3: %" PRIu64 "\n", got);
	point = 2;
	r = drmSyncobjTimelineWait(fd, &t, &point, 1, start, 0, NULL);
	printf("wait for point 2: %d\n", r);

	if (drmIoctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, (void *)0xfffffff0) < 0)
		printf("bad pointer: %s\n", name(errno));
	return 7;
}
