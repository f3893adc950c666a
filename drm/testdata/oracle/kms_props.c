/*
 * Every property Linux 6.12's virtio_gpu shows an atomic client on card0:
 * for each plane, CRTC and connector, OBJ_GETPROPERTIES, then GETPROPERTY
 * on each property with its values and enum names; plus the error paths
 * of both ioctls.
 *
 *   gcc -static -O2 -Wall -I/usr/include/libdrm -o /tmp/props kms_props.c
 *   ../shared/oracle/run.sh /tmp/props | grep -v "^oracle:" > kms_props.linux.txt
 *   ORACLE_GPU_DEVICE=virtio-gpu-pci,edid=off ../shared/oracle/run.sh /tmp/props \
 *     | grep -v "^oracle:" > kms_props_noedid.linux.txt
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <drm.h>
#include <drm_mode.h>

#ifndef DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT
#define DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT 6
#endif

static int fd;
#define X(req, arg) (errno = 0, ioctl(fd, req, arg) < 0 ? errno : 0)

static void prop(uint32_t id, uint64_t value)
{
	struct drm_mode_get_property p = { .prop_id = id };
	int e = X(DRM_IOCTL_MODE_GETPROPERTY, &p);
	printf("    prop %u '%s' -> errno=%d flags=%#x value=%llu values=%u enums=%u", id, p.name, e, p.flags,
	       (unsigned long long)value, p.count_values, p.count_enum_blobs);
	uint64_t vals[64];
	struct drm_mode_property_enum en[64];
	if (p.count_values <= 64 && p.count_enum_blobs <= 64) {
		p.values_ptr = (uintptr_t)vals;
		p.enum_blob_ptr = (uintptr_t)en;
		X(DRM_IOCTL_MODE_GETPROPERTY, &p);
		if (p.flags & DRM_MODE_PROP_ENUM || p.flags & DRM_MODE_PROP_BITMASK)
			for (unsigned i = 0; i < p.count_enum_blobs; i++) printf(" %llu:%s", (unsigned long long)en[i].value, en[i].name);
		else
			for (unsigned i = 0; i < p.count_values; i++) printf(" %lld", (long long)vals[i]);
	}
	printf("\n");
}

static void object(uint32_t id, uint32_t type, const char *what)
{
	uint32_t props[64];
	uint64_t vals[64];
	struct drm_mode_obj_get_properties op = { .props_ptr = (uintptr_t)props, .prop_values_ptr = (uintptr_t)vals,
		.count_props = 64, .obj_id = id, .obj_type = type };
	int e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("%s %u -> errno=%d count=%u\n", what, id, e, op.count_props);
	for (unsigned i = 0; i < op.count_props && i < 64; i++) prop(props[i], vals[i]);
}

int main(void)
{
	fd = open("/dev/dri/card0", O_RDWR);
	struct drm_set_client_cap cc = { DRM_CLIENT_CAP_ATOMIC, 1 };
	printf("set atomic -> errno=%d\n", X(DRM_IOCTL_SET_CLIENT_CAP, &cc));
	struct drm_set_client_cap hs = { DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT, 1 };
	printf("set hotspot -> errno=%d\n", X(DRM_IOCTL_SET_CLIENT_CAP, &hs));
	object(32, DRM_MODE_OBJECT_PLANE, "plane");
	object(33, DRM_MODE_OBJECT_PLANE, "plane");
	object(36, DRM_MODE_OBJECT_CRTC, "crtc");
	object(37, DRM_MODE_OBJECT_CONNECTOR, "connector");
	object(36, DRM_MODE_OBJECT_ANY, "any");
	/* error paths */
	uint32_t props[4];
	uint64_t vals[4];
	struct drm_mode_obj_get_properties op = { .props_ptr = (uintptr_t)props, .prop_values_ptr = (uintptr_t)vals, .count_props = 4 };
	op.obj_id = 36; op.obj_type = DRM_MODE_OBJECT_PLANE;
	printf("obj_getproperties wrong type -> errno=%d\n", X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op));
	op.obj_id = 9999; op.obj_type = DRM_MODE_OBJECT_ANY;
	printf("obj_getproperties unknown -> errno=%d\n", X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op));
	op.obj_id = 38; op.obj_type = DRM_MODE_OBJECT_ENCODER;
	op.count_props = 4;
	int e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("obj_getproperties encoder -> errno=%d count=%u\n", e, op.count_props);
	op.obj_id = 36; op.obj_type = DRM_MODE_OBJECT_CRTC; op.count_props = 1;
	e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("obj_getproperties room 1 -> errno=%d count=%u first=%u\n", e, op.count_props, props[0]);
	op.count_props = 4; op.props_ptr = 8;
	printf("obj_getproperties bad ptr -> errno=%d\n", X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op));
	op.count_props = 0;
	e = X(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &op);
	printf("obj_getproperties bad ptr count 0 -> errno=%d count=%u\n", e, op.count_props);
	struct drm_mode_get_property p = { .prop_id = 9999 };
	printf("getproperty unknown -> errno=%d\n", X(DRM_IOCTL_MODE_GETPROPERTY, &p));
	p.prop_id = 36;
	printf("getproperty on a crtc id -> errno=%d\n", X(DRM_IOCTL_MODE_GETPROPERTY, &p));
	struct drm_mode_get_property q = { .prop_id = 8, .count_enum_blobs = 3, .enum_blob_ptr = 8, .count_values = 3, .values_ptr = 8 };
	printf("getproperty bad ptrs -> errno=%d\n", X(DRM_IOCTL_MODE_GETPROPERTY, &q));
	/* with fbcon's CRTC turned off (this file is master) */
	struct drm_mode_crtc off = { .crtc_id = 36 };
	printf("setcrtc off -> errno=%d\n", X(DRM_IOCTL_MODE_SETCRTC, &off));
	object(32, DRM_MODE_OBJECT_PLANE, "off plane");
	object(36, DRM_MODE_OBJECT_CRTC, "off crtc");
	object(37, DRM_MODE_OBJECT_CONNECTOR, "off connector");
	/* every standard property, attached to an object here or not */
	for (uint32_t id = 1; id < 32; id++) prop(id, 0);
	/* a non-atomic file sees fewer */
	fd = open("/dev/dri/card0", O_RDWR);
	object(32, DRM_MODE_OBJECT_PLANE, "legacy plane");
	object(36, DRM_MODE_OBJECT_CRTC, "legacy crtc");
	return 0;
}
