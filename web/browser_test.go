package web

// The page in a real browser: Debian's Chromium, headless, WebGL on
// SwiftShader, driven with chromedp. The bundle is what `make bundle`
// makes (less the compressed copies), built into a temporary directory
// and served by a plain static file server, as the page must work
// without the dev server.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fencelab/internal/gotool"
	"fencelab/present"
	"fencelab/session"
	"fencelab/timeline"
)

const chromium = "/usr/bin/chromium"

var (
	setupOnce sync.Once
	setupErr  error
	baseURL   string
	bundleDir string
	browser   context.Context
)

// Bundle builds the page's files into dir: the static files, Go's
// wasm_exec.js and fencelab.wasm.
func bundle(dir string) error {
	cmd := exec.Command(gotool.Path(), "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "fencelab.wasm"), "../wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the wasm: %v\n%s", err, out)
	}
	static, _ := filepath.Glob("*.[hjc]*") // *.html, *.js, *.css
	goroot, err := exec.Command(gotool.Path(), "env", "GOROOT").Output()
	if err != nil {
		return err
	}
	static = append(static, filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	for _, f := range static {
		if strings.HasSuffix(f, ".go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// page returns a new tab of the shared browser, the bundle served.
func page(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is not installed (.ci/run installs Debian's chromium): %v", chromium, err)
	}
	setupOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fencelab-web")
		if err != nil {
			setupErr = err
			return
		}
		if setupErr = bundle(dir); setupErr != nil {
			return
		}
		bundleDir = dir
		srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
		baseURL = srv.URL
		alloc, _ := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(chromium),
			chromedp.UserDataDir(filepath.Join(dir, "profile")),
			chromedp.Headless,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("no-sandbox", true),
			chromedp.Flag("use-angle", "swiftshader"),
			chromedp.Flag("enable-unsafe-swiftshader", true),
			// WebGL on SwiftShader, but the page composited on the CPU,
			// as a Chromium with no GPU does by itself (chrome://gpu:
			// "Compositing: Software only"). use-angle=swiftshader
			// alone moves the compositor onto SwiftShader too, which
			// reads every frame back after rendering it: at 1280x720
			// that cost the page a third of its frame rate
			// (BENCHMARKS.md, "The browser's flags").
			chromedp.Flag("disable-gpu-compositing", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.WindowSize(1400, 1000),
		)
		browser, _ = chromedp.NewContext(alloc)
		setupErr = chromedp.Do(browser) // start it
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 1000)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// fl is the machine's API in the page's frame.
const fl = `document.getElementById("screen").contentWindow.fencelab`

// open loads the page with a link and waits until the machine is up.
func open(t testing.TB, ctx context.Context, query string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/index.html?"+query),
		chromedp.Poll[chromedp.Void](`(() => { try { return typeof `+fl+`.state === "function" && `+fl+`.state().width > 0; } catch (e) { return false; } })()`,
			chromedp.WithPollingTimeout(60*time.Second)),
	)
	if err != nil {
		t.Fatalf("loading the page: %v", err)
	}
}

func eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// pauseAt restarts the page's run from its link, pauses it before any
// tick, and steps n frames: the same frames a headless run gives.
func pauseAt(t testing.TB, ctx context.Context, n int) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`(() => {
		const f = %s;
		const q = location.search.slice(1);
		const err = f.reset(q);
		if (err) return "reset: " + err;
		f.pause();
		for (let i = 0; i < %d; i++) if (!f.stepFrame()) return "no frame " + i;
		return f.hash();
	})()`, fl, n))
}

