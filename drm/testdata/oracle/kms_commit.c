/*
 * Framebuffers, property blobs, connectors and commits on Linux 6.12's
 * virtio_gpu (QEMU 7.2, one EDID-capable output, fbcon holding the CRTC
 * until the probe, as master, turns it off). Object ids that depend on
 * fbcon are printed as "new"/"0"; errno rows are the point.
 * TestOracleKMSCommit replays the same steps on fencelab.
 *
 *   gcc -static -O2 -Wall -I/usr/include/libdrm -o /tmp/kms_commit kms_commit.c
 *   ../shared/oracle/run.sh /tmp/kms_commit | grep -v '^oracle:' > kms_commit.linux.txt
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
#define BAD ((uint64_t)0x10)

static int fd;
enum { PRIMARY = 32, CURSOR = 33, CRTC = 36, CONN = 37, ENC = 38, EDID_BLOB = 39 };

/* property ids (drm_mode_config_init order, as fencelab pins them) */
enum { P_DPMS = 2, P_TYPE = 8, P_SRC_X, P_SRC_Y, P_SRC_W, P_SRC_H, P_CRTC_X, P_CRTC_Y, P_CRTC_W, P_CRTC_H,
       P_FB_ID, P_IN_FENCE_FD, P_OUT_FENCE_PTR, P_CRTC_ID, P_DAMAGE, P_ACTIVE, P_MODE_ID };

struct req { int n; uint32_t objs[8], counts[8], props[32]; uint64_t values[32]; };

static void add(struct req *r, uint32_t obj, uint32_t prop, uint64_t v)
{
	int i, p = 0;
	for (i = 0; i < r->n; i++) {
		p += r->counts[i];
		if (r->objs[i] == obj)
			break;
	}
	if (i == r->n) {
		r->objs[r->n] = obj;
		r->counts[r->n++] = 0;
		p = 0;
		for (int j = 0; j < r->n; j++)
			p += r->counts[j];
	}
	/* properties are stored object by object: shift the later ones */
	int end = 0;
	for (int j = 0; j < r->n; j++)
		end += r->counts[j];
	for (int j = end; j > p; j--) {
		r->props[j] = r->props[j - 1];
		r->values[j] = r->values[j - 1];
	}
	r->props[p] = prop;
	r->values[p] = v;
	r->counts[i]++;
}

static int commit(struct req *r, uint32_t flags, uint64_t user_data)
{
	struct drm_mode_atomic a = { .flags = flags, .count_objs = r->n, .objs_ptr = (uintptr_t)r->objs,
		.count_props_ptr = (uintptr_t)r->counts, .props_ptr = (uintptr_t)r->props,
		.prop_values_ptr = (uintptr_t)r->values, .user_data = user_data };
	return X(DRM_IOCTL_MODE_ATOMIC, &a);
}

static int one(uint32_t obj, uint32_t prop, uint64_t v, uint32_t flags)
{
	struct req r = { 0 };
	add(&r, obj, prop, v);
	return commit(&r, flags, 0);
}

static uint32_t addfb(uint32_t handle, uint32_t w, uint32_t h, uint32_t format, uint32_t pitch)
{
	struct drm_mode_fb_cmd2 f = { .width = w, .height = h, .pixel_format = format,
		.handles = { handle }, .pitches = { pitch } };
	int e = X(DRM_IOCTL_MODE_ADDFB2, &f);
	return e ? 0 : f.fb_id;
}

static void read_events(const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, 1000);
	uint8_t buf[256];
	ssize_t got = n > 0 ? read(fd, buf, sizeof buf) : 0;
	printf("%s: poll=%d read=%zd", what, n, got);
	for (ssize_t off = 0; off + 8 <= got;) {
		struct drm_event_vblank *v = (void *)(buf + off);
		printf(" [type=%u len=%u user_data=%llu crtc=%u]", v->base.type, v->base.length,
		       (unsigned long long)v->user_data, v->crtc_id);
		off += v->base.length;
	}
	printf("\n");
}

