package drm

import (
	"math"

	"fencelab/device"
	"fencelab/errno"
)

// KMS properties: the 31 standard properties drm_mode_config_init creates
// (ids 1 to 31), each output's cursor HOTSPOT_X and HOTSPOT_Y, and the
// lists attached to planes, CRTCs and connectors, in Linux's order, with
// the values of fencelab's starting state (every CRTC off, every plane
// never used). Read off Linux 6.12 (testdata/oracle/kms_props.*).

// Property flags (drm_mode.h).
const (
	DRM_MODE_PROP_RANGE        = 1 << 1
	DRM_MODE_PROP_IMMUTABLE    = 1 << 2
	DRM_MODE_PROP_ENUM         = 1 << 3
	DRM_MODE_PROP_BLOB         = 1 << 4
	DRM_MODE_PROP_BITMASK      = 1 << 5
	DRM_MODE_PROP_OBJECT       = 1 << 6
	DRM_MODE_PROP_SIGNED_RANGE = 2 << 6
	DRM_MODE_PROP_ATOMIC       = 0x80000000
)

// Mode object types (drm_mode.h).
const (
	DRM_MODE_OBJECT_ANY       = 0
	DRM_MODE_OBJECT_CRTC      = 0xcccccccc
	DRM_MODE_OBJECT_CONNECTOR = 0xc0c0c0c0
	DRM_MODE_OBJECT_ENCODER   = 0xe0e0e0e0
	DRM_MODE_OBJECT_PROPERTY  = 0xb0b0b0b0
	DRM_MODE_OBJECT_FB        = 0xfbfbfbfb
	DRM_MODE_OBJECT_PLANE     = 0xeeeeeeee
)

// property is a struct drm_property: for a range, values are its bounds
// (a signed range's as two's complement); for an object property, the
// object type; for an enum, the enum values, named by enums.
type property struct {
	name   string
	flags  uint32
	values []uint64
	enums  []string
}

func rangeProp(name string, flags uint32, lo, hi uint64) property {
	return property{name, flags | DRM_MODE_PROP_RANGE, []uint64{lo, hi}, nil}
}

func signedProp(name string, flags uint32, lo, hi int64) property {
	return property{name, flags | DRM_MODE_PROP_SIGNED_RANGE, []uint64{uint64(lo), uint64(hi)}, nil}
}

func enumProp(name string, flags uint32, names ...string) property {
	p := property{name: name, flags: flags | DRM_MODE_PROP_ENUM, enums: names}
	for i := range names {
		p.values = append(p.values, uint64(i))
	}
	return p
}

func blobProp(name string, flags uint32) property {
	return property{name, flags | DRM_MODE_PROP_BLOB, nil, nil}
}

func objectProp(name string, objType uint32) property {
	return property{name, DRM_MODE_PROP_ATOMIC | DRM_MODE_PROP_OBJECT, []uint64{uint64(objType)}, nil}
}

// Standard property ids, in drm_mode_config_init's creation order.
const (
	propEDID = 1 + iota
	propDPMS
	propPATH
	propTILE
	propLinkStatus
	propNonDesktop
	propHDROutputMetadata
	propType
	propSrcX
	propSrcY
	propSrcW
	propSrcH
	propCrtcX
	propCrtcY
	propCrtcW
	propCrtcH
	propFbID
	propInFenceFD
	propOutFencePtr
	propCrtcID
	propFbDamageClips
	propActive
	propModeID
	propVRREnabled
	propDegammaLUT
	propDegammaLUTSize
	propCTM
	propGammaLUT
	propGammaLUTSize
	propInFormats
	propSizeHints
	standardProps = propSizeHints
)

const propAtomic = DRM_MODE_PROP_ATOMIC

