package session

import (
	"image"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"fencelab/machine"
	"fencelab/present"
	"fencelab/timeline"
)

// A spec survives the trip through a link, which is the same link every
// time.
func TestLinkRoundTrip(t *testing.T) {
	specs := []Spec{
		{Guest: "triangle"},
		{Guest: "triangle", Args: []string{"120", "500"}, Options: machine.Options{Seed: 42, Displays: []string{"1280x720"}}},
		{Guest: "scenario", Stdin: "syncobj a\nsignal a # &=?\n", Options: machine.Options{Threading: "per-ring", HostWaits: true,
			Faults: []machine.FaultOption{{Kind: "delay", Ctx: 1, Delay: "5ms", Count: 2}}}},
	}
	for _, s := range specs {
		q := s.Query().Encode()
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseQuery(v)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("%s read back as %+v; want %+v", q, back, s)
		}
		if again := back.Query().Encode(); again != q {
			t.Errorf("link changed on a round trip:\n%s\n%s", q, again)
		}
	}
	if q := (Spec{Guest: "triangle", Options: machine.Options{Seed: 3}}).Query().Encode(); q != "guest=triangle&seed=3" {
		t.Errorf("link %q; want guest=triangle&seed=3", q)
	}
}

// Bad links are refused with what is wrong.
func TestLinkErrors(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{"", "guest must be a name"},
		{"guest=a&guest=b", "guest given 2 times"},
		{"guest=a&colour=red", `unknown key "colour"`},
		{"guest=a&seed=-1", `seed "-1"`},
		{"guest=a&config=%7B", "config: options:"},
		{`guest=a&config={"seed":1}`, "the seed goes in seed="},
		{`guest=a&config={"threading":"lots"}`, `threading: "lots"`},
		{"guest=" + strings.Repeat("g", 65), "guest must be a name"},
		{"guest=a" + strings.Repeat("&arg=x", 65), "65 args"},
		{"guest=a&arg=" + strings.Repeat("x", 4097), "an arg of 4097 bytes"},
	} {
		v, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseQuery(v); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.60s: %v; want an error with %q", tt.query, err, tt.want)
		}
	}
}

// FuzzLink: a query is refused, or gives a spec whose link reads back
// as the same spec.
func FuzzLink(f *testing.F) {
	f.Add("guest=triangle&seed=3&arg=10")
	f.Add(`guest=scenario&stdin=syncobj+a&config={"displays":["640x480"],"host_waits":true}`)
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		s, err := ParseQuery(v)
		if err != nil {
			return
		}
		back, err := ParseQuery(s.Query())
		if err != nil || !reflect.DeepEqual(normal(back), normal(s)) {
			t.Fatalf("%q: spec %+v read back as %+v, %v", q, s, back, err)
		}
	})
}

// normal treats an empty and a nil list alike.
func normal(s Spec) Spec {
	if len(s.Args) == 0 {
		s.Args = nil
	}
	if len(s.Options.Displays) == 0 {
		s.Options.Displays = nil
	}
	if len(s.Options.Faults) == 0 {
		s.Options.Faults = nil
	}
	return s
}

