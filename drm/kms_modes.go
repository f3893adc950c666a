package drm

import (
	"fmt"
	"slices"
)

// Modes without an EDID: what virtio_gpu_conn_get_modes adds when the
// device gives none (drm_add_modes_noedid, then a CVT mode of the
// display's size marked preferred), and the probe helper's ordering.

// dmtModes are the VESA DMT modes drm_add_modes_noedid adds for a
// connector allowed up to 8192×8192: every entry of Linux's drm_dmt_modes
// table that fits and refreshes at 61 Hz or less, in the order the probe
// helper sorts them. Each row is clock (kHz), hdisplay, hsync_start,
// hsync_end, htotal, vdisplay, vsync_start, vsync_end, vtotal, flags, as
// Linux 6.12 reported them (virtio-gpu-pci,edid=off,
// testdata/oracle/noedid_modes.linux.txt).
var dmtModes = [][10]uint32{
	{556744, 4096, 4104, 4136, 4176, 2160, 2208, 2216, 2222, 0x9},
	{556188, 4096, 4104, 4136, 4176, 2160, 2208, 2216, 2222, 0x9},
	{348500, 2560, 2752, 3032, 3504, 1600, 1603, 1609, 1658, 0x6},
	{268500, 2560, 2608, 2640, 2720, 1600, 1603, 1609, 1646, 0x9},
	{234000, 1920, 2048, 2256, 2600, 1440, 1441, 1444, 1500, 0x6},
	{218250, 1856, 1952, 2176, 2528, 1392, 1393, 1396, 1439, 0x6},
	{204750, 1792, 1920, 2120, 2448, 1344, 1345, 1348, 1394, 0x6},
	{162000, 2048, 2074, 2154, 2250, 1152, 1153, 1156, 1200, 0x5},
	{193250, 1920, 2056, 2256, 2592, 1200, 1203, 1209, 1245, 0x6},
	{154000, 1920, 1968, 2000, 2080, 1200, 1203, 1209, 1235, 0x9},
	{148500, 1920, 2008, 2052, 2200, 1080, 1084, 1089, 1125, 0xa},
	{162000, 1600, 1664, 1856, 2160, 1200, 1201, 1204, 1250, 0x5},
	{146250, 1680, 1784, 1960, 2240, 1050, 1053, 1059, 1089, 0x6},
	{119000, 1680, 1728, 1760, 1840, 1050, 1053, 1059, 1080, 0x9},
	{121750, 1400, 1488, 1632, 1864, 1050, 1053, 1057, 1089, 0x6},
	{101000, 1400, 1448, 1480, 1560, 1050, 1053, 1057, 1080, 0x9},
	{108000, 1600, 1624, 1704, 1800, 900, 901, 904, 1000, 0x5},
	{108000, 1280, 1328, 1440, 1688, 1024, 1025, 1028, 1066, 0x5},
	{106500, 1440, 1520, 1672, 1904, 900, 903, 909, 934, 0x6},
	{88750, 1440, 1488, 1520, 1600, 900, 903, 909, 926, 0x9},
	{108000, 1280, 1376, 1488, 1800, 960, 961, 964, 1000, 0x5},
	{85500, 1366, 1436, 1579, 1792, 768, 771, 774, 798, 0x5},
	{72000, 1366, 1380, 1436, 1500, 768, 769, 772, 800, 0x5},
	{85500, 1360, 1424, 1536, 1792, 768, 771, 777, 795, 0x5},
	{83500, 1280, 1352, 1480, 1680, 800, 803, 809, 831, 0x6},
	{71000, 1280, 1328, 1360, 1440, 800, 803, 809, 823, 0x9},
	{79500, 1280, 1344, 1472, 1664, 768, 771, 778, 798, 0x6},
	{68250, 1280, 1328, 1360, 1440, 768, 771, 778, 790, 0x9},
	{74250, 1280, 1390, 1430, 1650, 720, 725, 730, 750, 0x5},
	{65000, 1024, 1048, 1184, 1344, 768, 771, 777, 806, 0xa},
	{40000, 800, 840, 968, 1056, 600, 601, 605, 628, 0x5},
	{36000, 800, 824, 896, 1024, 600, 601, 603, 625, 0x5},
	{33750, 848, 864, 976, 1088, 480, 486, 494, 517, 0x5},
	{25175, 640, 656, 752, 800, 480, 490, 492, 525, 0xa},
}