int main(void)
{
	fd = open("/dev/dri/card0", O_RDWR);
	struct drm_set_client_cap cap = { DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1 };
	X(DRM_IOCTL_SET_CLIENT_CAP, &cap);

	/* Property blobs. */
	struct drm_mode_get_blob gb = { .blob_id = EDID_BLOB };
	int e = X(DRM_IOCTL_MODE_GETPROPBLOB, &gb);
	/* QEMU's EDID has an extension block (256 bytes), fencelab's not (128). */
	printf("getpropblob edid length 0 -> errno=%d length is a multiple of 128: %d\n", e, gb.length && gb.length % 128 == 0);
	uint8_t edid[256];
	gb.data = (uintptr_t)edid;
	e = X(DRM_IOCTL_MODE_GETPROPBLOB, &gb);
	printf("getpropblob edid -> errno=%d header=%02x%02x\n", e, edid[0], edid[1]);
	gb.data = BAD;
	printf("getpropblob bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_GETPROPBLOB, &gb));
	gb.length = 5;
	e = X(DRM_IOCTL_MODE_GETPROPBLOB, &gb);
	printf("getpropblob short length bad ptr -> errno=%d length changed: %d\n", e, gb.length != 5);
	struct drm_mode_get_blob gb2 = { .blob_id = 9999 };
	printf("getpropblob unknown -> errno=%d\n", X(DRM_IOCTL_MODE_GETPROPBLOB, &gb2));
	gb2.blob_id = CRTC;
	printf("getpropblob on a crtc -> errno=%d\n", X(DRM_IOCTL_MODE_GETPROPBLOB, &gb2));
	struct drm_mode_create_blob cb = { 0 };
	printf("createpropblob length 0 -> errno=%d\n", X(DRM_IOCTL_MODE_CREATEPROPBLOB, &cb));
	cb.length = 16;
	cb.data = BAD;
	printf("createpropblob bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_CREATEPROPBLOB, &cb));
	struct drm_mode_destroy_blob db = { 9999 };
	printf("destroypropblob unknown -> errno=%d\n", X(DRM_IOCTL_MODE_DESTROYPROPBLOB, &db));
	db.blob_id = EDID_BLOB;
	printf("destroypropblob edid -> errno=%d\n", X(DRM_IOCTL_MODE_DESTROYPROPBLOB, &db));

	/* The connector and its preferred mode. */
	struct drm_mode_modeinfo modes[64];
	struct drm_mode_get_connector gc = { .connector_id = CONN };
	e = X(DRM_IOCTL_MODE_GETCONNECTOR, &gc);
	printf("getconnector count -> errno=%d encoders=%u connection=%u type=%u type_id=%u\n", e, gc.count_encoders,
	       gc.connection, gc.connector_type, gc.connector_type_id);
	uint32_t enc;
	uint32_t props[16];
	uint64_t vals[16];
	gc.count_modes = 64;
	gc.modes_ptr = (uintptr_t)modes;
	gc.encoders_ptr = (uintptr_t)&enc;
	gc.count_props = 16;
	gc.props_ptr = (uintptr_t)props;
	gc.prop_values_ptr = (uintptr_t)vals;
	e = X(DRM_IOCTL_MODE_GETCONNECTOR, &gc);
	printf("getconnector -> errno=%d encoder=%u first mode '%s' type=%#x props=%u\n", e, enc, modes[0].name,
	       modes[0].type, gc.count_props);
	struct drm_mode_get_connector gc2 = { .connector_id = CONN, .count_modes = 64, .modes_ptr = BAD };
	printf("getconnector modes bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_GETCONNECTOR, &gc2));
	struct drm_mode_get_connector gc3 = { .connector_id = CONN, .count_modes = 0, .modes_ptr = BAD,
		.count_encoders = 1, .encoders_ptr = BAD };
	printf("getconnector encoders bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_GETCONNECTOR, &gc3));
	struct drm_mode_get_connector gc4 = { .connector_id = CRTC };
	printf("getconnector on a crtc -> errno=%d\n", X(DRM_IOCTL_MODE_GETCONNECTOR, &gc4));
	struct drm_mode_modeinfo mode = modes[0];
	cb.data = (uintptr_t)&mode;
	cb.length = sizeof mode;
	e = X(DRM_IOCTL_MODE_CREATEPROPBLOB, &cb);
	printf("createpropblob mode -> errno=%d id=%s\n", e, cb.blob_id ? "new" : "0");
	uint32_t mode_blob = cb.blob_id;
	struct drm_mode_modeinfo badmode = mode;
	badmode.clock = 0;
	struct drm_mode_create_blob cb2 = { .data = (uintptr_t)&badmode, .length = sizeof badmode };
	X(DRM_IOCTL_MODE_CREATEPROPBLOB, &cb2);
	uint32_t clock0_blob = cb2.blob_id;
	struct drm_mode_create_blob cb3 = { .data = (uintptr_t)&mode, .length = 12 };
	X(DRM_IOCTL_MODE_CREATEPROPBLOB, &cb3);
	uint32_t short_blob = cb3.blob_id;
	struct drm_mode_modeinfo hmode = mode;
	hmode.hsync_start = hmode.hdisplay - 1;
	struct drm_mode_create_blob cb4 = { .data = (uintptr_t)&hmode, .length = sizeof hmode };
	X(DRM_IOCTL_MODE_CREATEPROPBLOB, &cb4);
	uint32_t hbad_blob = cb4.blob_id;

	/* Framebuffers. */
	uint32_t w = mode.hdisplay, h = mode.vdisplay;
	struct drm_mode_create_dumb cd = { .width = w, .height = h, .bpp = 32 };
	X(DRM_IOCTL_MODE_CREATE_DUMB, &cd);
	struct drm_mode_create_dumb cd2 = { .width = w, .height = h, .bpp = 32 };
	X(DRM_IOCTL_MODE_CREATE_DUMB, &cd2);
	struct drm_mode_create_dumb small = { .width = 64, .height = 64, .bpp = 32 };
	X(DRM_IOCTL_MODE_CREATE_DUMB, &small);
	struct { const char *what; struct drm_mode_fb_cmd2 f; } bad[] = {
		{ "flags 4", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .flags = 4, .handles = { cd.handle }, .pitches = { 256 } } },
		{ "width 31", { .width = 31, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle }, .pitches = { 256 } } },
		{ "height 8193", { .width = 64, .height = 8193, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle }, .pitches = { 256 } } },
		{ "modifiers flag", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .flags = DRM_MODE_FB_MODIFIERS, .handles = { cd.handle }, .pitches = { 256 } } },
		{ "unknown fourcc", { .width = 64, .height = 64, .pixel_format = 0x31313131, .handles = { cd.handle }, .pitches = { 256 } } },
		{ "handle 0", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .pitches = { 256 } } },
		{ "pitch 255", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle }, .pitches = { 255 } } },
		{ "pitch overflow", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle }, .pitches = { 0x4000000 }, .offsets = { 0xffffff } } },
		{ "modifier without flag", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle }, .pitches = { 256 }, .modifier = { 1 } } },
		{ "modifier on plane 2", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle }, .pitches = { 256 }, .modifier = { 0, 0, 1 } } },
		{ "NV12 one handle", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_NV12, .handles = { cd.handle }, .pitches = { 64, 64 } } },
		{ "NV12 chroma pitch 63", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_NV12, .handles = { cd.handle, cd.handle }, .pitches = { 64, 63 } } },
		{ "NV12", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_NV12, .handles = { cd.handle, cd.handle }, .pitches = { 64, 64 } } },
		{ "RGB565", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_RGB565, .handles = { cd.handle }, .pitches = { 128 } } },
		{ "unknown handle", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { 9999 }, .pitches = { 256 } } },
		{ "junk in plane 1", { .width = 64, .height = 64, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { cd.handle, 7 }, .pitches = { 256, 3 }, .offsets = { 0, 5 } } },
		{ "larger than its object", { .width = 4096, .height = 4096, .pixel_format = DRM_FORMAT_XRGB8888, .handles = { small.handle }, .pitches = { 16384 } } },
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e = X(DRM_IOCTL_MODE_ADDFB2, &bad[i].f);
		printf("addfb2 %s -> errno=%d fb=%s\n", bad[i].what, e, bad[i].f.fb_id ? "new" : "0");
		if (!e) {
			X(DRM_IOCTL_MODE_RMFB, &bad[i].f.fb_id);
		}
	}
	uint32_t fb1 = addfb(cd.handle, w, h, DRM_FORMAT_XRGB8888, cd.pitch);
	uint32_t fb2 = addfb(cd2.handle, w, h, DRM_FORMAT_XRGB8888, cd2.pitch);
	uint32_t fbA = addfb(cd2.handle, w, h, DRM_FORMAT_ARGB8888, cd2.pitch);
	uint32_t fbS = addfb(small.handle, 64, 64, DRM_FORMAT_XRGB8888, small.pitch);
	printf("addfb2 x4 -> %s %s %s %s ascending=%d\n", fb1 ? "new" : "0", fb2 ? "new" : "0", fbA ? "new" : "0",
	       fbS ? "new" : "0", fb1 < fb2 && fb2 < fbA && fbA < fbS);
	uint32_t fbs[16];
	struct drm_mode_card_res res = { .fb_id_ptr = (uintptr_t)fbs, .count_fbs = 16 };
	X(DRM_IOCTL_MODE_GETRESOURCES, &res);
	printf("getresources fbs=%u newest first=%d\n", res.count_fbs, res.count_fbs == 4 && fbs[0] == fbS && fbs[3] == fb1);
	int fd2 = open("/dev/dri/card0", O_RDWR);
	printf("rmfb from another file -> errno=%d\n", (errno = 0, ioctl(fd2, DRM_IOCTL_MODE_RMFB, &fb1) < 0 ? errno : 0));
	struct drm_mode_card_res res2 = { 0 };
	ioctl(fd2, DRM_IOCTL_MODE_GETRESOURCES, &res2);
	printf("getresources on another file fbs=%u\n", res2.count_fbs);

	/* Atomic: refused before the cap, then the ioctl's own checks. */
	printf("atomic without the cap -> errno=%d\n", one(CRTC, P_ACTIVE, 0, 0));
	cap.capability = DRM_CLIENT_CAP_ATOMIC;
	X(DRM_IOCTL_SET_CLIENT_CAP, &cap);
	printf("atomic on a second file -> errno=%d\n", (errno = 0, ioctl(fd2, DRM_IOCTL_MODE_ATOMIC, &(struct drm_mode_atomic){0}) < 0 ? errno : 0));
	struct drm_mode_atomic a0 = { .flags = 0x800 };
	printf("atomic flags 0x800 -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a0));
	struct drm_mode_atomic a1 = { .reserved = 1 };
	printf("atomic reserved -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a1));
	struct drm_mode_atomic a2 = { .flags = DRM_MODE_PAGE_FLIP_ASYNC };
	printf("atomic async -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a2));
	struct drm_mode_atomic a3 = { .flags = DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_PAGE_FLIP_EVENT };
	printf("atomic test-only with event -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a3));
	struct drm_mode_atomic a4 = { 0 };
	printf("atomic empty -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a4));
	struct drm_mode_atomic a5 = { .flags = DRM_MODE_PAGE_FLIP_EVENT };
	printf("atomic empty with event -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a5));
	struct drm_mode_atomic a6 = { .count_objs = 1, .objs_ptr = BAD };
	printf("atomic bad objs ptr -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a6));
	uint32_t o1 = CRTC;
	struct drm_mode_atomic a7 = { .count_objs = 1, .objs_ptr = (uintptr_t)&o1, .count_props_ptr = BAD };
	printf("atomic bad counts ptr -> errno=%d\n", X(DRM_IOCTL_MODE_ATOMIC, &a7));
	printf("atomic unknown object -> errno=%d\n", one(9999, P_ACTIVE, 0, 0));
	printf("atomic on a framebuffer -> errno=%d\n", one(fb1, P_ACTIVE, 0, 0));
	printf("atomic on an encoder -> errno=%d\n", one(ENC, P_ACTIVE, 0, 0));
	printf("atomic on a property -> errno=%d\n", one(P_ACTIVE, P_ACTIVE, 0, 0));
	printf("atomic property not on the object -> errno=%d\n", one(CRTC, P_FB_ID, 0, 0));
	printf("atomic immutable type -> errno=%d\n", one(PRIMARY, P_TYPE, 1, 0));
	printf("atomic FB_ID unknown -> errno=%d\n", one(PRIMARY, P_FB_ID, 9999, 0));
	printf("atomic FB_ID a crtc -> errno=%d\n", one(PRIMARY, P_FB_ID, CRTC, 0));
	printf("atomic CRTC_ID a plane -> errno=%d\n", one(PRIMARY, P_CRTC_ID, PRIMARY, 0));
	printf("atomic SRC_X 2^32 -> errno=%d\n", one(PRIMARY, P_SRC_X, 1ull << 32, 0));
	printf("atomic CRTC_X -2^31-1 -> errno=%d\n", one(PRIMARY, P_CRTC_X, (uint64_t)(-2147483649ll), 0));
	printf("atomic IN_FENCE_FD -2 -> errno=%d\n", one(PRIMARY, P_IN_FENCE_FD, (uint64_t)-2ll, 0));
	printf("atomic IN_FENCE_FD 99 -> errno=%d\n", one(PRIMARY, P_IN_FENCE_FD, 99, 0));
	printf("atomic IN_FENCE_FD card0 -> errno=%d\n", one(PRIMARY, P_IN_FENCE_FD, fd, 0));
	printf("atomic MODE_ID unknown -> errno=%d\n", one(CRTC, P_MODE_ID, 9999, 0));
	printf("atomic MODE_ID short blob -> errno=%d\n", one(CRTC, P_MODE_ID, short_blob, 0));
	printf("atomic MODE_ID clock 0 -> errno=%d\n", one(CRTC, P_MODE_ID, clock0_blob, 0));
	printf("atomic MODE_ID hsync before hdisplay -> errno=%d\n", one(CRTC, P_MODE_ID, hbad_blob, 0));
	printf("atomic MODE_ID edid blob -> errno=%d\n", one(CRTC, P_MODE_ID, EDID_BLOB, 0));
	printf("atomic DPMS -> errno=%d\n", one(CONN, P_DPMS, 0, 0));
	printf("atomic OUT_FENCE_PTR bad -> errno=%d\n", one(CRTC, P_OUT_FENCE_PTR, BAD, 0));
	printf("atomic ACTIVE 2 -> errno=%d\n", one(CRTC, P_ACTIVE, 2, 0));

	/* Take the CRTC from fbcon. */
	struct req off = { 0 };
	add(&off, CRTC, P_ACTIVE, 0);
	add(&off, CRTC, P_MODE_ID, 0);
	add(&off, CONN, P_CRTC_ID, 0);
	add(&off, PRIMARY, P_FB_ID, 0);
	add(&off, PRIMARY, P_CRTC_ID, 0);
	printf("atomic off without allow-modeset -> errno=%d\n", commit(&off, 0, 0));
	printf("atomic off -> errno=%d\n", commit(&off, DRM_MODE_ATOMIC_ALLOW_MODESET, 0));
	printf("atomic off again with event -> errno=%d\n", commit(&off, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_PAGE_FLIP_EVENT, 0));

	/* Checks of a modeset. */
	struct req m = { 0 };
	add(&m, CRTC, P_ACTIVE, 1);
	printf("atomic active without mode -> errno=%d\n", commit(&m, DRM_MODE_ATOMIC_ALLOW_MODESET, 0));
	add(&m, CRTC, P_MODE_ID, mode_blob);
	printf("atomic mode without connector -> errno=%d\n", commit(&m, DRM_MODE_ATOMIC_ALLOW_MODESET, 0));
	add(&m, CONN, P_CRTC_ID, CRTC);
	printf("atomic mode, no plane, test-only -> errno=%d\n", commit(&m, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	printf("atomic mode without allow-modeset -> errno=%d\n", commit(&m, DRM_MODE_ATOMIC_TEST_ONLY, 0));
	struct req pl = m;
	add(&pl, PRIMARY, P_FB_ID, fb1);
	printf("atomic fb without crtc -> errno=%d\n", commit(&pl, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	add(&pl, PRIMARY, P_CRTC_ID, CRTC);
	add(&pl, PRIMARY, P_SRC_W, (uint64_t)w << 16);
	add(&pl, PRIMARY, P_SRC_H, (uint64_t)h << 16);
	add(&pl, PRIMARY, P_CRTC_W, w);
	add(&pl, PRIMARY, P_CRTC_H, h);
	printf("atomic full test-only -> errno=%d\n", commit(&pl, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	struct req t;
	t = pl; add(&t, PRIMARY, P_CRTC_W, w - 1); add(&t, PRIMARY, P_SRC_W, (uint64_t)(w - 1) << 16);
	printf("atomic plane not covering -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, PRIMARY, P_SRC_W, (uint64_t)(w / 2) << 16);
	printf("atomic scaled -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, PRIMARY, P_SRC_X, 1 << 16);
	printf("atomic src outside fb -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, PRIMARY, P_CRTC_W, 0x7fffffff); add(&t, PRIMARY, P_CRTC_X, 1);
	printf("atomic crtc_x+w overflow -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, PRIMARY, P_FB_ID, fbA);
	printf("atomic ARGB on primary -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, CURSOR, P_FB_ID, fbS);
	printf("atomic cursor fb without crtc -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, CURSOR, P_FB_ID, fbS); add(&t, CURSOR, P_CRTC_ID, CRTC);
	add(&t, CURSOR, P_SRC_W, 64 << 16); add(&t, CURSOR, P_SRC_H, 64 << 16); add(&t, CURSOR, P_CRTC_W, 64); add(&t, CURSOR, P_CRTC_H, 64);
	printf("atomic XRGB on cursor -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	t = pl; add(&t, PRIMARY, P_FB_ID, fbS); add(&t, PRIMARY, P_SRC_W, 64 << 16); add(&t, PRIMARY, P_SRC_H, 64 << 16);
	add(&t, PRIMARY, P_CRTC_W, 64); add(&t, PRIMARY, P_CRTC_H, 64);
	printf("atomic small primary -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	uint32_t clips[] = { 0, 0, 8, 8 };
	struct drm_mode_create_blob dc = { .data = (uintptr_t)clips, .length = 12 };
	X(DRM_IOCTL_MODE_CREATEPROPBLOB, &dc);
	t = pl; add(&t, PRIMARY, P_DAMAGE, dc.blob_id);
	printf("atomic damage blob of 12 bytes -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));
	uint32_t clips2[] = { 8, 0, 8, 8 };
	struct drm_mode_create_blob dc2 = { .data = (uintptr_t)clips2, .length = 16 };
	X(DRM_IOCTL_MODE_CREATEPROPBLOB, &dc2);
	t = pl; add(&t, PRIMARY, P_DAMAGE, dc2.blob_id);
	printf("atomic empty damage clip -> errno=%d\n", commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_ATOMIC_TEST_ONLY, 0));

	/* The modeset, blocking, with an out-fence and an event. */
	int32_t out_fd = 77;
	t = pl; add(&t, CRTC, P_OUT_FENCE_PTR, (uintptr_t)&out_fd);
	e = commit(&t, DRM_MODE_ATOMIC_ALLOW_MODESET | DRM_MODE_PAGE_FLIP_EVENT, 42);
	struct pollfd pf = { .fd = out_fd, .events = POLLIN };
	printf("atomic modeset -> errno=%d out_fd=%s signalled=%d\n", e, out_fd >= 0 ? "valid" : "-1",
	       out_fd >= 0 ? poll(&pf, 1, 1000) : -1);
	read_events("modeset events");
	struct drm_mode_crtc gcr = { .crtc_id = CRTC };
	X(DRM_IOCTL_MODE_GETCRTC, &gcr);
	printf("getcrtc -> fb=%s valid=%u mode='%s' x=%u y=%u\n", gcr.fb_id == fb1 ? "fb1" : "?", gcr.mode_valid, gcr.mode.name, gcr.x, gcr.y);
	struct drm_mode_get_plane gp = { .plane_id = PRIMARY };
	X(DRM_IOCTL_MODE_GETPLANE, &gp);
	printf("getplane -> crtc=%u fb=%s\n", gp.crtc_id, gp.fb_id == fb1 ? "fb1" : "?");
	struct drm_mode_get_encoder ge = { .encoder_id = ENC };
	X(DRM_IOCTL_MODE_GETENCODER, &ge);
	struct drm_mode_get_connector gc5 = { .connector_id = CONN };
	X(DRM_IOCTL_MODE_GETCONNECTOR, &gc5);
	printf("getencoder -> crtc=%u; getconnector -> encoder=%u\n", ge.crtc_id, gc5.encoder_id);
	uint32_t cprops[8];
	uint64_t cvals[8];
	struct drm_mode_obj_get_properties op = { .props_ptr = (uintptr_t)cprops, .prop_values_ptr = (uintptr_t)cvals,
		.count_props = 8, .obj_id = CRTC, .obj_type = DRM_MODE_OBJECT_CRTC };
	X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("crtc props -> ACTIVE=%llu MODE_ID=%s OUT_FENCE_PTR=%llu\n", (unsigned long long)cvals[0],
	       cvals[1] == mode_blob ? "mode_blob" : "?", (unsigned long long)cvals[2]);
	struct drm_mode_obj_get_properties op2 = { .props_ptr = (uintptr_t)cprops, .prop_values_ptr = (uintptr_t)cvals,
		.count_props = 8, .obj_id = CONN, .obj_type = DRM_MODE_OBJECT_CONNECTOR };
	X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op2);
	printf("connector props -> DPMS=%llu CRTC_ID=%llu\n", (unsigned long long)cvals[0], (unsigned long long)cvals[4]);
	struct drm_mode_destroy_blob dmb = { mode_blob };
	printf("destroypropblob in use -> errno=%d\n", X(DRM_IOCTL_MODE_DESTROYPROPBLOB, &dmb));
	X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("crtc MODE_ID after destroy -> %s\n", cvals[1] == mode_blob ? "mode_blob" : "?");
	printf("destroypropblob again -> errno=%d\n", X(DRM_IOCTL_MODE_DESTROYPROPBLOB, &dmb));

	/* Flips. */
	struct drm_mode_crtc_page_flip_target pf0 = { .crtc_id = CRTC, .fb_id = fb2, .flags = 0x10 };
	printf("page_flip flags 0x10 -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.flags = DRM_MODE_PAGE_FLIP_TARGET;
	printf("page_flip both targets -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.flags = DRM_MODE_PAGE_FLIP_ASYNC;
	printf("page_flip async -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.flags = DRM_MODE_PAGE_FLIP_TARGET_ABSOLUTE;
	pf0.crtc_id = 9999;
	printf("page_flip target, unknown crtc -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.crtc_id = CRTC;
	printf("page_flip target -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.flags = 0;
	pf0.sequence = 5;
	printf("page_flip sequence 5 -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	read_events("after sequence 5");
	pf0.sequence = 0;
	pf0.fb_id = 9999;
	printf("page_flip unknown fb -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.fb_id = fbA;
	printf("page_flip other format -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.fb_id = fbS;
	printf("page_flip small fb -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	pf0.crtc_id = PRIMARY;
	printf("page_flip on a plane -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf0));
	printf("page_flip on a second file -> errno=%d\n", (errno = 0, ioctl(fd2, DRM_IOCTL_MODE_PAGE_FLIP, &pf0) < 0 ? errno : 0));
	struct drm_mode_crtc_page_flip_target pf1 = { .crtc_id = CRTC, .fb_id = fb2, .flags = DRM_MODE_PAGE_FLIP_EVENT, .user_data = 7 };
	printf("page_flip -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf1));
	read_events("flip events");
	X(DRM_IOCTL_MODE_GETCRTC, &gcr);
	printf("getcrtc after flip -> fb=%s\n", gcr.fb_id == fb2 ? "fb2" : "?");
	uint8_t tiny[4];
	pf1.fb_id = fb1;
	X(DRM_IOCTL_MODE_PAGE_FLIP, &pf1);
	usleep(200000);
	printf("read 4 bytes -> %zd\n", read(fd, tiny, sizeof tiny));
	read_events("then");

	/* A nonblocking atomic flip with damage. */
	uint32_t clips3[] = { 0, 0, 16, 16 };
	struct drm_mode_create_blob dc3 = { .data = (uintptr_t)clips3, .length = 16 };
	X(DRM_IOCTL_MODE_CREATEPROPBLOB, &dc3);
	struct req fl = { 0 };
	add(&fl, PRIMARY, P_FB_ID, fb2);
	add(&fl, PRIMARY, P_DAMAGE, dc3.blob_id);
	printf("atomic flip with damage -> errno=%d\n", commit(&fl, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 9));
	read_events("atomic flip events");

	/* Removing the framebuffer on screen turns the CRTC off. */
	printf("rmfb on screen -> errno=%d\n", X(DRM_IOCTL_MODE_RMFB, &fb2));
	X(DRM_IOCTL_MODE_GETCRTC, &gcr);
	X(DRM_IOCTL_MODE_GETPLANE, &gp);
	X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("after rmfb -> crtc fb=%u valid=%u plane crtc=%u fb=%u ACTIVE=%llu MODE_ID=%s\n", gcr.fb_id, gcr.mode_valid,
	       gp.crtc_id, gp.fb_id, (unsigned long long)cvals[0], cvals[1] ? "set" : "0");
	pf1.fb_id = fb1;
	printf("page_flip with the crtc off -> errno=%d\n", X(DRM_IOCTL_MODE_PAGE_FLIP, &pf1));
	X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op2);
	printf("connector props -> DPMS=%llu CRTC_ID=%llu\n", (unsigned long long)cvals[0], (unsigned long long)cvals[4]);
	return 0;
}
