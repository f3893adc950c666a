package machine

import (
	"strings"
	"testing"
	"time"

	"fencelab/device"
)

// The documented example parses into the configuration it describes.
func TestOptions(t *testing.T) {
	o, err := ParseOptions([]byte(`{
	  "seed": 7,
	  "displays": ["1280x720", "640x480"],
	  "threading": "per-ring",
	  "host_waits": true,
	  "watchdog": "2s",
	  "loop_budget": 50000000,
	  "faults": [{"kind": "delay", "ctx": 1, "ring": 0, "delay": "20ms", "count": 3}, {"kind": "hang", "global": true}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.Config()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Seed: 7, HostWaits: true, Watchdog: 2 * time.Second, Device: device.Config{
		Displays:  []device.Display{{Width: 1280, Height: 720}, {Width: 640, Height: 480}},
		Threading: device.WorkerPerRing,
		Faults: []device.Fault{{Ctx: 1, Kind: device.FaultDelay, Delay: 20_000_000, Count: 3},
			{Global: true, Kind: device.FaultHang}},
	}}
	if cfg.Seed != want.Seed || cfg.HostWaits != want.HostWaits || cfg.Watchdog != want.Watchdog || cfg.LoopBudget != 50_000_000 ||
		cfg.Device.Threading != want.Device.Threading || len(cfg.Device.Displays) != 2 ||
		cfg.Device.Displays[0] != want.Device.Displays[0] || cfg.Device.Displays[1] != want.Device.Displays[1] ||
		len(cfg.Device.Faults) != 2 || cfg.Device.Faults[0] != want.Device.Faults[0] || cfg.Device.Faults[1] != want.Device.Faults[1] {
		t.Errorf("config %+v; want %+v", cfg, want)
	}
	if cfg, err := (Options{}).Config(); err != nil || cfg.Device.Threading != device.OneWorker || cfg.Device.Displays != nil {
		t.Errorf("empty options: %+v, %v", cfg, err)
	}
}

// Bad options are refused with an error naming what is wrong.
func TestOptionsErrors(t *testing.T) {
	for _, tt := range []struct{ json, want string }{
		{`{"sead": 1}`, `unknown field "sead"`},
		{`{"seed": -1}`, "cannot unmarshal"},
		{`{} {}`, "more than one JSON value"},
		{`[1]`, "cannot unmarshal"},
		{`{"displays": ["1024"]}`, `display "1024" is not WxH`},
		{`{"displays": ["0x10"]}`, `display "0x10"`},
		{`{"displays": ["4096x10"]}`, `display "4096x10"`},
		{`{"displays": [` + strings.Repeat(`"1x1",`, 16) + `"1x1"]}`, "displays: 17; at most 16"},
		{`{"threading": "two"}`, `threading: "two"`},
		{`{"watchdog": "soon"}`, `watchdog: "soon"`},
		{`{"watchdog": "-1s"}`, `watchdog: "-1s"`},
		{`{"loop_budget": 1099511627777}`, "loop_budget: 1099511627777; at most 2^40"},
		{`{"loop_budget": -1}`, "cannot unmarshal"},
		{`{"faults": [{"kind": "melt"}]}`, `faults[0]: kind "melt"`},
		{`{"faults": [{"kind": "delay"}]}`, `faults[0]: delay ""`},
		{`{"faults": [{"kind": "delay", "delay": "11s"}]}`, `faults[0]: delay "11s"`},
		{`{"faults": [{"kind": "hang", "delay": "1s"}]}`, `faults[0]: delay "1s"`},
		{`{"faults": [{"kind": "hang", "count": -2}]}`, `faults[0]: count -2`},
		{`{"faults": [{"kind": "hang", "global": true, "ctx": 3}]}`, "faults[0]: a global fault"},
		{`{"faults": [{"kind": "hang", "ring": 256}]}`, "cannot unmarshal"},
		{strings.Repeat(" ", MaxOptions+1), "at most 65536"},
	} {
		o, err := ParseOptions([]byte(tt.json))
		if err == nil {
			_, err = o.Config()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.50s: %v; want an error with %q", tt.json, err, tt.want)
		}
	}
}

// FuzzOptions: any document is either refused with an error or gives a
// configuration a machine can be built from.
func FuzzOptions(f *testing.F) {
	f.Add([]byte(`{"seed": 7, "displays": ["1280x720"], "threading": "per-ring", "host_waits": true, "watchdog": "2s"}`))
	f.Add([]byte(`{"faults": [{"kind": "delay", "ctx": 1, "delay": "20ms", "count": 3}]}`))
	f.Add([]byte(`{"displays": ["1x1", "4095x4095"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOptions(b)
		if err != nil {
			return
		}
		cfg, err := o.Config()
		if err != nil {
			return
		}
		for _, d := range cfg.Device.Displays {
			if d.Width*d.Height > 64*64 {
				return // a big display's buffers are slow to fuzz with, not wrong
			}
		}
		if _, err := New(cfg); err != nil {
			t.Fatalf("options %s were accepted, but New: %v", b, err)
		}
	})
}

// With host waits on, a submit whose in-fence is another ring's job
// returns at once (the device waits); off, as Linux, it returns when the
// job is done.
func TestHostWaitsOption(t *testing.T) {
	script := []byte("rings 2\nsyncobj a\nsubmit ring=0 cost=4ms out=a@1\nsubmit ring=1 cost=1ms in=a@1\n")
	for _, on := range []bool{false, true} {
		m, err := New(Config{HostWaits: on})
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.SpawnWasm("scenario", scenarioWasm(t))
		if err != nil {
			t.Fatal(err)
		}
		p.Stdin = script
		if err := m.Run(forever); err != nil {
			t.Fatal(err)
		}
		out, _ := p.Output()
		want := "     4.000 ms  submit ring=1 cost=1ms in=a@1: ok\n"
		if on {
			want = "     0.000 ms  submit ring=1 cost=1ms in=a@1: ok\n"
		}
		if !strings.HasSuffix(out, want) {
			t.Errorf("host waits %v:\n%s\nwant the last line %q", on, out, want)
		}
	}
}