// newSession is the session a link's query starts, run natively; its
// timeline goes to sink (nil for none).
func newSession(t testing.TB, query string, sink timeline.Sink) *session.Session {
	t.Helper()
	spec, err := session.ParseQuery(mustQuery(t, query))
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.New(spec, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// headless runs the same link natively: the hash and picture of frame n.
func headless(t testing.TB, query string, n int) (string, *image.RGBA) {
	t.Helper()
	s := newSession(t, query, nil)
	for i := range n {
		if ok, err := s.StepFrame(1 << 62); !ok || err != nil {
			t.Fatalf("headless frame %d: %v", i, err)
		}
	}
	return present.Hash(s.Frame(0)), s.Frame(0)
}

const triangleLink = `guest=triangle&arg=0&seed=5&config=%7B%22displays%22%3A%5B%22320x240%22%5D%7D`

// dumbLink runs dumb, whose frames change only in the rectangles its
// square moved through (FB_DAMAGE_CLIPS): the page must show those too.
const dumbLink = `guest=dumb&arg=0&seed=5&config=%7B%22displays%22%3A%5B%22320x240%22%5D%7D`

// The page runs triangle (whole new frames) and dumb (small damaged
// rectangles), and the canvas shows, pixel for pixel, the frame the
// headless image backend renders for the same link and the same number
// of frames. The tolerance is 2 per channel (the page's colour path
// could round); in practice it is exact.
func TestCanvasMatchesHeadless(t *testing.T) {
	for _, link := range []string{triangleLink, dumbLink} {
		t.Run(strings.SplitN(strings.TrimPrefix(link, "guest="), "&", 2)[0], func(t *testing.T) {
			canvasMatchesHeadless(t, link)
		})
	}
}

func canvasMatchesHeadless(t *testing.T, link string) {
	ctx := page(t)
	open(t, ctx, link)
	const frames = 12
	pauseAt(t, ctx, frames-3)
	// The last frames one at a time, each drawn before the next: the page
	// writes only what changed since its last Draw (for dumb, the
	// rectangles its square crossed).
	for range 3 {
		if err := chromedp.Do(ctx, chromedp.Sleep(200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if !eval[bool](t, ctx, fl+".stepFrame()") {
			t.Fatal("no frame")
		}
	}
	hash := eval[string](t, ctx, fl+".hash()")
	want, img := headless(t, link, frames)
	if hash != want {
		t.Fatalf("the page's frame hash is %s; headless %s", hash, want)
	}
	// Let ebiten draw the frame, then photograph the frame element.
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	got := photo(t, ctx)
	if got.Bounds().Dx() != 320 || got.Bounds().Dy() != 240 {
		t.Fatalf("the canvas is %v; want 320x240", got.Bounds())
	}
	bad := 0
	for y := range 240 {
		for x := range 320 {
			r, g, b, _ := got.At(x, y).RGBA()
			w := img.Pix[img.PixOffset(x, y):]
			if diff(r>>8, w[0]) > 2 || diff(g>>8, w[1]) > 2 || diff(b>>8, w[2]) > 2 {
				if bad++; bad <= 5 {
					t.Errorf("pixel (%d, %d): canvas %d,%d,%d; headless %v", x, y, r>>8, g>>8, b>>8, w[:3])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d pixels differ", bad, 320*240)
	}
}

// photo is a picture of the page's frame element: the canvas as shown.
func photo(t *testing.T, ctx context.Context) image.Image {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#screen")))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func diff(a uint32, b byte) uint32 {
	if a > uint32(b) {
		return a - uint32(b)
	}
	return uint32(b) - a
}

// The controls drive the machine: pause stops time, step-frame shows one
// more frame, step moves the machine on, a new seed restarts the run
// and goes into the link, and the timeline panel gets the events.
func TestControls(t *testing.T) {
	ctx := page(t)
	open(t, ctx, triangleLink)
	click := func(sel string) {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatal(err)
		}
	}
	state := func(field string) float64 { return eval[float64](t, ctx, fl+".state()."+field) }

	click("#playpause")
	if eval[bool](t, ctx, fl+".state().running") {
		t.Fatal("still running after Pause")
	}
	now := state("now")
	if err := chromedp.Do(ctx, chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if state("now") != now {
		t.Error("virtual time moved while paused")
	}
	frames := state("frames")
	click("#stepframe")
	if state("frames") != frames+1 {
		t.Errorf("Step frame: %v frames, then %v", frames, state("frames"))
	}
	before := state("now")
	for range 40 {
		click("#step")
	}
	if state("now") <= before {
		t.Error("40 steps did not move virtual time")
	}
	if eval[int](t, ctx, "window.timelinePanel.count") == 0 {
		t.Error("the timeline panel has no events")
	}
	// It knows the display's vblank period (60 Hz) from the events, for
	// the grid it draws on the display's track.
	if p := eval[float64](t, ctx, "window.timelinePanel.vblankPeriod(0) || 0"); p < 16.6e6 || p > 16.7e6 {
		t.Errorf("the panel's vblank period for display 0: %v ns; want about 16.67 ms", p)
	}
	// The panel names ioctls with the driver's own table.
	if name := eval[string](t, ctx, fl+".ioctlName(0xC00864BF)"); name != "DRM_IOCTL_SYNCOBJ_CREATE" {
		t.Errorf("ioctlName(SYNCOBJ_CREATE) = %q", name)
	}

	// A new seed: a new run, and the link says so.
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#seed"), "9"),
		chromedp.Click(chromedp.CSS("#apply")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if loc := eval[string](t, ctx, "location.search"); !strings.Contains(loc, "seed=9") {
		t.Errorf("address after Run with seed 9: %s", loc)
	}
	if link := eval[string](t, ctx, fl+".state().link"); !strings.Contains(link, "seed=9") {
		t.Errorf("the machine runs %s; want seed 9", link)
	}
	if !eval[bool](t, ctx, fl+".state().running") {
		t.Error("the new run is not running")
	}
}

// The timeline panel gets a run whole, from its first event, even one
// that is over before the page has set its listener: prodcons is done
// within the first frame or two. The page's count is the headless run's.
func TestPanelGetsWholeRun(t *testing.T) {
	const link = `guest=prodcons&seed=3&config=%7B%22threading%22%3A%22per-ring%22%7D`
	rec := &timeline.Recorder{}
	if err := newSession(t, link, rec).Run(1 << 62); err != nil {
		t.Fatal(err)
	}
	ctx := page(t)
	open(t, ctx, link)
	want := len(rec.Events)
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.state().done && window.timelinePanel.count === %d`, fl, want),
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the panel has %v events of the run's %d (done: %v): %v", eval[float64](t, ctx, "window.timelinePanel.count"),
			want, eval[bool](t, ctx, fl+".state().done"), err)
	}
	// The panel names the processes' tracks from the run's header.
	tracks := eval[string](t, ctx, `[...window.timelinePanel.tracks.values()].map((t) => t.name).join(", ")`)
	if !strings.Contains(tracks, "prodcons (pid 1)") || !strings.Contains(tracks, "prodcons (pid 2)") {
		t.Errorf("the panel's tracks: %s", tracks)
	}
	// The output gives each process under its name and how it ended, as
	// fencelab run does; the status line says the guests are done.
	out := eval[string](t, ctx, fl+".output()")
	if strings.Count(out, "== prodcons\n") != 2 || strings.Count(out, "[prodcons exited with status 0]\n") != 2 {
		t.Errorf("the page's output:\n%s", out)
	}
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent.endsWith("guests done")`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		t.Errorf("status of a finished run: %q", eval[string](t, ctx, `document.getElementById("status").textContent`))
	}
}

// A link reproduces a run: the page's own permalink, opened in a fresh
// tab and stepped as far, shows the same frame, which is also the
// headless one.
func TestLinkReproduces(t *testing.T) {
	ctx := page(t)
	link := `guest=triangle&arg=0&seed=77&config=%7B%22displays%22%3A%5B%22200x150%22%5D%2C%22threading%22%3A%22per-ring%22%7D`
	open(t, ctx, link)
	first := pauseAt(t, ctx, 7)
	href := eval[string](t, ctx, `document.getElementById("permalink").getAttribute("href")`)
	q := href[strings.Index(href, "?")+1:]

	ctx2 := page(t)
	open(t, ctx2, q)
	second := pauseAt(t, ctx2, 7)
	want, _ := headless(t, q, 7)
	if first != second || second != want {
		t.Errorf("frame 7: first tab %s, second tab %s, headless %s", first, second, want)
	}
	if _, err := session.ParseQuery(mustQuery(t, q)); err != nil {
		t.Errorf("the permalink %q is not a link: %v", q, err)
	}
}

func mustQuery(t testing.TB, q string) url.Values {
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestScreenshot writes the README's picture of the page (docs/page.png)
// when FENCELAB_SCREENSHOT names the file; otherwise it is skipped.
func TestScreenshot(t *testing.T) {
	out := os.Getenv("FENCELAB_SCREENSHOT")
	if out == "" {
		t.Skip("set FENCELAB_SCREENSHOT=FILE to write a picture of the page")
	}
	ctx := page(t)
	open(t, ctx, `guest=triangle&config=%7B%22displays%22%3A%5B%22640x480%22%5D%2C%22threading%22%3A%22per-ring%22%7D`)
	if err := chromedp.Do(ctx, chromedp.Sleep(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A run whose guest lights only the second of two outputs shows it (the
// page lays out what is lit, and must not write past the screen it has
// before Layout catches up); a link that fails then (a smaller screen,
// with nothing to show) leaves the page alive and able to run the next.
func TestOutputsAndFailedRun(t *testing.T) {
	ctx := page(t)
	open(t, ctx, `guest=dumb&arg=0&arg=1&config=%7B%22displays%22%3A%5B%22320x240%22%2C%221024x768%22%5D%7D`)
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fl+`.state().frames > 5`, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Sleep(300*time.Millisecond))
	if err != nil {
		t.Fatalf("output 1 shows no frames: %v", err)
	}
	if w, h := eval[int](t, ctx, fl+".state().width"), eval[int](t, ctx, fl+".state().height"); w != 1024 || h != 768 {
		t.Errorf("the page lays out %dx%d; want output 1's 1024x768", w, h)
	}
	got := photo(t, ctx)
	// dumb's background, far from its square: output 1 is on the canvas.
	if r, g, b, _ := got.At(1014, 758).RGBA(); r>>8 != 0x20 || g>>8 != 0x30 || b>>8 != 0x40 {
		t.Errorf("canvas at (1014, 758): %d,%d,%d; want dumb's background 32,48,64", r>>8, g>>8, b>>8)
	}

	if e := eval[string](t, ctx, fl+`.reset("guest=nosuch") || ""`); !strings.Contains(e, "nosuch") {
		t.Errorf("reset to an unknown guest: %q; want an error naming it", e)
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(300*time.Millisecond)); err != nil { // a Draw or two
		t.Fatal(err)
	}
	if e := eval[string](t, ctx, fl+`.reset("`+triangleLink+`") || ""`); e != "" {
		t.Fatalf("the page after a failed run: %q", e)
	}
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fl+`.state().frames > 5`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Errorf("no frames after a failed run: %v", err)
	}
}

// A module of one's own, picked in the page's file input: it runs (the
// controls' frame hands the machine's frame its bytes, across two
// JavaScript realms), the link says it cannot carry it, and a file that
// is no module is refused with an error, leaving the page alive.
func TestOwnModule(t *testing.T) {
	ctx := page(t)
	open(t, ctx, triangleLink)
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine.wasm")
	src, err := os.ReadFile("../guests/bin/dumb.wasm")
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.wasm")
	for f, b := range map[string][]byte{mine: src, garbage: []byte("not a module")} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	upload := func(f string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#wasmfile"), []string{f})); err != nil {
			t.Fatal(err)
		}
	}
	upload(mine)
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`(() => { const s = `+fl+`.state(); return s.link !== undefined && s.link.includes("guest=mine") && s.frames > 2; })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the module of one's own does not run (status %q): %v", eval[string](t, ctx, `document.getElementById("status").textContent`), err)
	}
	if l := eval[string](t, ctx, `document.getElementById("permalink").textContent`); !strings.Contains(l, "no link") {
		t.Errorf("the link control says %q for a module of one's own", l)
	}

	upload(garbage)
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent.includes("not a WebAssembly")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Errorf("a file that is no module: status %q; want the loader's error", eval[string](t, ctx, `document.getElementById("status").textContent`))
	}
	// The machine still answers, and the API refuses what holds no bytes.
	if e := eval[string](t, ctx, fl+`.loadGuest("x", 42, "")`); !strings.Contains(e, "Uint8Array") {
		t.Errorf("loadGuest with a number: %q", e)
	}
	if e := eval[string](t, ctx, fl+`.reset("`+triangleLink+`") || ""`); e != "" {
		t.Fatalf("the page after a refused module: %q", e)
	}
}

// Runs the controls cannot start say why, with nothing of the run before
// them: the status line has no time or frame count, and the timeline
// panel has no events left over.
func TestRefusedRun(t *testing.T) {
	ctx := page(t)
	open(t, ctx, triangleLink)
	if err := chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#displays"), "640x480x3"),
		chromedp.Click(chromedp.CSS("#apply")),
		chromedp.Sleep(600*time.Millisecond)) // the panel takes events every 100 ms
	if err != nil {
		t.Fatal(err)
	}
	st := eval[string](t, ctx, `document.getElementById("status").textContent`)
	if !strings.HasPrefix(st, "no run: ") || !strings.Contains(st, "640x480x3") {
		t.Errorf("status after a refused run: %q", st)
	}
	if n := eval[int](t, ctx, "window.timelinePanel.count"); n != 0 {
		t.Errorf("the panel holds %d events after a refused run; want none", n)
	}

	// A link whose config is JSON of the wrong shape is refused the same
	// way, not left loading.
	err = chromedp.Do(ctx, chromedp.Navigate(baseURL+`/index.html?guest=triangle&config=%7B%22displays%22%3A%22640x480%22%7D`),
		chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent.startsWith("no run: ")`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Errorf("a config of the wrong shape: status %q", eval[string](t, ctx, `document.getElementById("status").textContent`))
	}
	if d := eval[string](t, ctx, `document.getElementById("displays").value`); d != "640x480" {
		t.Errorf("the displays control shows %q for a config of the wrong shape", d)
	}

	// A new run starts at the slider's speed.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#displays"), "320x240"),
		chromedp.SetValue(chromedp.CSS("#speed"), "2"),
		chromedp.Click(chromedp.CSS("#apply")))
	if err != nil {
		t.Fatal(err)
	}
	if s := eval[float64](t, ctx, fl+".state().speed"); s != 4 {
		t.Errorf("speed after Run with the slider at 4×: %v", s)
	}
}

// A guest that never blocks cannot hang the tab: no timer fires in the
// browser while it spins, but its loop budget runs out and stops it, and
// the page goes on answering (README's hostcall with a huge count; the
// default budget would take a few seconds, a small one is set here).
func TestSpinningGuestStops(t *testing.T) {
	ctx := page(t)
	open(t, ctx, `guest=hostcall&arg=2000000000&config=%7B%22loop_budget%22%3A100000%7D`)
	err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fl+`.output().includes("loop budget")`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("hostcall spinning: output %q: %v", eval[string](t, ctx, fl+".output()"), err)
	}
	if e := eval[string](t, ctx, fl+`.reset("`+triangleLink+`") || ""`); e != "" {
		t.Fatalf("the page after a stopped guest: %q", e)
	}
}

// The timeline panel's zoom stays on the run: wheeling far out stops at
// twice the run's length (100 ms at least) and never shows time before
// boot; wheeling far in stops at 1 ns a pixel, where the axis labels
// still tell neighbouring ticks apart. Hovering an ioctl names it.
func TestTimelineZoom(t *testing.T) {
	ctx := page(t)
	open(t, ctx, triangleLink)
	if err := chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	wheel := func(dy, n int) map[string]float64 {
		return eval[map[string]float64](t, ctx, fmt.Sprintf(`(() => {
			const c = document.getElementById("timeline"), r = c.getBoundingClientRect();
			for (let i = 0; i < %d; i++)
				c.dispatchEvent(new WheelEvent("wheel", {deltaY: %d, clientX: r.left + 400, clientY: r.top + 40, bubbles: true, cancelable: true}));
			const p = window.timelinePanel, w = c.clientWidth - p.gutter;
			return {t0: p.view.t0, span: p.view.nsPerPx * w, nsPerPx: p.view.nsPerPx, run: p.tMax - p.tMin};
		})()`, n, dy))
	}
	out := wheel(500, 200)
	if out["t0"] < 1e9 || out["span"] > max(2*out["run"], 100e6)*1.0001 {
		t.Errorf("zoomed far out: %v", out)
	}
	in := wheel(-500, 400)
	if in["nsPerPx"] != 1 {
		t.Errorf("zoomed far in: %v ns a pixel; want 1", in["nsPerPx"])
	}
	if a, b := eval[string](t, ctx, `fmtTick(17863200, 200)`), eval[string](t, ctx, `fmtTick(17863400, 200)`); a == b {
		t.Errorf("two ticks 200 ns apart both read %q", a)
	}
	if d := eval[string](t, ctx, `describe({t: 1e9, kind: "ioctl-enter", ioctl: 0xC00864BF})`); !strings.Contains(d, "ioctl = SYNCOBJ_CREATE (0xc00864bf)") {
		t.Errorf("an ioctl described: %q", d)
	}
}
