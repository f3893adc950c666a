/*
 * The modes Linux 6.12's virtio_gpu gives a connector when the device has
 * no EDID: one line per mode (clock, h timings, hskew, v timings, vscan,
 * vrefresh, flags, type, name). Run once per display size:
 *
 *   gcc -static -O2 -I/usr/include/libdrm -o /tmp/modes noedid_modes.c
 *   ORACLE_GPU_DEVICE="virtio-gpu-pci,edid=off" ../shared/oracle/run.sh /tmp/modes > noedid_modes.linux.txt
 *   ORACLE_GPU_DEVICE="virtio-gpu-pci,edid=off,xres=1366,yres=768" ... > noedid_modes_1366x768.linux.txt
 */
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <drm.h>
#include <drm_mode.h>
int main(void)
{
	int fd = open("/dev/dri/card0", O_RDWR);
	struct drm_mode_modeinfo modes[128];
	struct drm_mode_get_connector gc = { .connector_id = 37, .count_modes = 128, .modes_ptr = (uintptr_t)modes };
	ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &gc);
	printf("count=%u mm=%ux%u\n", gc.count_modes, gc.mm_width, gc.mm_height);
	for (unsigned i = 0; i < gc.count_modes; i++) {
		struct drm_mode_modeinfo *m = &modes[i];
		printf("%u %u %u %u %u %u %u %u %u %u %u %u %#x %#x %s\n", m->clock, m->hdisplay, m->hsync_start, m->hsync_end, m->htotal,
		       m->hskew, m->vdisplay, m->vsync_start, m->vsync_end, m->vtotal, m->vscan, m->vrefresh, m->flags, m->type, m->name);
	}
	return 0;
}
