package fence

import "testing"

func TestSmoke(t *testing.T) {
	f := newDRMFile(t)
	h := f.mustCreate(DRM_SYNCOBJ_CREATE_SIGNALED)
	e, first := f.wait([]uint32{h}, 0, 0)
	check(t, "wait signaled", e, 0)
	if first != 0 {
		t.Errorf("first = %d", first)
	}
	h2 := f.mustCreate(0)
	tl := f.attach(h2, 0)
	e, _ = f.wait([]uint32{h2}, 0, 0)
	check(t, "wait submitted", e, 0x3e) // ETIME
	f.swInc(tl, 1)
	e, _ = f.wait([]uint32{h2}, 0, 0)
	check(t, "wait after inc", e, 0)
	f.fds.close(tl)

	h3 := f.mustCreate(0)
	tls := make([]int32, 5)
	for i := range tls {
		tls[i] = f.attach(h3, uint64(i+1))
	}
	if q := f.query1(h3); q != 0 {
		t.Errorf("query = %d; want 0", q)
	}
	f.swInc(tls[0], 1)
	f.swInc(tls[1], 1)
	if q := f.query1(h3); q != 2 {
		t.Errorf("query = %d; want 2", q)
	}
	f.swInc(tls[3], 1)
	if q := f.query1(h3); q != 2 {
		t.Errorf("query = %d; want 2", q)
	}
	f.swInc(tls[2], 1)
	if q := f.query1(h3); q != 4 {
		t.Errorf("query = %d; want 4", q)
	}
	f.swInc(tls[4], 1)
	if q := f.query1(h3); q != 5 {
		t.Errorf("query = %d; want 5", q)
	}
	for _, fd := range tls {
		f.fds.close(fd)
	}
	f.teardown()
}
