// Command fencelab runs fencelab machines headless.
//
//	fencelab run [flags] GUEST [GUEST ...] [-- ARGS ...]
//
// where a GUEST is a .wasm file or the name of a built guest (triangle,
// dumb, prodcons, scenario, conformance, hello: see guests/), runs each
// guest as the processes of one machine, in the order given, with ARGS as
// their arguments (a built guest may be several processes, as
// guests.Processes says: prodcons is a producer and a consumer), until
// every guest has exited (or --until of virtual time has passed), then
// prints what each wrote. Its exit status is the first non-zero exit
// status of a guest, 2 if the machine could not run them to the end (a
// deadlock, a guest that would not start), or 0.
//
// Flags:
//
//	--config FILE    the machine's options as JSON (machine.Options); the
//	                 flags below override what it says
//	--seed N         the machine's seed (what guests read as random)
//	--displays LIST  the displays, as WxH[,WxH...] (default 1024x768)
//	--threading T    one-worker, per-context or per-ring
//	--host-waits     hand other rings' in-fences to the device
//	--watchdog DUR   how long a guest may run without blocking (host time)
//	--until DUR      stop after DUR of virtual time (e.g. 10s, 500ms)
//	--stdin FILE     the first guest's standard input (- for fencelab's,
//	                 a pipe say); without it, a file redirected in (<)
//	--trace FILE     the timeline: Chrome trace JSON for ui.perfetto.dev
//	                 if FILE ends in .json, else JSON lines
//	--frames DIR     each frame the displays show, as DIR/out<N>-<frame>.png
package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	builtin "fencelab/guests"
	"fencelab/machine"
	"fencelab/present"
	"fencelab/session"
	"fencelab/timeline"
)

func main() {
	// A file redirected in (<) is read; a pipe only with --stdin -: one
	// that never closes (a CI runner's, ssh's) must not hang a guest that
	// never reads.
	var stdin io.Reader
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		stdin = os.Stdin
	}
	os.Exit(run(os.Args[1:], stdin, os.Stdout, os.Stderr))
}

const usage = `usage: fencelab run [flags] GUEST [GUEST ...] [-- ARGS ...]
Runs the guests (.wasm files, or built guests by name) on one machine and
prints what each wrote. Flags:
`

// maxTraceEvents bounds the events a Chrome trace is built from (the
// oldest go first, and the trace says how many); JSON lines stream to
// the file and have no bound.
const maxTraceEvents = 4 << 20