var standardProperties = [standardProps + 1]property{
	propEDID:              blobProp("EDID", DRM_MODE_PROP_IMMUTABLE),
	propDPMS:              enumProp("DPMS", 0, "On", "Standby", "Suspend", "Off"),
	propPATH:              blobProp("PATH", DRM_MODE_PROP_IMMUTABLE),
	propTILE:              blobProp("TILE", DRM_MODE_PROP_IMMUTABLE),
	propLinkStatus:        enumProp("link-status", 0, "Good", "Bad"),
	propNonDesktop:        rangeProp("non-desktop", DRM_MODE_PROP_IMMUTABLE, 0, 1),
	propHDROutputMetadata: blobProp("HDR_OUTPUT_METADATA", 0),
	propType:              enumProp("type", DRM_MODE_PROP_IMMUTABLE, "Overlay", "Primary", "Cursor"),
	propSrcX:              rangeProp("SRC_X", propAtomic, 0, math.MaxUint32),
	propSrcY:              rangeProp("SRC_Y", propAtomic, 0, math.MaxUint32),
	propSrcW:              rangeProp("SRC_W", propAtomic, 0, math.MaxUint32),
	propSrcH:              rangeProp("SRC_H", propAtomic, 0, math.MaxUint32),
	propCrtcX:             signedProp("CRTC_X", propAtomic, math.MinInt32, math.MaxInt32),
	propCrtcY:             signedProp("CRTC_Y", propAtomic, math.MinInt32, math.MaxInt32),
	propCrtcW:             rangeProp("CRTC_W", propAtomic, 0, math.MaxInt32),
	propCrtcH:             rangeProp("CRTC_H", propAtomic, 0, math.MaxInt32),
	propFbID:              objectProp("FB_ID", DRM_MODE_OBJECT_FB),
	propInFenceFD:         signedProp("IN_FENCE_FD", propAtomic, -1, math.MaxInt32),
	propOutFencePtr:       rangeProp("OUT_FENCE_PTR", propAtomic, 0, math.MaxUint64),
	propCrtcID:            objectProp("CRTC_ID", DRM_MODE_OBJECT_CRTC),
	propFbDamageClips:     blobProp("FB_DAMAGE_CLIPS", propAtomic),
	propActive:            rangeProp("ACTIVE", propAtomic, 0, 1),
	propModeID:            blobProp("MODE_ID", propAtomic),
	propVRREnabled:        rangeProp("VRR_ENABLED", 0, 0, 1),
	propDegammaLUT:        blobProp("DEGAMMA_LUT", 0),
	propDegammaLUTSize:    rangeProp("DEGAMMA_LUT_SIZE", DRM_MODE_PROP_IMMUTABLE, 0, math.MaxUint32),
	propCTM:               blobProp("CTM", 0),
	propGammaLUT:          blobProp("GAMMA_LUT", 0),
	propGammaLUTSize:      rangeProp("GAMMA_LUT_SIZE", DRM_MODE_PROP_IMMUTABLE, 0, math.MaxUint32),
	propInFormats:         blobProp("IN_FORMATS", DRM_MODE_PROP_IMMUTABLE),
	propSizeHints:         blobProp("SIZE_HINTS", DRM_MODE_PROP_IMMUTABLE),
}

// The cursor planes' hotspot properties are created with each cursor
// plane, so they take ids from its output's block.
func (o output) hotspotX() uint32 { return o.id(2) }
func (o output) hotspotY() uint32 { return o.id(3) }

var hotspotX, hotspotY = signedProp("HOTSPOT_X", 0, math.MinInt32, math.MaxInt32),
	signedProp("HOTSPOT_Y", 0, math.MinInt32, math.MaxInt32)

// findProperty is drm_property_find.
func (drv *Driver) findProperty(id uint32) (property, bool) {
	if id >= 1 && id <= standardProps {
		return standardProperties[id], true
	}
	if _, ok := drv.findOutput(id, output.hotspotX); ok {
		return hotspotX, true
	}
	if _, ok := drv.findOutput(id, output.hotspotY); ok {
		return hotspotY, true
	}
	return property{}, false
}

