package machine

import (
	"image"
	"os"
	"testing"

	"fencelab/device"
	"fencelab/present"
	"fencelab/timeline"
)

// frames runs triangle for 20 frames with a Presenter taking each
// output's damage as the machine steps, and returns the hash of every
// frame it saw change and the machine's timeline (the device's sink gets
// every layer's events).
func frames(t *testing.T, wasm []byte) ([]string, []timeline.Event) {
	rec := &timeline.Recorder{}
	m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: 160, Height: 120}}, Sink: rec}})
	if err != nil {
		t.Fatal(err)
	}
	p := present.New(m.Device(), 1)
	var hashes []string
	m.OnDamage(func(mask uint32) {
		if mask != 1 {
			t.Errorf("damage on outputs %b; there is one", mask)
		}
		if changed := p.Update(0); len(changed) > 0 {
			hashes = append(hashes, present.Hash(p.Frame(0)))
		}
	})
	if _, err := m.SpawnWasm("triangle", wasm, "20"); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(forever); err != nil {
		t.Fatal(err)
	}
	return hashes, rec.Events
}

// Every flip of triangle reaches the presenter as one new frame, each
// different from the one before (the scene moves), then the output going
// black when triangle exits, and a second run with
// the same guest, configuration and seed gives the same frames and the
// same timeline, event for event.
func TestFramesDeterministic(t *testing.T) {
	wasm, err := os.ReadFile("../guests/bin/triangle.wasm")
	if err != nil {
		t.Fatal(err)
	}
	hashes, events := frames(t, wasm)
	if len(hashes) != 21 {
		t.Fatalf("%d frames presented; want one a flip, 20, and the display going off", len(hashes))
	}
	// When triangle exits, its framebuffers go (drm_fb_release) and with
	// them the scanout: the output is black.
	off := image.NewRGBA(image.Rect(0, 0, 160, 120))
	for i := 3; i < len(off.Pix); i += 4 {
		off.Pix[i] = 0xff
	}
	if hashes[20] != present.Hash(off) {
		t.Errorf("the last frame is not a black output")
	}
	for i := 1; i < len(hashes); i++ {
		if hashes[i] == hashes[i-1] {
			t.Errorf("frames %d and %d are the same picture", i-1, i)
		}
	}
	again, events2 := frames(t, wasm)
	if len(again) != len(hashes) || len(events2) != len(events) {
		t.Fatalf("second run: %d frames, %d events; first: %d, %d", len(again), len(events2), len(hashes), len(events))
	}
	for i := range hashes {
		if again[i] != hashes[i] {
			t.Errorf("frame %d differs between runs", i)
		}
	}
	for i := range events {
		if events[i] != events2[i] {
			t.Fatalf("event %d differs between runs: %+v, then %+v", i, events[i], events2[i])
		}
	}
	// The timeline compared is every layer's: the guest's ioctls and
	// fences, the display's commits, vblanks and flips, the process.
	n := map[timeline.Kind]int{}
	for _, e := range events {
		n[e.Kind]++
	}
	for _, k := range []timeline.Kind{timeline.IoctlEnter, timeline.FenceEmitted, timeline.FenceSignalled, timeline.WaitBlocked,
		timeline.AtomicCommit, timeline.Vblank, timeline.Flip, timeline.SyncFileCreated, timeline.ProcessStart, timeline.ProcessExit} {
		if n[k] == 0 {
			t.Errorf("no %v event in the run", k)
		}
	}
	if n[timeline.Flip] < 20 {
		t.Errorf("%d flips on the timeline; want at least the 20 frames", n[timeline.Flip])
	}
}
