package errno

import "testing"

// The numbers are Linux's ABI; a guest compiled against Linux headers
// compares against them, so each is pinned here.
func TestLinuxNumbering(t *testing.T) {
	tests := []struct {
		e    Errno
		want uint16
		name string
	}{
		{EPERM, 1, "EPERM"},
		{ENOENT, 2, "ENOENT"},
		{EINTR, 4, "EINTR"},
		{EBADF, 9, "EBADF"},
		{EAGAIN, 11, "EAGAIN"},
		{ENOMEM, 12, "ENOMEM"},
		{EFAULT, 14, "EFAULT"},
		{EBUSY, 16, "EBUSY"},
		{EEXIST, 17, "EEXIST"},
		{EINVAL, 22, "EINVAL"},
		{EMFILE, 24, "EMFILE"},
		{ENOTTY, 25, "ENOTTY"},
		{ENOSPC, 28, "ENOSPC"},
		{ENOSYS, 38, "ENOSYS"},
		{ETIME, 62, "ETIME"},
		{EOPNOTSUPP, 95, "EOPNOTSUPP"},
		{ETIMEDOUT, 110, "ETIMEDOUT"},
		{ERESTARTSYS, 512, "ERESTARTSYS"},
	}
	for _, tt := range tests {
		if uint16(tt.e) != tt.want {
			t.Errorf("%s = %d; want %d", tt.name, uint16(tt.e), tt.want)
		}
		if got := tt.e.Name(); got != tt.name {
			t.Errorf("Errno(%d).Name() = %q; want %q", tt.want, got, tt.name)
		}
	}
}

func TestEveryNamedValueHasText(t *testing.T) {
	seen := map[string]Errno{}
	for e, s := range info {
		if s[0] == "" || s[1] == "" {
			t.Errorf("Errno(%d) has an empty name or text", e)
		}
		if prev, dup := seen[s[0]]; dup {
			t.Errorf("name %s used by %d and %d", s[0], prev, e)
		}
		seen[s[0]] = e
	}
}

func TestNegRoundTrip(t *testing.T) {
	for e := range info {
		if got := FromNeg(int64(e.Neg())); got != e {
			t.Errorf("FromNeg(%d) = %v; want %v", e.Neg(), got, e)
		}
	}
	for _, r := range []int64{0, 1, 3, 1 << 40, -4096, -1 << 40} {
		if got := FromNeg(r); got != 0 {
			t.Errorf("FromNeg(%d) = %v; want OK", r, got)
		}
	}
}

func TestFormatting(t *testing.T) {
	if got, want := EINVAL.Error(), "EINVAL (invalid argument)"; got != want {
		t.Errorf("EINVAL.Error() = %q; want %q", got, want)
	}
	if got, want := Errno(0).String(), "OK"; got != want {
		t.Errorf("Errno(0).String() = %q; want %q", got, want)
	}
	if got, want := Errno(4000).String(), "errno(4000)"; got != want {
		t.Errorf("Errno(4000).String() = %q; want %q", got, want)
	}
}