// run is the command with its arguments and standard streams; stdin is
// nil when fencelab's own is a terminal (or absent).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("fencelab run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	configFile := fs.String("config", "", "the machine's options as a JSON file (see machine.Options); flags override it")
	seed := fs.Uint64("seed", 0, "the machine's seed (what guests read as random)")
	displays := fs.String("displays", "1024x768", "the displays, as WxH[,WxH...]")
	threading := fs.String("threading", "one-worker", "how the GPU runs jobs: one-worker, per-context or per-ring")
	hostWaits := fs.Bool("host-waits", false, "hand EXECBUFFER in-fences of other rings to the device to wait for")
	watchdog := fs.Duration("watchdog", 5*time.Second, "how long a guest may run without blocking (host time)")
	until := fs.Duration("until", 0, "stop after this much virtual time (0: when every guest has exited)")
	stdinFile := fs.String("stdin", "", "the first guest's standard input, a file (- for fencelab's own, a pipe say); without it a file redirected in is read")
	traceFile := fs.String("trace", "", "write the timeline here: Chrome trace JSON (ui.perfetto.dev) for *.json, else JSON lines")
	framesDir := fs.String("frames", "", "write each displayed frame as a PNG into this directory")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "fencelab run: "+format+"\n", a...)
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

	// The options: the file's, then the flags given.
	var opts machine.Options
	if *configFile != "" {
		b, err := readLimited(*configFile, machine.MaxOptions)
		if err != nil {
			return fail("--config: %v", err)
		}
		if opts, err = machine.ParseOptions(b); err != nil {
			return fail("--config %s: %v", *configFile, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["seed"] {
		opts.Seed = *seed
	}
	if set["displays"] || opts.Displays == nil {
		opts.Displays = strings.Split(*displays, ",")
	}
	if set["threading"] {
		opts.Threading = *threading
	}
	if set["host-waits"] {
		opts.HostWaits = *hostWaits
	}
	if set["watchdog"] || opts.Watchdog == "" {
		opts.Watchdog = watchdog.String()
	}
	if _, err := opts.Config(); err != nil {
		return fail("%v", err)
	}

	var input []byte
	switch {
	case *stdinFile == "-" && stdin == nil:
		return fail("--stdin -: standard input is a terminal")
	case *stdinFile == "-":
		stdin = io.LimitReader(stdin, session.MaxStdin+1)
		fallthrough
	case *stdinFile == "" && stdin != nil && isRegular(stdin):
		b, err := io.ReadAll(io.LimitReader(stdin, session.MaxStdin+1))
		if err != nil {
			return fail("reading standard input: %v", err)
		}
		input = b
	case *stdinFile != "":
		b, err := readLimited(*stdinFile, session.MaxStdin)
		if err != nil {
			return fail("--stdin: %v", err)
		}
		input = b
	}
	if len(input) > session.MaxStdin {
		return fail("standard input: more than %d bytes", session.MaxStdin)
	}

	// The guests: the first makes the session, the others join it.
	mods := make([][]byte, len(guests))
	names := make([]string, len(guests))
	notReplayable := ""
	if len(guests) > 1 {
		notReplayable = "several guests were given on the command line; a link names one"
	}
	for i, g := range guests {
		wasm, err := os.ReadFile(g)
		if err != nil {
			if _, ok := builtin.Lookup(g); ok {
				wasm, err = nil, nil
			} else if !strings.HasSuffix(g, ".wasm") {
				err = fmt.Errorf("%s: no such file, and no built guest of that name (built: %s)", g, strings.Join(builtin.Names(), ", "))
			}
		}
		if err != nil {
			return fail("%v", err)
		}
		mods[i], names[i] = wasm, strings.TrimSuffix(filepath.Base(g), ".wasm")
		if wasm != nil && notReplayable == "" {
			notReplayable = fmt.Sprintf("%s is a module of the user's own (sha256 %x), not a built guest", g, sha256.Sum256(wasm))
		}
	}

	spec := session.Spec{Guest: names[0], Args: guestArgs, Stdin: string(input), Options: opts}
	var (
		sink  timeline.Sink
		trace *traceOut
	)
	if *traceFile != "" {
		var err error
		if trace, err = newTrace(*traceFile, spec, notReplayable, maxTraceEvents); err != nil {
			return fail("--trace: %v", err)
		}
		sink = trace
	}
	s, err := session.New(spec, mods[0], sink)
	if err != nil {
		return fail("%s: %v", guests[0], err)
	}
	for i := 1; i < len(guests); i++ {
		if err := s.Add(names[i], mods[i], guestArgs); err != nil {
			return fail("%s: %v", guests[i], err)
		}
	}
	if trace != nil {
		trace.start(s)
	}
	var frames *present.PNGDir
	var frameErr error
	if *framesDir != "" {
		frames = &present.PNGDir{Dir: *framesDir}
		s.OnFrame(func(out int, img *image.RGBA, _ []image.Rectangle) {
			if frameErr == nil {
				_, frameErr = frames.Write(out, img)
			}
		})
	}

	limit := int64(1<<63 - 1)
	if *until > 0 {
		limit = s.M.Now() + until.Nanoseconds()
	}
	runErr := s.Run(limit)
	status := 0
	for _, p := range s.Procs {
		out, errOut := p.Output()
		if len(s.Procs) > 1 {
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
			fmt.Fprintf(stderr, "fencelab run: %s still running at %v of virtual time\n", p.Name, time.Duration(s.M.Now()-machine.Boot))
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
	if frames != nil {
		if frameErr != nil {
			fmt.Fprintf(stderr, "fencelab run: --frames: %v\n", frameErr)
			status = firstNonZero(status, 2)
		}
		fmt.Fprintf(stderr, "fencelab run: %d frames in %s\n", s.Frames(), *framesDir)
	}
	if trace != nil {
		n, err := trace.close()
		if err != nil {
			fmt.Fprintf(stderr, "fencelab run: --trace: %v\n", err)
			status = firstNonZero(status, 2)
		} else {
			fmt.Fprintf(stderr, "fencelab run: %d events in %s\n", n, *traceFile)
			if n < trace.n {
				fmt.Fprintf(stderr, "fencelab run: the oldest %d of the run's events did not fit (write JSON lines for all of them)\n", trace.n-n)
			}
		}
	}
	return status
}

// isRegular tells a file redirected in from a pipe or socket.
func isRegular(r io.Reader) bool {
	if f, ok := r.(*os.File); ok {
		fi, err := f.Stat()
		return err == nil && fi.Mode().IsRegular()
	}
	return true // a test's reader
}

func firstNonZero(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err == nil && len(b) > limit {
		err = fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return b, err
}
