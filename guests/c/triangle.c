/*
 * triangle: an animated scene rendered by fencelab's renderer on a 3D
 * context with two rings, triple-buffered, shown with atomic KMS.
 *
 * Each frame k is two jobs and a commit, chained by fences only; the
 * program never waits for the GPU itself:
 *
 *   ring 0  background: clears buffer k%3 and paints bands. Its in-fence
 *           (EXECBUFFER's FENCE_FD_IN) is the out-fence of the commit
 *           that took that buffer off the screen, so a buffer is never
 *           drawn while it is being shown. It signals point k+1 of a
 *           timeline syncobj.
 *   ring 1  geometry: waits for point k+1 (a cross-ring in-fence),
 *           draws the triangles, and hands its out-fence back as a
 *           sync_file (FENCE_FD_OUT).
 *   commit  a nonblocking atomic flip of the plane to buffer k%3 with
 *           that sync_file as IN_FENCE_FD, so the display waits for the
 *           GPU, and OUT_FENCE_PTR, which signals when the frame is on
 *           screen and so the previous buffer is free.
 *
 * One commit is in flight at a time: before committing frame k the
 * program reads frame k-1's flip event, meanwhile the GPU already works
 * on frame k. A flip whose vblank sequence is more than one past the
 * previous one missed vblanks; the program counts them.
 *
 * Usage: triangle [FRAMES [GPU_US]]  FRAMES to show (600; 0: for ever),
 * GPU_US extra modelled GPU time per frame on the geometry ring (0), to
 * see what a frame that takes too long does to the display.
 */
#include <fencelab.h>
#include <drm_fourcc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NBUF 3
#define PIPE_TEXTURE_2D 2
#define VIRGL_BIND_RENDER_TARGET (1 << 1)
#define VIRGL_BIND_SCANOUT (1 << 18)
#define FORMAT_B8G8R8X8 2 /* virtio-gpu's, XR24 in memory */