// objectType is the type of mode object id, or 0 if there is none.
func (drv *Driver) objectType(id uint32) uint32 {
	if _, ok := drv.findProperty(id); ok {
		return DRM_MODE_OBJECT_PROPERTY
	}
	for _, k := range []struct {
		which func(output) uint32
		typ   uint32
	}{
		{output.primary, DRM_MODE_OBJECT_PLANE}, {output.cursor, DRM_MODE_OBJECT_PLANE},
		{output.crtc, DRM_MODE_OBJECT_CRTC}, {output.connector, DRM_MODE_OBJECT_CONNECTOR},
		{output.encoder, DRM_MODE_OBJECT_ENCODER},
	} {
		if _, ok := drv.findOutput(id, k.which); ok {
			return k.typ
		}
	}
	return 0
}

// propsOf lists the properties attached to object id, in attachment
// order, with their current values; ok is false for an object that has
// none (encoders, framebuffers, blobs, properties). A plane's IN_FENCE_FD
// and a CRTC's OUT_FENCE_PTR read as -1 and 0 whatever was committed, as
// in Linux; a connector's DPMS is On (0) until a commit routes it, and
// its EDID, present only if the device offers EDIDs, is the blob read at
// probe.
func (drv *Driver) propsOf(id uint32) (ids []uint32, values []uint64, ok bool) {
	k := drv.kms
	k.mu.Lock()
	defer k.mu.Unlock()
	add := func(p uint32, v uint64) { ids, values = append(ids, p), append(values, v) }
	objID := func(o int, which func(output) uint32) uint64 {
		if o < 0 {
			return 0
		}
		return uint64(which(output(o)))
	}
	planeCommon := func(s planeState, typ uint64) {
		add(propType, typ)
		fb := uint64(0)
		if s.fb != nil {
			fb = uint64(s.fb.id)
		}
		add(propFbID, fb)
		add(propInFenceFD, math.MaxUint64)
		add(propCrtcID, objID(s.crtc, output.crtc))
		add(propCrtcX, uint64(int64(s.crtcX)))
		add(propCrtcY, uint64(int64(s.crtcY)))
		add(propCrtcW, uint64(s.crtcW))
		add(propCrtcH, uint64(s.crtcH))
		add(propSrcX, uint64(s.srcX))
		add(propSrcY, uint64(s.srcY))
		add(propSrcW, uint64(s.srcW))
		add(propSrcH, uint64(s.srcH))
	}
	if o, found := drv.findOutput(id, output.primary); found {
		planeCommon(k.cfg.planes[2*o], 1)
		add(propFbDamageClips, 0)
		return ids, values, true
	}
	if o, found := drv.findOutput(id, output.cursor); found {
		s := k.cfg.planes[2*o+1]
		planeCommon(s, 2)
		add(o.hotspotX(), uint64(int64(s.hotX)))
		add(o.hotspotY(), uint64(int64(s.hotY)))
		return ids, values, true
	}
	if o, found := drv.findOutput(id, output.crtc); found {
		s := k.cfg.crtcs[o]
		active, mode, vrr := uint64(0), uint64(0), uint64(0)
		if s.active {
			active = 1
		}
		if s.mode != nil {
			mode = uint64(s.mode.id)
		}
		if s.vrr {
			vrr = 1
		}
		add(propActive, active)
		add(propModeID, mode)
		add(propOutFencePtr, 0)
		add(propVRREnabled, vrr)
		return ids, values, true
	}
	if o, found := drv.findOutput(id, output.connector); found {
		c := k.outs[o]
		add(propDPMS, c.dpms)
		add(propLinkStatus, 0)
		add(propNonDesktop, 0)
		add(propTILE, 0)
		add(propCrtcID, objID(k.cfg.conns[o], output.crtc))
		if drv.gpu.has(device.VIRTIO_GPU_F_EDID) {
			edid := uint64(0)
			if c.edid != nil {
				edid = uint64(c.edid.id)
			}
			add(propEDID, edid)
		}
		return ids, values, true
	}
	return nil, nil, false
}

// Struct sizes.
const (
	objGetPropertiesSize = 32 // struct drm_mode_obj_get_properties
	getPropertySize      = 64 // struct drm_mode_get_property
	propertyEnumSize     = 40 // struct drm_mode_property_enum: u64 value, char name[32]
	propNameLen          = 32
)

