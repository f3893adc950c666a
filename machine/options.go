package machine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"fencelab/device"
)

// Options is a machine's configuration as a person writes it: the JSON
// of `fencelab run --config FILE`, and what a shared link carries. Every
// field may be left out.
//
//	{
//	  "seed": 7,
//	  "displays": ["1280x720", "640x480"],
//	  "threading": "per-ring",
//	  "host_waits": true,
//	  "watchdog": "5s",
//	  "loop_budget": 50000000,
//	  "faults": [{"kind": "delay", "ctx": 1, "ring": 0, "delay": "20ms", "count": 3}]
//	}
type Options struct {
	// Seed seeds what guests read as random.
	Seed uint64 `json:"seed,omitempty"`
	// Displays are the outputs, "WxH" each (1 to 16, sides 1 to 4095);
	// none means one of 1024x768.
	Displays []string `json:"displays,omitempty"`
	// Threading is how the modelled GPU runs jobs: "one-worker" (the
	// default; QEMU's virgl), "per-context" (gfxstream) or "per-ring"
	// (Venus).
	Threading string `json:"threading,omitempty"`
	// HostWaits hands EXECBUFFER in-fences of other rings to the device
	// instead of waiting in the guest kernel (the seed's next step).
	HostWaits bool `json:"host_waits,omitempty"`
	// Watchdog is how long a guest may run without blocking, in host
	// time, as a Go duration ("5s"); empty means 5 s.
	Watchdog string `json:"watchdog,omitempty"`
	// LoopBudget is how many loop iterations a guest may run without
	// blocking (Config.LoopBudget); 0 means the default.
	LoopBudget uint64 `json:"loop_budget,omitempty"`
	// Faults are injected into the device's jobs.
	Faults []FaultOption `json:"faults,omitempty"`
}

// FaultOption is one device fault: Kind "delay" (each job takes Delay
// more), "hang" (the job never completes), "error" (the job's request is
// answered with an error) or "drop" (the request is never returned), on
// the global timeline (Global) or on context Ctx's ring Ring, for the next
// Count jobs there (0: all).
type FaultOption struct {
	Kind   string `json:"kind"`
	Global bool   `json:"global,omitempty"`
	Ctx    uint32 `json:"ctx,omitempty"`
	Ring   uint8  `json:"ring,omitempty"`
	Delay  string `json:"delay,omitempty"`
	Count  int    `json:"count,omitempty"`
}

// MaxOptions is the longest options document ParseOptions reads.
const MaxOptions = 64 << 10

// ParseOptions reads options from JSON: one object, no unknown fields,
// at most MaxOptions bytes. The values are checked by Config.
func ParseOptions(b []byte) (Options, error) {
	var o Options
	if len(b) > MaxOptions {
		return o, fmt.Errorf("options: %d bytes; at most %d", len(b), MaxOptions)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return Options{}, fmt.Errorf("options: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Options{}, errors.New("options: more than one JSON value")
	}
	return o, nil
}

var threadings = map[string]device.Threading{
	"": device.OneWorker, "one-worker": device.OneWorker,
	"per-context": device.WorkerPerContext, "per-ring": device.WorkerPerRing,
}

var faultKinds = map[string]device.FaultKind{
	"delay": device.FaultDelay, "hang": device.FaultHang, "error": device.FaultError, "drop": device.FaultDrop,
}

// Config checks the options and returns the machine configuration they
// describe, or an error naming the first bad value.
func (o Options) Config() (Config, error) {
	cfg := Config{Seed: o.Seed, HostWaits: o.HostWaits}
	for _, d := range o.Displays {
		disp, err := ParseDisplay(d)
		if err != nil {
			return Config{}, err
		}
		cfg.Device.Displays = append(cfg.Device.Displays, disp)
	}
	if len(o.Displays) > device.VIRTIO_GPU_MAX_SCANOUTS {
		return Config{}, fmt.Errorf("displays: %d; at most %d", len(o.Displays), device.VIRTIO_GPU_MAX_SCANOUTS)
	}
	t, ok := threadings[o.Threading]
	if !ok {
		return Config{}, fmt.Errorf("threading: %q is not one-worker, per-context or per-ring", o.Threading)
	}
	cfg.Device.Threading = t
	if o.Watchdog != "" {
		d, err := time.ParseDuration(o.Watchdog)
		if err != nil || d <= 0 || d > time.Hour {
			return Config{}, fmt.Errorf("watchdog: %q is not a duration from 1ns to 1h", o.Watchdog)
		}
		cfg.Watchdog = d
	}
	if o.LoopBudget > 1<<40 {
		return Config{}, fmt.Errorf("loop_budget: %d; at most 2^40", o.LoopBudget)
	}
	cfg.LoopBudget = o.LoopBudget
	if len(o.Faults) > 64 {
		return Config{}, fmt.Errorf("faults: %d; at most 64", len(o.Faults))
	}
	for i, f := range o.Faults {
		kind, ok := faultKinds[f.Kind]
		if !ok {
			return Config{}, fmt.Errorf("faults[%d]: kind %q is not delay, hang, error or drop", i, f.Kind)
		}
		var delay time.Duration
		if f.Delay != "" || kind == device.FaultDelay {
			d, err := time.ParseDuration(f.Delay)
			if kind != device.FaultDelay || err != nil || d < 0 || d > 10*time.Second {
				return Config{}, fmt.Errorf("faults[%d]: delay %q: a delay fault needs one from 0 to 10s, other kinds none", i, f.Delay)
			}
			delay = d
		}
		if f.Count < 0 {
			return Config{}, fmt.Errorf("faults[%d]: count %d is negative", i, f.Count)
		}
		if f.Global && (f.Ctx != 0 || f.Ring != 0) {
			return Config{}, fmt.Errorf("faults[%d]: a global fault names no context or ring", i)
		}
		cfg.Device.Faults = append(cfg.Device.Faults, device.Fault{Global: f.Global, Ctx: f.Ctx, Ring: f.Ring,
			Kind: kind, Delay: delay.Nanoseconds(), Count: f.Count})
	}
	return cfg, nil
}

// ParseDisplay reads "WxH", each side from 1 to 4095.
func ParseDisplay(s string) (device.Display, error) {
	w, h, ok := strings.Cut(s, "x")
	wi, err1 := strconv.ParseUint(w, 10, 32)
	hi, err2 := strconv.ParseUint(h, 10, 32)
	if !ok || err1 != nil || err2 != nil || wi == 0 || hi == 0 || wi > 4095 || hi > 4095 {
		return device.Display{}, fmt.Errorf("display %q is not WxH with sides from 1 to 4095", s)
	}
	return device.Display{Width: uint32(wi), Height: uint32(hi)}, nil
}
