package device

// maxDisplaySide is the largest display side an EDID detailed timing can
// describe (12 bits).
const maxDisplaySide = 4095

// makeEDID returns a 128-byte EDID 1.3 base block (VESA E-EDID) describing
// a digital display whose preferred mode is disp at 60 Hz, with reduced
// blanking, named "fencelab". The block is checksummed.
func makeEDID(disp Display) []byte {
	e := make([]byte, 128)
	copy(e, []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00})
	// Manufacturer "FCL": three 5-bit letters, 'A' = 1, big endian.
	id := uint16('F'-'@')<<10 | uint16('C'-'@')<<5 | uint16('L'-'@')
	e[8], e[9] = byte(id>>8), byte(id)
	e[10], e[11] = 0x01, 0x00 // product code
	e[16], e[17] = 0, 2026-1990
	e[18], e[19] = 1, 3 // EDID 1.3
	e[20] = 0x80        // digital input
	// Physical size in cm at 96 dpi.
	wmm, hmm := disp.Width*254/960, disp.Height*254/960
	e[21], e[22] = byte(min(wmm/10, 255)), byte(min(hmm/10, 255))
	e[23] = 120  // gamma 2.2
	e[24] = 0x0a // RGB colour, the first detailed timing is preferred
	// sRGB chromaticity.
	copy(e[25:], []byte{0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54})
	for i := 38; i < 54; i++ {
		e[i] = 0x01 // no standard timings
	}
	detailedTiming(e[54:72], disp, wmm, hmm)
	// Monitor name.
	copy(e[72:], []byte{0, 0, 0, 0xfc, 0})
	copy(e[77:90], []byte("fencelab\n    "))
	// Two dummy descriptors.
	e[93], e[111] = 0x10, 0x10
	var sum byte
	for _, b := range e[:127] {
		sum += b
	}
	e[127] = -sum
	return e
}

// detailedTiming writes an 18-byte detailed timing descriptor for disp at
// 60 Hz with CVT reduced-blanking-like porches.
func detailedTiming(t []byte, disp Display, wmm, hmm uint32) {
	const hblank, hso, hsp, vblank, vso, vsp = 160, 48, 32, 23, 3, 6
	w, h := disp.Width, disp.Height
	clock := (uint64(w) + hblank) * (uint64(h) + vblank) * 60 / 10000 // in 10 kHz units
	t[0], t[1] = byte(clock), byte(clock>>8)
	t[2], t[3], t[4] = byte(w), byte(hblank), byte(w>>8&0xf)<<4|byte(hblank>>8&0xf)
	t[5], t[6], t[7] = byte(h), byte(vblank), byte(h>>8&0xf)<<4|byte(vblank>>8&0xf)
	t[8], t[9] = byte(hso), byte(hsp)
	t[10] = byte(vso&0xf)<<4 | byte(vsp&0xf)
	t[11] = byte(hso>>8&3)<<6 | byte(hsp>>8&3)<<4 | byte(vso>>4&3)<<2 | byte(vsp>>4&3)
	t[12], t[13], t[14] = byte(wmm), byte(hmm), byte(wmm>>8&0xf)<<4|byte(hmm>>8&0xf)
	t[17] = 0x18 // digital separate sync
}
