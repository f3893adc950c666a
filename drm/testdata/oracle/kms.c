/*
 * What Linux 6.12's virtio_gpu shows a KMS client on card0, under QEMU 7.2
 * with an EDID-capable virtio-gpu-pci and fbcon holding the CRTC: bus id,
 * object ids, connector and modes, planes and their properties, dumb
 * buffers and framebuffers. The reference for fencelab's KMS subset
 * (issue 4); today only GET_UNIQUE is replayed (TestOracleGetUnique).
 *
 *   gcc -static -O2 -Wall -I/usr/include/libdrm -o /tmp/kms kms.c
 *   ../shared/oracle/run.sh /tmp/kms | grep -v '^oracle:' > kms.linux.txt
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <drm.h>
#include <drm_mode.h>
#include <drm_fourcc.h>

#ifndef DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT /* libdrm headers older than Linux 6.8 */
#define DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT 6
#endif

#define X(req, arg) (errno = 0, ioctl(fd, req, arg) < 0 ? errno : 0)

int main(void)
{
	int fd = open("/dev/dri/card0", O_RDWR);
	printf("open card0 -> %s\n", fd >= 0 ? "valid" : "-1");
	char ubuf[64] = {0};
	struct drm_unique u = { .unique_len = sizeof ubuf, .unique = ubuf };
	int e = X(DRM_IOCTL_GET_UNIQUE, &u);
	printf("get_unique -> errno=%d len=%zu '%s'\n", e, (size_t)u.unique_len, ubuf);
	struct drm_set_version sv = { 1, 4, -1, -1 };
	e = X(DRM_IOCTL_SET_VERSION, &sv);
	printf("set_version 1.4 -> errno=%d back %d.%d %d.%d\n", e, sv.drm_di_major, sv.drm_di_minor, sv.drm_dd_major, sv.drm_dd_minor);
	memset(ubuf, 0, sizeof ubuf);
	u.unique_len = sizeof ubuf;
	e = X(DRM_IOCTL_GET_UNIQUE, &u);
	printf("get_unique after -> errno=%d len=%zu '%s'\n", e, (size_t)u.unique_len, ubuf);

	uint32_t fbs[8], crtcs[8], conns[8], encs[8];
	struct drm_mode_card_res r = {0};
	e = X(DRM_IOCTL_MODE_GETRESOURCES, &r);
	printf("getresources(count) -> errno=%d fbs=%u crtcs=%u conns=%u encs=%u min=%ux%u max=%ux%u\n", e,
	       r.count_fbs, r.count_crtcs, r.count_connectors, r.count_encoders, r.min_width, r.min_height, r.max_width, r.max_height);
	r.fb_id_ptr = (uintptr_t)fbs; r.crtc_id_ptr = (uintptr_t)crtcs; r.connector_id_ptr = (uintptr_t)conns; r.encoder_id_ptr = (uintptr_t)encs;
	r.count_fbs = 8; r.count_crtcs = 8; r.count_connectors = 8; r.count_encoders = 8;
	e = X(DRM_IOCTL_MODE_GETRESOURCES, &r);
	printf("getresources -> errno=%d fbs=%u crtcs=%u conns=%u encs=%u\n", e, r.count_fbs, r.count_crtcs, r.count_connectors, r.count_encoders);
	for (unsigned i = 0; i < r.count_crtcs && i < 8; i++) printf("  crtc %u\n", crtcs[i]);
	for (unsigned i = 0; i < r.count_connectors && i < 8; i++) printf("  connector %u\n", conns[i]);
	for (unsigned i = 0; i < r.count_encoders && i < 8; i++) printf("  encoder %u\n", encs[i]);
	/* too-small arrays */
	struct drm_mode_card_res r2 = r; r2.count_crtcs = 0; r2.count_connectors = 0; r2.count_encoders = 0;
	r2.count_fbs = 0;
	e = X(DRM_IOCTL_MODE_GETRESOURCES, &r2);
	printf("getresources zero counts -> errno=%d\n", e);
	r2 = r; r2.crtc_id_ptr = 8; r2.count_crtcs = 1;
	e = X(DRM_IOCTL_MODE_GETRESOURCES, &r2);
	printf("getresources bad ptr -> errno=%d\n", e);

	struct drm_mode_modeinfo modes[32];
	uint32_t props[16]; uint64_t vals[16]; uint32_t cencs[4];
	struct drm_mode_get_connector c = { .connector_id = conns[0] };
	e = X(DRM_IOCTL_MODE_GETCONNECTOR, &c);
	printf("getconnector(count) -> errno=%d enc_id=%u type=%u type_id=%u conn=%u mm=%ux%u subpixel=%u modes=%u props=%u encs=%u\n",
	       e, c.encoder_id, c.connector_type, c.connector_type_id, c.connection, c.mm_width, c.mm_height, c.subpixel,
	       c.count_modes, c.count_props, c.count_encoders);
	c.modes_ptr = (uintptr_t)modes; c.count_modes = 32; c.props_ptr = (uintptr_t)props; c.prop_values_ptr = (uintptr_t)vals;
	c.count_props = 16; c.encoders_ptr = (uintptr_t)cencs; c.count_encoders = 4;
	e = X(DRM_IOCTL_MODE_GETCONNECTOR, &c);
	printf("getconnector -> errno=%d modes=%u props=%u encs=%u\n", e, c.count_modes, c.count_props, c.count_encoders);
	for (unsigned i = 0; i < c.count_modes && i < 32; i++) {
		struct drm_mode_modeinfo *m = &modes[i];
		printf("  mode '%s' clock=%u h=%u/%u/%u/%u v=%u/%u/%u/%u vrefresh=%u flags=%#x type=%#x\n", m->name, m->clock,
		       m->hdisplay, m->hsync_start, m->hsync_end, m->htotal, m->vdisplay, m->vsync_start, m->vsync_end, m->vtotal,
		       m->vrefresh, m->flags, m->type);
	}
	for (unsigned i = 0; i < c.count_props && i < 16; i++) {
		struct drm_mode_get_property p = { .prop_id = props[i] };
		X(DRM_IOCTL_MODE_GETPROPERTY, &p);
		printf("  prop %u '%s' flags=%#x value=%llu\n", props[i], p.name, p.flags, (unsigned long long)vals[i]);
	}
	for (unsigned i = 0; i < c.count_encoders && i < 4; i++) printf("  conn encoder %u\n", cencs[i]);
	c.connector_id = 9999;
	printf("getconnector unknown -> errno=%d\n", X(DRM_IOCTL_MODE_GETCONNECTOR, &c));

	struct drm_mode_get_encoder en = { .encoder_id = encs[0] };
	e = X(DRM_IOCTL_MODE_GETENCODER, &en);
	printf("getencoder -> errno=%d type=%u crtc=%u possible_crtcs=%#x possible_clones=%#x\n", e, en.encoder_type, en.crtc_id,
	       en.possible_crtcs, en.possible_clones);

	struct drm_mode_crtc cr = { .crtc_id = crtcs[0] };
	e = X(DRM_IOCTL_MODE_GETCRTC, &cr);
	printf("getcrtc -> errno=%d fb=%u x=%u y=%u gamma=%u valid=%u mode='%s'\n", e, cr.fb_id, cr.x, cr.y, cr.gamma_size, cr.mode_valid, cr.mode.name);
	cr.crtc_id = 9999;
	printf("getcrtc unknown -> errno=%d\n", X(DRM_IOCTL_MODE_GETCRTC, &cr));

	uint32_t planes[8];
	struct drm_mode_get_plane_res pr = { .plane_id_ptr = (uintptr_t)planes, .count_planes = 8 };
	e = X(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
	printf("getplaneresources (no universal) -> errno=%d count=%u\n", e, pr.count_planes);
	struct drm_set_client_cap bad[] = { { 0, 1 }, { 99, 1 }, { DRM_CLIENT_CAP_UNIVERSAL_PLANES, 2 },
		{ DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 1 }, { DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT, 1 },
		{ DRM_CLIENT_CAP_STEREO_3D, 1 }, { DRM_CLIENT_CAP_ASPECT_RATIO, 1 } };
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		printf("set_client_cap %llu=%llu -> errno=%d\n", (unsigned long long)bad[i].capability,
		       (unsigned long long)bad[i].value, X(DRM_IOCTL_SET_CLIENT_CAP, &bad[i]));
	struct drm_mode_get_encoder en2 = { .encoder_id = 9999 };
	printf("getencoder unknown -> errno=%d\n", X(DRM_IOCTL_MODE_GETENCODER, &en2));
	en2.encoder_id = crtcs[0];
	printf("getencoder on a crtc id -> errno=%d\n", X(DRM_IOCTL_MODE_GETENCODER, &en2));
	struct drm_mode_get_plane gp0 = { .plane_id = 9999 };
	printf("getplane unknown -> errno=%d\n", X(DRM_IOCTL_MODE_GETPLANE, &gp0));
	struct drm_set_client_cap cc = { DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1 };
	printf("set universal planes -> errno=%d\n", X(DRM_IOCTL_SET_CLIENT_CAP, &cc));
	pr.count_planes = 8;
	e = X(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
	printf("getplaneresources -> errno=%d count=%u\n", e, pr.count_planes);
	for (unsigned i = 0; i < pr.count_planes && i < 8; i++) {
		uint32_t fmts[32];
		struct drm_mode_get_plane p = { .plane_id = planes[i], .format_type_ptr = (uintptr_t)fmts, .count_format_types = 32 };
		e = X(DRM_IOCTL_MODE_GETPLANE, &p);
		printf("  plane %u -> errno=%d crtc=%u fb=%u possible_crtcs=%#x gamma=%u formats=%u:", planes[i], e, p.crtc_id, p.fb_id,
		       p.possible_crtcs, p.gamma_size, p.count_format_types);
		for (unsigned j = 0; j < p.count_format_types && j < 32; j++) printf(" %.4s", (char *)&fmts[j]);
		printf("\n");
		struct drm_mode_obj_get_properties op = { .props_ptr = (uintptr_t)props, .prop_values_ptr = (uintptr_t)vals,
			.count_props = 16, .obj_id = planes[i], .obj_type = DRM_MODE_OBJECT_PLANE };
		e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
		printf("  plane props -> errno=%d count=%u\n", e, op.count_props);
		for (unsigned j = 0; j < op.count_props && j < 16; j++) {
			struct drm_mode_get_property gp = { .prop_id = props[j] };
			X(DRM_IOCTL_MODE_GETPROPERTY, &gp);
			printf("    prop %u '%s' flags=%#x value=%llu\n", props[j], gp.name, gp.flags, (unsigned long long)vals[j]);
		}
	}
	struct drm_mode_obj_get_properties op = { .props_ptr = (uintptr_t)props, .prop_values_ptr = (uintptr_t)vals,
		.count_props = 16, .obj_id = crtcs[0], .obj_type = DRM_MODE_OBJECT_CRTC };
	e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("crtc props (no atomic cap) -> errno=%d count=%u\n", e, op.count_props);
	cc.capability = DRM_CLIENT_CAP_ATOMIC;
	printf("set atomic -> errno=%d\n", X(DRM_IOCTL_SET_CLIENT_CAP, &cc));
	pr.count_planes = 8;
	e = X(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
	printf("getplaneresources atomic -> errno=%d count=%u first=%u\n", e, pr.count_planes, planes[0]);
	struct drm_set_client_cap hs = { DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT, 1 };
	printf("set cursor hotspot -> errno=%d\n", X(DRM_IOCTL_SET_CLIENT_CAP, &hs));
	pr.count_planes = 8;
	e = X(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
	printf("getplaneresources hotspot -> errno=%d count=%u\n", e, pr.count_planes);
	pr.count_planes = 1; pr.plane_id_ptr = 8;
	printf("getplaneresources bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr));
	pr.count_planes = 0;
	e = X(DRM_IOCTL_MODE_GETPLANERESOURCES, &pr);
	printf("getplaneresources bad ptr count 0 -> errno=%d count=%u\n", e, pr.count_planes);
	{
		uint32_t fm[1];
		struct drm_mode_get_plane p = { .plane_id = planes[0], .format_type_ptr = (uintptr_t)fm, .count_format_types = 0 };
		e = X(DRM_IOCTL_MODE_GETPLANE, &p);
		printf("getplane formats count 0 -> errno=%d count=%u\n", e, p.count_format_types);
		p.count_format_types = 1; p.format_type_ptr = 8;
		printf("getplane formats bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_GETPLANE, &p));
	}
	{
		int rfd = open("/dev/dri/renderD128", O_RDWR);
		struct drm_mode_card_res rr = {0};
		printf("getresources on render -> errno=%d\n", (errno = 0, ioctl(rfd, DRM_IOCTL_MODE_GETRESOURCES, &rr) < 0 ? errno : 0));
		printf("set_client_cap on render -> errno=%d\n", (errno = 0, ioctl(rfd, DRM_IOCTL_SET_CLIENT_CAP, &cc) < 0 ? errno : 0));
	}
	op.count_props = 16;
	e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("crtc props -> errno=%d count=%u\n", e, op.count_props);
	for (unsigned j = 0; j < op.count_props && j < 16; j++) {
		struct drm_mode_get_property gp = { .prop_id = props[j] };
		X(DRM_IOCTL_MODE_GETPROPERTY, &gp);
		printf("    prop %u '%s' flags=%#x value=%llu\n", props[j], gp.name, gp.flags, (unsigned long long)vals[j]);
	}
	struct drm_mode_create_dumb cd = { .height = 480, .width = 640, .bpp = 32 };
	e = X(DRM_IOCTL_MODE_CREATE_DUMB, &cd);
	printf("create_dumb 640x480x32 -> errno=%d handle=%u pitch=%u size=%llu\n", e, cd.handle, cd.pitch, (unsigned long long)cd.size);
	struct drm_mode_map_dumb md = { .handle = cd.handle };
	e = X(DRM_IOCTL_MODE_MAP_DUMB, &md);
	printf("map_dumb -> errno=%d offset_nonzero=%d\n", e, md.offset != 0);
	struct drm_mode_create_dumb cd2 = { .height = 480, .width = 640, .bpp = 24 };
	printf("create_dumb bpp 24 -> errno=%d\n", X(DRM_IOCTL_MODE_CREATE_DUMB, &cd2));
	{
		struct drm_mode_create_dumb d = { .height = 3, .width = 5, .bpp = 24, .handle = 7, .pitch = 7, .size = 7 };
		e = X(DRM_IOCTL_MODE_CREATE_DUMB, &d);
		printf("create_dumb 5x3x24 -> errno=%d handle=%u pitch=%u size=%llu\n", e, d.handle, d.pitch, (unsigned long long)d.size);
		struct drm_mode_create_dumb z = { .height = 3, .width = 0, .bpp = 32, .size = 7 };
		e = X(DRM_IOCTL_MODE_CREATE_DUMB, &z);
		printf("create_dumb width 0 -> errno=%d size=%llu\n", e, (unsigned long long)z.size);
		struct drm_mode_create_dumb h = { .height = 2, .width = 0x40000000, .bpp = 32 };
		printf("create_dumb stride overflow -> errno=%d\n", X(DRM_IOCTL_MODE_CREATE_DUMB, &h));
		struct drm_mode_create_dumb w = { .height = 0x10000, .width = 0x4000, .bpp = 32 };
		printf("create_dumb size overflow -> errno=%d\n", X(DRM_IOCTL_MODE_CREATE_DUMB, &w));
		struct drm_mode_create_dumb s1 = { .height = 1, .width = 1, .bpp = 32, .flags = 0xff };
		e = X(DRM_IOCTL_MODE_CREATE_DUMB, &s1);
		printf("create_dumb 1x1 flags=0xff -> errno=%d pitch=%u size=%llu\n", e, s1.pitch, (unsigned long long)s1.size);
		struct drm_mode_destroy_dumb dd = { 9999 };
		printf("destroy_dumb unknown -> errno=%d\n", X(DRM_IOCTL_MODE_DESTROY_DUMB, &dd));
		dd.handle = s1.handle;
		printf("destroy_dumb -> errno=%d\n", X(DRM_IOCTL_MODE_DESTROY_DUMB, &dd));
		struct drm_mode_map_dumb m2 = { .handle = s1.handle };
		printf("map_dumb destroyed -> errno=%d\n", X(DRM_IOCTL_MODE_MAP_DUMB, &m2));
		struct drm_mode_map_dumb m3 = { .handle = cd.handle, .pad = 1 };
		printf("map_dumb pad=1 -> errno=%d\n", X(DRM_IOCTL_MODE_MAP_DUMB, &m3));
		int rfd = open("/dev/dri/renderD128", O_RDWR);
		struct drm_mode_create_dumb r = { .height = 1, .width = 1, .bpp = 32 };
		printf("create_dumb on render -> errno=%d\n", (errno = 0, ioctl(rfd, DRM_IOCTL_MODE_CREATE_DUMB, &r) < 0 ? errno : 0));
	}
	struct drm_mode_fb_cmd2 f2 = { .width = 640, .height = 480, .pixel_format = DRM_FORMAT_XRGB8888,
		.handles = { cd.handle }, .pitches = { cd.pitch } };
	e = X(DRM_IOCTL_MODE_ADDFB2, &f2);
	printf("addfb2 -> errno=%d fb_id=%u\n", e, f2.fb_id);
	uint32_t fbid = f2.fb_id;
	f2.pixel_format = 0x20203852; /* 'R8  ' */
	printf("addfb2 R8 -> errno=%d\n", X(DRM_IOCTL_MODE_ADDFB2, &f2));
	unsigned int rm = 9999;
	printf("rmfb unknown -> errno=%d\n", X(DRM_IOCTL_MODE_RMFB, &rm));
	printf("rmfb -> errno=%d\n", X(DRM_IOCTL_MODE_RMFB, &fbid));
	{
		/* Turn fbcon's CRTC off (this file is master), then read it back
		 * with a mode full of junk: what does an off CRTC report? */
		struct drm_mode_crtc off = { .crtc_id = crtcs[0] };
		printf("setcrtc off -> errno=%d\n", X(DRM_IOCTL_MODE_SETCRTC, &off));
		struct drm_mode_crtc g;
		memset(&g, 0xaa, sizeof g);
		g.crtc_id = crtcs[0];
		e = X(DRM_IOCTL_MODE_GETCRTC, &g);
		printf("getcrtc off -> errno=%d fb=%u x=%u y=%u gamma=%u valid=%u count_connectors=%#x mode.clock=%#x mode.flags=%#x mode.name[0]=%#x\n",
		       e, g.fb_id, g.x, g.y, g.gamma_size, g.mode_valid, g.count_connectors, g.mode.clock, g.mode.flags,
		       (unsigned char)g.mode.name[0]);
		struct drm_mode_get_plane p = { .plane_id = planes[0] };
		e = X(DRM_IOCTL_MODE_GETPLANE, &p);
		printf("getplane off -> errno=%d crtc=%u fb=%u\n", e, p.crtc_id, p.fb_id);
		struct drm_mode_get_encoder en3 = { .encoder_id = encs[0] };
		e = X(DRM_IOCTL_MODE_GETENCODER, &en3);
		printf("getencoder off -> errno=%d crtc=%u\n", e, en3.crtc_id);
		struct drm_mode_get_connector c2 = { .connector_id = conns[0] };
		e = X(DRM_IOCTL_MODE_GETCONNECTOR, &c2);
		printf("getconnector off -> errno=%d enc_id=%u\n", e, c2.encoder_id);
	}
	return 0;
}
