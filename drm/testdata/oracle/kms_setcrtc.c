/*
 * Legacy mode setting on Linux 6.12's virtio_gpu (QEMU 7.2, one output,
 * fbcon holding the CRTC): SETCRTC's checks in order, a mode set with a
 * dumb framebuffer, PAGE_FLIP on it, and SETCRTC off. Replayed by
 * TestOracleSetCRTC.
 *
 *   gcc -static -O2 -Wall -I/usr/include/libdrm -o /tmp/kms_setcrtc kms_setcrtc.c
 *   ../shared/oracle/run.sh /tmp/kms_setcrtc | grep -v '^oracle:' > kms_setcrtc.linux.txt
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <drm.h>
#include <drm_mode.h>
#include <drm_fourcc.h>

#define X(req, arg) (errno = 0, ioctl(fd, req, arg) < 0 ? errno : 0)
enum { PRIMARY = 32, CRTC = 36, CONN = 37 };
static int fd;

static int setcrtc(uint32_t crtc, uint32_t fb, uint32_t x, uint32_t y, int valid, const struct drm_mode_modeinfo *m,
		   uint32_t count, uint64_t conns)
{
	struct drm_mode_crtc c = { .set_connectors_ptr = conns, .count_connectors = count, .crtc_id = crtc,
		.fb_id = fb, .x = x, .y = y, .mode_valid = valid };
	if (m)
		c.mode = *m;
	return X(DRM_IOCTL_MODE_SETCRTC, &c);
}

int main(void)
{
	fd = open("/dev/dri/card0", O_RDWR);
	struct drm_mode_modeinfo modes[64];
	struct drm_mode_get_connector gc = { .connector_id = CONN, .count_modes = 64, .modes_ptr = (uintptr_t)modes };
	X(DRM_IOCTL_MODE_GETCONNECTOR, &gc);
	struct drm_mode_modeinfo m = modes[0];
	uint32_t w = m.hdisplay, h = m.vdisplay;
	struct drm_mode_create_dumb cd = { .width = w, .height = h, .bpp = 32 };
	X(DRM_IOCTL_MODE_CREATE_DUMB, &cd);
	struct drm_mode_fb_cmd2 f = { .width = w, .height = h, .pixel_format = DRM_FORMAT_XRGB8888,
		.handles = { cd.handle }, .pitches = { cd.pitch } };
	X(DRM_IOCTL_MODE_ADDFB2, &f);
	uint32_t fb = f.fb_id;
	f.pixel_format = DRM_FORMAT_ARGB8888;
	X(DRM_IOCTL_MODE_ADDFB2, &f);
	uint32_t fbA = f.fb_id;
	struct drm_mode_create_dumb sd = { .width = 64, .height = 64, .bpp = 32 };
	X(DRM_IOCTL_MODE_CREATE_DUMB, &sd);
	struct drm_mode_fb_cmd2 sf = { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888,
		.handles = { sd.handle }, .pitches = { sd.pitch } };
	X(DRM_IOCTL_MODE_ADDFB2, &sf);
	uint32_t conn = CONN, bogus = 9999;
	struct drm_mode_modeinfo ar = m, bad = m;
	ar.flags |= DRM_MODE_FLAG_PIC_AR_16_9;
	bad.clock = 0;

	printf("setcrtc x 65536 -> errno=%d\n", setcrtc(CRTC, fb, 65536, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("setcrtc unknown crtc -> errno=%d\n", setcrtc(9999, fb, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("setcrtc unknown fb -> errno=%d\n", setcrtc(CRTC, 9999, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("setcrtc aspect bits -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &ar, 1, (uintptr_t)&conn));
	printf("setcrtc clock 0 -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &bad, 1, (uintptr_t)&conn));
	printf("setcrtc ARGB fb -> errno=%d\n", setcrtc(CRTC, fbA, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("setcrtc small fb -> errno=%d\n", setcrtc(CRTC, sf.fb_id, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("setcrtc x 1 -> errno=%d\n", setcrtc(CRTC, fb, 1, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("setcrtc no connectors -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &m, 0, 0));
	printf("setcrtc connectors without mode -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 0, NULL, 1, (uintptr_t)&conn));
	printf("setcrtc 2 connectors -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &m, 2, (uintptr_t)&conn));
	printf("setcrtc connectors bad ptr -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &m, 1, 0x10));
	printf("setcrtc unknown connector -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &m, 1, (uintptr_t)&bogus));
	printf("setcrtc a crtc as connector -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &m, 1, (uintptr_t)&(uint32_t){CRTC}));
	printf("setcrtc -> errno=%d\n", setcrtc(CRTC, fb, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	struct drm_mode_crtc g = { .crtc_id = CRTC };
	X(DRM_IOCTL_MODE_GETCRTC, &g);
	printf("getcrtc -> fb=%s valid=%u mode='%s' same timings=%d\n", g.fb_id == fb ? "fb" : "?", g.mode_valid, g.mode.name,
	       g.mode.clock == m.clock && g.mode.htotal == m.htotal && g.mode.vtotal == m.vtotal);
	printf("setcrtc fb -1 keeps -> errno=%d\n", setcrtc(CRTC, -1, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	struct drm_mode_crtc_page_flip pf = { .crtc_id = CRTC, .fb_id = fb, .flags = DRM_MODE_PAGE_FLIP_EVENT, .user_data = 5 };
	printf("page_flip -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[64];
	int n = poll(&p, 1, 1000);
	printf("event -> poll=%d read=%zd\n", n, n > 0 ? read(fd, buf, sizeof buf) : 0);
	printf("setcrtc off -> errno=%d\n", setcrtc(CRTC, 0, 0, 0, 0, NULL, 0, 0));
	X(DRM_IOCTL_MODE_GETCRTC, &g);
	struct drm_mode_get_plane gp = { .plane_id = PRIMARY };
	X(DRM_IOCTL_MODE_GETPLANE, &gp);
	struct drm_mode_get_encoder ge = { .encoder_id = 38 };
	X(DRM_IOCTL_MODE_GETENCODER, &ge);
	printf("after off -> crtc fb=%u valid=%u plane crtc=%u fb=%u encoder crtc=%u\n", g.fb_id, g.mode_valid, gp.crtc_id, gp.fb_id, ge.crtc_id);
	printf("setcrtc fb -1 with none -> errno=%d\n", setcrtc(CRTC, -1, 0, 0, 1, &m, 1, (uintptr_t)&conn));
	printf("page_flip off -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf));
	return 0;
}