// A session runs a built guest and presents each of its flips, and the
// output going off when the guest exits (its framebuffers are removed
// with its DRM file); the frames and their hashes repeat for the same
// spec, and StepFrame stops at each one.
func TestSessionFrames(t *testing.T) {
	spec := Spec{Guest: "triangle", Args: []string{"10"}, Options: machine.Options{Displays: []string{"160x120"}}}
	run := func() []string {
		s, err := New(spec, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var hashes []string
		s.OnFrame(func(out int, img *image.RGBA, changed []image.Rectangle) {
			if len(changed) == 0 {
				t.Error("a frame with nothing changed")
			}
			if out != 0 || img.Bounds() != image.Rect(0, 0, 160, 120) {
				t.Errorf("frame of output %d, %v", out, img.Bounds())
			}
			hashes = append(hashes, present.Hash(img))
		})
		for i := 1; i <= 3; i++ {
			if ok, err := s.StepFrame(1 << 62); !ok || err != nil || s.Frames() != i {
				t.Fatalf("StepFrame %d: %v, %v, %d frames", i, ok, err, s.Frames())
			}
		}
		if err := s.Run(1 << 62); err != nil || !s.Done() {
			t.Fatalf("Run: %v, done %v", err, s.Done())
		}
		return hashes
	}
	a, b := run(), run()
	if len(a) != 11 || !reflect.DeepEqual(a, b) {
		t.Errorf("frames %v, then %v; want the same 11", a, b)
	}
	off := image.NewRGBA(image.Rect(0, 0, 160, 120))
	for i := 3; i < len(off.Pix); i += 4 {
		off.Pix[i] = 0xff
	}
	if len(a) > 0 && a[len(a)-1] != present.Hash(off) {
		t.Error("the last frame is not the output gone black")
	}
}

// A module given as bytes runs under the spec's name; an unknown built
// guest or bad options are errors.
func TestSessionErrors(t *testing.T) {
	if _, err := New(Spec{Guest: "nope"}, nil, nil); err == nil || !strings.Contains(err.Error(), `no built guest "nope"`) {
		t.Errorf("unknown guest: %v", err)
	}
	if _, err := New(Spec{Guest: "hello", Options: machine.Options{Threading: "x"}}, nil, nil); err == nil {
		t.Error("bad options accepted")
	}
	if _, err := New(Spec{Guest: "mine"}, []byte("not wasm"), nil); err == nil {
		t.Error("a module that is not WebAssembly was accepted")
	}
}

// While running, each frame moves virtual time to the display's next
// vblank, where the guest's next frame lands; paused, nothing moves;
// speed 2 covers two vblanks a frame; steps pause it.
func TestRunner(t *testing.T) {
	s, err := New(Spec{Guest: "triangle", Args: []string{"0"}, Options: machine.Options{Displays: []string{"64x48"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(s)
	t0 := s.M.Now()
	r.Frame()
	if s.M.Now() != t0 {
		t.Fatal("a paused runner moved time")
	}
	r.Running = true
	r.Frame() // the display lights up
	for i := range 5 {
		frames := s.Frames()
		before := s.M.Now()
		r.Frame()
		_, period, ok := s.M.Driver().Vblank(0, s.M.Now())
		if !ok || s.Frames() != frames+1 || s.M.Now()-before > period {
			t.Fatalf("frame %d: %d frames, then %d; time moved %d ns (period %d, lit %v)", i, frames, s.Frames(), s.M.Now()-before, period, ok)
		}
	}
	r.Speed = 2
	frames := s.Frames()
	r.Frame()
	if s.Frames() != frames+2 {
		t.Errorf("speed 2: %d new frames; want 2", s.Frames()-frames)
	}
	// Slower than real time, time still moves: an eighth of a period a
	// drawn frame.
	r.Speed = 0.125
	before := s.M.Now()
	for range 16 {
		r.Frame()
	}
	_, period, _ := s.M.Driver().Vblank(0, s.M.Now())
	if moved := s.M.Now() - before; moved < period || moved > 3*period {
		t.Errorf("16 frames at 1/8 speed moved %d ns; want about two periods (%d)", moved, period)
	}
	frames = s.Frames()
	if !r.StepFrame() || s.Frames() != frames+1 || r.Running {
		t.Errorf("StepFrame: %d frames, then %d, running %v", frames, s.Frames(), r.Running)
	}
}

// The biggest script a link may carry fits in a recording's header; a
// spec whose link would be longer than MaxLink is refused by Link and
// ParseQuery alike.
func TestLinkLimits(t *testing.T) {
	big := Spec{Guest: "scenario", Stdin: strings.Repeat("\xff", MaxStdin)} // three bytes a byte encoded
	link, err := big.Link()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := timeline.AppendHeader(nil, timeline.Meta{Guest: big.Guest, Config: map[string]string{"link": link}}); err != nil {
		t.Errorf("the header of a link of %d bytes: %v", len(link), err)
	}
	big.Args = []string{strings.Repeat("\xff", MaxArgLen), strings.Repeat("\xff", MaxArgLen)}
	for len(big.Query().Encode()) <= MaxLink {
		big.Args = append(big.Args, strings.Repeat("\xff", MaxArgLen))
	}
	if _, err := big.Link(); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Link of %d bytes: %v", len(big.Query().Encode()), err)
	}
	if _, err := ParseQuery(big.Query()); err == nil || !strings.Contains(err.Error(), "bytes encoded") {
		t.Errorf("ParseQuery of %d bytes: %v", len(big.Query().Encode()), err)
	}
}
