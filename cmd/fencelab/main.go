// Command fencelab runs fencelab machines headless.
//
//	fencelab run [flags] GUEST [GUEST ...] [-- ARGS ...]
//
// where a GUEST is a .wasm file or the name of a built guest (hello,
// prodcons: see guests/), runs each guest as a process of one machine, in the order given, with
// ARGS as their arguments (a built guest may be several processes, as
// guests.Processes says: conformance is the test and its helper), until
// every guest has exited (or --until of virtual time has passed), then
// prints what each wrote. Its exit status
// is the first non-zero exit status of a guest, 2 if the machine could not
// run them to the end (a deadlock, a guest that would not start), or 0.
//
// Flags:
//
//	--seed N         the machine's seed (what guests read as random)
//	--until DUR      stop after DUR of virtual time (e.g. 10s, 500ms)
//	--displays LIST  the displays, as WxH[,WxH...] (default 1024x768)
//	--watchdog DUR   how long a guest may run without blocking (host time)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"fencelab/device"
	builtin "fencelab/guests"
	"fencelab/machine"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: fencelab run [flags] GUEST [GUEST ...] [-- ARGS ...]
Runs the guests (.wasm files, or built guests by name) on one machine and
prints what each wrote. Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("fencelab run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	seed := fs.Uint64("seed", 0, "the machine's seed (what guests read as random)")
	until := fs.Duration("until", 0, "stop after this much virtual time (0: when every guest has exited)")
	displays := fs.String("displays", "1024x768", "the displays, as WxH[,WxH...]")
	watchdog := fs.Duration("watchdog", 5*time.Second, "how long a guest may run without blocking (host time)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	guests, guestArgs := fs.Args(), []string(nil)
	for i, a := range guests {
		if a == "--" {
			guests, guestArgs = guests[:i], guests[i+1:]
			break
		}
	}
	if len(guests) == 0 {
		fmt.Fprintln(stderr, "fencelab run: no guest given")
		fs.Usage()
		return 2
	}
	cfg := machine.Config{Seed: *seed, Watchdog: *watchdog}
	var err error
	if cfg.Device.Displays, err = parseDisplays(*displays); err != nil {
		fmt.Fprintf(stderr, "fencelab run: --displays: %v\n", err)
		return 2
	}
	m, err := machine.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fencelab run: %v\n", err)
		return 2
	}
	var procs []*machine.Process
	for _, g := range guests {
		wasm, err := os.ReadFile(g)
		recipe := [][]string{nil} // one process, with guestArgs
		if err != nil {
			if b, ok := builtin.Lookup(g); ok {
				wasm, err, recipe = b, nil, builtin.Processes(g)
			} else if !strings.HasSuffix(g, ".wasm") {
				err = fmt.Errorf("%s: no such file, and no built guest of that name (built: %s)", g, strings.Join(builtin.Names(), ", "))
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "fencelab run: %v\n", err)
			return 2
		}
		name := strings.TrimSuffix(g[strings.LastIndex(g, "/")+1:], ".wasm")
		for _, args := range recipe {
			p, err := m.SpawnWasm(name, wasm, append(args, guestArgs...)...)
			if err != nil {
				fmt.Fprintf(stderr, "fencelab run: %s: %v\n", g, err)
				return 2
			}
			procs = append(procs, p)
		}
	}
	limit := int64(1<<63 - 1)
	if *until > 0 {
		limit = m.Now() + until.Nanoseconds()
	}
	runErr := m.Run(limit)
	status := 0
	for _, p := range procs {
		out, errOut := p.Output()
		if len(procs) > 1 {
			fmt.Fprintf(stdout, "== %s\n", p.Name)
		}
		io.WriteString(stdout, out)
		io.WriteString(stderr, errOut)
		code, done := p.Exit()
		switch {
		case p.Err() != nil:
			fmt.Fprintf(stderr, "fencelab run: %s: %v\n", p.Name, p.Err())
			status = firstNonZero(status, 2)
		case !done:
			fmt.Fprintf(stderr, "fencelab run: %s still running at %v of virtual time\n", p.Name, time.Duration(m.Now()-machine.Boot))
		case code != 0:
			status = firstNonZero(status, min(max(code, 1), 125))
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "fencelab run: %v\n", runErr)
		if errors.Is(runErr, machine.ErrDeadlock) {
			status = firstNonZero(status, 2)
		}
	}
	return status
}

func firstNonZero(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// parseDisplays reads WxH[,WxH...]: 1 to 16 displays, each side 1..4095.
func parseDisplays(s string) ([]device.Display, error) {
	var ds []device.Display
	for _, d := range strings.Split(s, ",") {
		w, h, ok := strings.Cut(d, "x")
		wi, err1 := strconv.ParseUint(w, 10, 32)
		hi, err2 := strconv.ParseUint(h, 10, 32)
		if !ok || err1 != nil || err2 != nil || wi == 0 || hi == 0 || wi > 4095 || hi > 4095 {
			return nil, fmt.Errorf("%q is not WxH with sides from 1 to 4095", d)
		}
		ds = append(ds, device.Display{Width: uint32(wi), Height: uint32(hi)})
	}
	if len(ds) > device.VIRTIO_GPU_MAX_SCANOUTS {
		return nil, fmt.Errorf("%d displays; at most %d", len(ds), device.VIRTIO_GPU_MAX_SCANOUTS)
	}
	return ds, nil
}