// newMode builds a struct drm_mode_modeinfo of type typ, named as
// drm_mode_set_name names it, with its refresh rate computed.
func newMode(t [10]uint32, typ uint32) []byte {
	m := make([]byte, drmModeInfoSize)
	le.PutUint32(m, t[0])
	for i, v := range []uint32{t[1], t[2], t[3], t[4], 0, t[5], t[6], t[7], t[8], 0} {
		le.PutUint16(m[4+2*i:], uint16(v))
	}
	le.PutUint32(m[drmModeFlagsOff:], t[9])
	le.PutUint32(m[drmModeTypeOff:], typ)
	le.PutUint32(m[drmModeVrefresOff:], modeVrefresh(m))
	copy(m[drmModeNameOff:drmModeNameOff+drmModeNameLen-1], fmt.Sprintf("%dx%d", t[1], t[5]))
	return m
}

// cvtMode is drm_cvt_mode for a progressive mode of w×h at 60 Hz with
// normal blanking and no margins: VESA CVT in Linux's integer arithmetic
// (HV_FACTOR 1000), widths rounded down to 8 pixels, the vsync width
// chosen by aspect ratio, +vsync −hsync. Its type is PREFERRED alone, as
// virtio_gpu adds it.
func cvtMode(w, h uint32) []byte {
	const (
		hvFactor     = 1000
		granularity  = 8
		minVPorch    = 3
		minVSyncBP   = 550
		hsyncPercent = 8
		mPrime       = 600 * 128 / 256
		cPrime       = (40-20)*128/256 + 20
		rate         = 60
	)
	hd := int64(w - w%granularity)
	vd := int64(h)
	var vsync int64
	switch {
	case h%3 == 0 && h*4/3 == w:
		vsync = 4
	case h%9 == 0 && h*16/9 == w:
		vsync = 5
	case h%10 == 0 && h*16/10 == w:
		vsync = 6
	case h%4 == 0 && h*5/4 == w, h%9 == 0 && h*15/9 == w:
		vsync = 7
	default:
		vsync = 10
	}
	tmp1 := int64(hvFactor*1_000_000 - minVSyncBP*hvFactor*rate)
	tmp2 := (vd + minVPorch) * 2
	hperiod := tmp1 * 2 / (tmp2 * rate)
	syncBP := max(minVSyncBP*hvFactor/hperiod+1, vsync+minVPorch)
	vtotal := vd + syncBP + minVPorch
	hblankPct := cPrime*hvFactor - mPrime*hperiod/1000
	hblankPct = max(hblankPct, 20*hvFactor)
	hblank := hd * hblankPct / (100*hvFactor - hblankPct)
	hblank -= hblank % (2 * granularity)
	htotal := hd + hblank
	hse := hd + hblank/2
	hss := hse - htotal*hsyncPercent/100
	hss += granularity - hss%granularity
	clock := htotal * hvFactor * 1000 / hperiod
	vss := vd + minVPorch
	return newMode([10]uint32{uint32(clock), uint32(hd), uint32(hss), uint32(hse), uint32(htotal),
		uint32(vd), uint32(vss), uint32(vss + vsync), uint32(vtotal), DRM_MODE_FLAG_NHSYNC | DRM_MODE_FLAG_PVSYNC}, DRM_MODE_TYPE_PREFERRED)
}

// noEDIDModes is virtio_gpu_conn_get_modes without an EDID: the DMT modes,
// then a CVT mode of the display's size, preferred; for a display of no
// size, the 1024×768 DMT modes are preferred instead.
func noEDIDModes(width, height uint32) [][]byte {
	var modes [][]byte
	for _, t := range dmtModes {
		typ := uint32(DRM_MODE_TYPE_DRIVER)
		if (width == 0 || height == 0) && t[1] == 1024 && t[5] == 768 {
			typ |= DRM_MODE_TYPE_PREFERRED
		}
		modes = append(modes, newMode(t, typ))
	}
	if width != 0 && height != 0 {
		modes = append(modes, cvtMode(width, height))
	}
	return modes
}

// sortModes is drm_mode_sort: preferred first, then larger, then faster
// refresh, then higher clock; stable otherwise.
func sortModes(modes [][]byte) {
	slices.SortStableFunc(modes, func(a, b []byte) int {
		pa, pb := le.Uint32(a[drmModeTypeOff:])&DRM_MODE_TYPE_PREFERRED, le.Uint32(b[drmModeTypeOff:])&DRM_MODE_TYPE_PREFERRED
		if pa != pb {
			return int(pb) - int(pa)
		}
		area := func(m []byte) int { return int(le.Uint16(m[4:])) * int(le.Uint16(m[14:])) }
		if d := area(b) - area(a); d != 0 {
			return d
		}
		if d := int(modeVrefresh(b)) - int(modeVrefresh(a)); d != 0 {
			return d
		}
		return int(le.Uint32(b)) - int(le.Uint32(a))
	})
}