// drmModeObjGetProperties is drm_mode_obj_get_properties_ioctl: ENOENT
// for an unknown object or one of another type than asked (0 is any),
// EINVAL for an object without properties; atomic-only properties are
// listed to atomic clients only; ids and values are stored while they
// fit, and count_props set to the full count.
func drmModeObjGetProperties(f *File, t *Task, data []byte) errno.Errno {
	id, typ := le.Uint32(data[20:]), le.Uint32(data[24:])
	found := f.drv.objectType(id)
	if found == 0 || typ != DRM_MODE_OBJECT_ANY && typ != found {
		return errno.ENOENT
	}
	if _, _, ok := f.drv.propsOf(id); !ok {
		return errno.EINVAL
	}
	return f.objectProperties(t, id, le.Uint64(data), le.Uint64(data[8:]), data[16:20])
}

// objectProperties is drm_mode_object_get_properties: the properties of
// object id and their values, stored while they fit in the caller's count
// (read from and written back to count); atomic-only properties are
// listed to atomic clients only.
func (f *File) objectProperties(t *Task, id uint32, propsPtr, valuesPtr uint64, count []byte) errno.Errno {
	ids, values, _ := f.drv.propsOf(id)
	f.kmsMu.Lock()
	isAtomic := f.caps.atomic != 0
	f.kmsMu.Unlock()
	room, n := le.Uint32(count), uint32(0)
	for i, p := range ids {
		prop, _ := f.drv.findProperty(p)
		if prop.flags&DRM_MODE_PROP_ATOMIC != 0 && !isAtomic {
			continue
		}
		if room > n {
			if t.Mem.CopyOut(propsPtr+4*uint64(n), le.AppendUint32(nil, p)) != 0 ||
				t.Mem.CopyOut(valuesPtr+8*uint64(n), le.AppendUint64(nil, values[i])) != 0 {
				return errno.EFAULT
			}
		}
		n++
	}
	le.PutUint32(count, n)
	return 0
}

// drmModeGetProperty is drm_mode_getproperty_ioctl: name and flags; the
// values while they fit, and their count; for an enum or bitmask the
// entries while they fit, and their count. A blob property reports no
// enum entries; any other leaves count_enum_blobs as the caller wrote it.
func drmModeGetProperty(f *File, t *Task, data []byte) errno.Errno {
	p, ok := f.drv.findProperty(le.Uint32(data[16:]))
	if !ok {
		return errno.ENOENT
	}
	name := data[24 : 24+propNameLen]
	clear(name)
	copy(name, p.name)
	le.PutUint32(data[20:], p.flags)
	valuesPtr, enumPtr := le.Uint64(data), le.Uint64(data[8:])
	for i, v := range p.values {
		if uint32(i) < le.Uint32(data[56:]) && t.Mem.CopyOut(valuesPtr+8*uint64(i), le.AppendUint64(nil, v)) != 0 {
			return errno.EFAULT
		}
	}
	le.PutUint32(data[56:], uint32(len(p.values)))
	switch {
	case p.flags&(DRM_MODE_PROP_ENUM|DRM_MODE_PROP_BITMASK) != 0:
		room := le.Uint32(data[60:])
		for i, n := range p.enums {
			if uint32(i) >= room {
				continue
			}
			// Value, then name, as two copies (a fault in the name
			// leaves the value written, as in Linux).
			at := enumPtr + propertyEnumSize*uint64(i)
			name := make([]byte, propNameLen)
			copy(name, n)
			if t.Mem.CopyOut(at, le.AppendUint64(nil, p.values[i])) != 0 || t.Mem.CopyOut(at+8, name) != 0 {
				return errno.EFAULT
			}
		}
		le.PutUint32(data[60:], uint32(len(p.enums)))
	case p.flags&DRM_MODE_PROP_BLOB != 0:
		le.PutUint32(data[60:], 0)
	}
	return 0
}
