/*
 * dumb: the 2D path. A dumb buffer is mapped into the program, painted
 * by the CPU and shown; then a square bounces across it, and each frame
 * tells the kernel which pixels changed with FB_DAMAGE_CLIPS, so only
 * those travel to the host (TRANSFER_TO_HOST_2D of the damage) and get
 * flushed to the display (RESOURCE_FLUSH).
 *
 * There is one buffer, shown all the time: the program writes into the
 * very pixels being scanned out, as a simple 2D program on a virtual GPU
 * does. The writes reach the host only when a commit carries them, so
 * the screen never shows half a frame. Each commit asks for a flip event
 * and the program waits for it, which paces it to the display.
 *
 * Usage: dumb [FRAMES [OUTPUT]]  (120 frames, 0: for ever; on output 0)
 */
#include <fencelab.h>
#include <drm_fourcc.h>
#include <stdio.h>
#include <stdlib.h>

#define SIDE 32
#define BACKGROUND 0x00203040u /* XRGB8888 */

static void die(const char *what)
{
	printf("dumb: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t *pixels;
static uint32_t stride; /* in pixels */

static void fill(int x, int y, int w, int h, uint32_t xrgb)
{
	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++)
			pixels[j * stride + i] = xrgb;
}

int main(int argc, char **argv)
{
	uint32_t frames = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 120;
	int output = argc > 2 ? atoi(argv[2]) : 0;

	/* A line at a time: with 0 frames the program never exits, and its
	 * progress lines must show while it runs, not at an exit that never
	 * comes. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	int fd = fl_open("/dev/dri/card0", FL_O_RDWR | FL_O_CLOEXEC);
	if (fd < 0)
		die("open /dev/dri/card0");
	struct fl_output out;
	if (fl_output_find(fd, output, &out))
		die("no such output");
	int w = out.mode.hdisplay, h = out.mode.vdisplay;
	if (w < SIDE + 3 || h < SIDE + 2) {
		printf("dumb: a %dx%d display is too small for the %d-pixel square to move\n", w, h, SIDE);
		return 1;
	}

	uint32_t handle, pitch, fb, mode_blob;
	uint64_t size;
	if (fl_dumb_create(fd, w, h, &handle, &pitch, &size))
		die("CREATE_DUMB");
	if (!(pixels = fl_dumb_map(fd, handle, size)))
		die("map");
	stride = pitch / 4;
	uint32_t handles[4] = { handle }, pitches[4] = { pitch }, offsets[4] = { 0 };
	if (drmModeAddFB2(fd, w, h, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb, 0))
		die("ADDFB2");
	if (drmModeCreatePropertyBlob(fd, &out.mode, sizeof out.mode, &mode_blob))
		die("CREATEPROPBLOB");

	/* The first frame: all of it. */
	fill(0, 0, w, h, BACKGROUND);
	drmModeAtomicReqPtr req = drmModeAtomicAlloc();
	fl_output_modeset(req, &out, mode_blob, fb);
	if (drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL))
		die("modeset");
	drmModeAtomicFree(req);
	printf("dumb: %dx%d, a %u-byte buffer, pitch %u\n", w, h, (unsigned)size, pitch);

	int x = 0, y = 0, dx = 3, dy = 2;
	uint64_t damaged = 0;
	uint32_t k;
	for (k = 1; frames == 0 || k <= frames; k++) {
		int nx = x + dx, ny = y + dy;
		if (nx < 0 || nx + SIDE > w)
			dx = -dx, nx = x + dx;
		if (ny < 0 || ny + SIDE > h)
			dy = -dy, ny = y + dy;
		fill(x, y, SIDE, SIDE, BACKGROUND);
		fill(nx, ny, SIDE, SIDE, 0x00ff0000u | (k * 4 % 256) << 8);

		/* What changed: where the square was and where it is. */
		struct drm_mode_rect damage[2] = {
			{ x, y, x + SIDE, y + SIDE },
			{ nx, ny, nx + SIDE, ny + SIDE },
		};
		/* The two places overlap: count each pixel once. */
		int ox = SIDE - abs(nx - x), oy = SIDE - abs(ny - y);
		damaged += 2 * SIDE * SIDE - (ox > 0 && oy > 0 ? ox * oy : 0);
		x = nx, y = ny;
		uint32_t clips;
		if (drmModeCreatePropertyBlob(fd, damage, sizeof damage, &clips))
			die("damage blob");
		req = drmModeAtomicAlloc();
		drmModeAtomicAddProperty(req, out.plane, out.plane_props.fb_id, fb);
		drmModeAtomicAddProperty(req, out.plane, out.plane_props.fb_damage_clips, clips);
		if (drmModeAtomicCommit(fd, req, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, NULL))
			die("ATOMIC");
		drmModeAtomicFree(req);
		drmModeDestroyPropertyBlob(fd, clips); /* the commit keeps it while it needs it */

		struct drm_event_vblank ev;
		if (fl_read_event(fd, &ev, -1))
			die("flip event");
		if (k % 60 == 0)
			printf("frame %u at vblank %u: square at (%d, %d)\n", k, ev.sequence, x, y);
	}
	printf("dumb: %u frames, %llu of %llu pixels damaged (%.2f%%)\n", k - 1, (unsigned long long)damaged,
	       (unsigned long long)(k - 1) * w * h, 100.0 * damaged / ((double)(k - 1) * w * h));
	return 0;
}