static void die(const char *what)
{
	printf("triangle: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A command stream being built. */
struct stream {
	uint32_t n;
	uint32_t w[512];
};

static void put(struct stream *s, uint32_t word) { s->w[s->n++] = word; }

static void op(struct stream *s, uint32_t opcode, uint32_t payload)
{
	put(s, opcode | payload << 16);
}

static uint32_t rgb(int r, int g, int b) { return 0xff000000u | (uint32_t)b << 16 | (uint32_t)g << 8 | (uint32_t)r; }

/* background paints buffer res: a clear, then eight bands whose shade
 * drifts with the frame number. */
static void background(struct stream *s, uint32_t res, uint32_t w, uint32_t h, uint32_t frame)
{
	op(s, 1 /* CLEAR */, 2);
	put(s, res);
	put(s, rgb(16, 16, 32));
	for (uint32_t i = 0; i < 8; i++) {
		int shade = (int)((frame * 2 + i * 32) % 256);
		op(s, 2 /* FILL */, 6);
		put(s, res);
		put(s, 0);
		put(s, i * h / 8);
		put(s, w);
		put(s, h / 16);
		put(s, rgb(shade / 4, shade / 3, 64 + shade / 2));
	}
}

/* geometry draws three triangles turning about the middle of the screen,
 * each vertex its own colour. Coordinates are 28.4 fixed point. */
static void geometry(struct stream *s, uint32_t res, uint32_t w, uint32_t h, uint32_t frame, uint64_t gpu_ns)
{
	static const uint32_t colour[3] = { 0xff3030ff, 0xff30ff30, 0xffff3030 };
	float cx = w / 2.0f, cy = h / 2.0f, r = (w < h ? w : h) * 0.4f;
	op(s, 4 /* TRIANGLES */, 2 + 9 * 3);
	put(s, res);
	put(s, 3);
	for (int t = 0; t < 3; t++) {
		float scale = 1.0f - 0.3f * t, turn = frame * 0.02f * (t % 2 ? -1 : 1);
		for (int v = 0; v < 3; v++) {
			float a = turn + v * 2.0943951f; /* 2π/3 */
			put(s, (uint32_t)(int32_t)lrintf((cx + r * scale * cosf(a)) * 16));
			put(s, (uint32_t)(int32_t)lrintf((cy + r * scale * sinf(a)) * 16));
			put(s, colour[(v + t) % 3]);
		}
	}
	if (gpu_ns) {
		uint32_t work[3];
		fl_work(work, gpu_ns);
		for (int i = 0; i < 3; i++)
			put(s, work[i]);
	}
}

/* submit runs s on ring after in_fence_fd (-1: none) and the in syncobj,
 * signalling the out syncobj; with out_fd it also returns the job's
 * out-fence as a sync_file. */
static void submit(int fd, uint32_t ring, const struct stream *s, int in_fence_fd,
		   const struct fl_virtgpu_execbuffer_syncobj *in, const struct fl_virtgpu_execbuffer_syncobj *out,
		   const uint32_t *bo, int *out_fd)
{
	struct fl_virtgpu_execbuffer e = {
		.flags = FL_EXECBUF_RING_IDX, .size = s->n * 4, .command = (uintptr_t)s->w,
		.bo_handles = (uintptr_t)bo, .num_bo_handles = 1, .fence_fd = in_fence_fd, .ring_idx = ring,
		.syncobj_stride = sizeof *in, .num_in_syncobjs = in ? 1 : 0, .num_out_syncobjs = out ? 1 : 0,
		.in_syncobjs = (uintptr_t)in, .out_syncobjs = (uintptr_t)out,
	};
	if (in_fence_fd >= 0)
		e.flags |= FL_EXECBUF_FENCE_FD_IN;
	if (out_fd)
		e.flags |= FL_EXECBUF_FENCE_FD_OUT;
	if (drmIoctl(fd, FL_IOCTL_VIRTGPU_EXECBUFFER, &e))
		die("EXECBUFFER");
	if (out_fd)
		*out_fd = e.fence_fd;
}

static uint32_t last_seq, missed, shown;
static int64_t start;

/* flipped waits for the next flip event and counts the vblanks missed
 * since the one before. */
static void flipped(int fd)
{
	struct drm_event_vblank ev;
	if (fl_read_event(fd, &ev, -1))
		die("flip event");
	if (shown++ == 0)
		start = fl_monotonic_ns();
	else if (ev.sequence > last_seq + 1)
		missed += ev.sequence - last_seq - 1;
	last_seq = ev.sequence;
	if (shown % 60 == 0)
		printf("t=%.3fs frame %u on screen at vblank %u, %u missed\n",
		       (fl_monotonic_ns() - start) / 1e9, (uint32_t)ev.user_data, ev.sequence, missed);
}

int main(int argc, char **argv)
{
	uint32_t frames = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 600;
	uint64_t gpu_ns = argc > 2 ? strtoull(argv[2], NULL, 10) * 1000 : 0;

	/* A line at a time: with 0 frames the program never exits, and its
	 * progress lines must show while it runs, not at an exit that never
	 * comes. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	int fd = fl_open("/dev/dri/card0", FL_O_RDWR | FL_O_CLOEXEC);
	if (fd < 0)
		die("open /dev/dri/card0");
	struct fl_output out;
	if (fl_output_find(fd, 0, &out))
		die("no output");
	uint32_t w = out.mode.hdisplay, h = out.mode.vdisplay;
	if (fl_context_init(fd, 2))
		die("CONTEXT_INIT");

	/* Three render targets the display can scan out. */
	uint32_t bo[NBUF], res[NBUF], fb[NBUF];
	int release[NBUF]; /* out-fence of the commit that freed the buffer */
	for (int i = 0; i < NBUF; i++) {
		struct drm_virtgpu_resource_create c = {
			.target = PIPE_TEXTURE_2D, .format = FORMAT_B8G8R8X8,
			.bind = VIRGL_BIND_RENDER_TARGET | VIRGL_BIND_SCANOUT,
			.width = w, .height = h, .depth = 1, .array_size = 1, .size = w * h * 4, .stride = w * 4,
		};
		if (drmIoctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &c))
			die("RESOURCE_CREATE");
		bo[i] = c.bo_handle;
		res[i] = c.res_handle;
		uint32_t handles[4] = { bo[i] }, pitches[4] = { w * 4 }, offsets[4] = { 0 };
		if (drmModeAddFB2(fd, w, h, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb[i], 0))
			die("ADDFB2");
		release[i] = -1;
	}
	uint32_t rings; /* ring 0 → ring 1, one point a frame */
	uint32_t mode_blob;
	if (drmSyncobjCreate(fd, 0, &rings) || drmModeCreatePropertyBlob(fd, &out.mode, sizeof out.mode, &mode_blob))
		die("setup");
	printf("triangle: %ux%u@%u on connector %u, crtc %u, plane %u\n", w, h, out.mode.vrefresh,
	       out.connector, out.crtc, out.plane);

	for (uint32_t k = 0; frames == 0 || k < frames; k++) {
		uint32_t b = k % NBUF;
		struct stream s = { 0 };
		struct fl_virtgpu_execbuffer_syncobj point = { .handle = rings, .point = k + 1 };
		int rendered;

		background(&s, res[b], w, h, k);
		submit(fd, 0, &s, release[b], NULL, &point, &bo[b], NULL);
		if (release[b] >= 0)
			fl_close(release[b]);
		release[b] = -1;
		s.n = 0;
		geometry(&s, res[b], w, h, k, gpu_ns);
		submit(fd, 1, &s, -1, &point, NULL, &bo[b], &rendered);

		if (k > 0) /* frame k-1's flip: one commit in flight */
			flipped(fd);

		int32_t on_screen = -1;
		drmModeAtomicReqPtr req = drmModeAtomicAlloc();
		uint32_t flags = DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT;
		if (k == 0) {
			fl_output_modeset(req, &out, mode_blob, fb[b]);
			flags |= DRM_MODE_ATOMIC_ALLOW_MODESET;
		}
		fl_output_flip(req, &out, fb[b], rendered, &on_screen);
		if (drmModeAtomicCommit(fd, req, flags, (void *)(uintptr_t)k))
			die("ATOMIC");
		drmModeAtomicFree(req);
		fl_close(rendered);
		/* Once frame k is on screen, frame k-1's buffer is free. */
		if (k > 0)
			release[(k - 1) % NBUF] = on_screen;
		else
			fl_close(on_screen);
	}
	if (frames)
		flipped(fd);
	printf("triangle: %u frames shown, %u vblanks missed\n", shown, missed);
	return 0;
}
