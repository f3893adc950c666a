package drm

// Vblank reports output out's vblank clock: the time of its next vblank
// at or after t and the period between vblanks, with ok false while the
// output is off (no mode lit) or for an output that does not exist. The
// browser paces the machine by it, one vblank per frame it draws.
func (drv *Driver) Vblank(out int, t int64) (next, period int64, ok bool) {
	k := drv.kms
	if k == nil {
		return 0, 0, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if out < 0 || out >= len(k.outs) || !k.outs[out].vbOn {
		return 0, 0, false
	}
	c := k.outs[out]
	return c.nextVblank(t), c.vbPeriod, true
}
