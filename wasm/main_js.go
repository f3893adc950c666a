// Command wasm is fencelab in a browser tab (GOOS=js GOARCH=wasm): it
// boots a session from the page's link, runs it paced to wall time in
// ebiten's loop, draws the outputs with WebGL, and gives the page a
// small JavaScript API, window.fencelab:
//
//	start() pause() step() stepFrame() setSpeed(x)
//	reset(query)        a new session from a link's query (session.ParseQuery)
//	loadGuest(name, bytes, query)  a module of one's own
//	state()             {now, frames, running, speed, done, error, outputs, width, height, link, fps, draws, missed}
//	hash()              the first output's frame hash (present.Hash), as the headless runner computes it
//	output()            what each process wrote
//	stream()            the run's stream to the dev server: {state, run, emitted, acked, dropped, error}
//	guests()            the built guests' names
//	ioctlName(request)  the driver's name for an ioctl request number ("" if none)
//	run(ns)             runs ns of virtual time at once, paused; the wall ms it took
//	onEvents            set by the page: called with batches of timeline events (JSON lines)
package main

import (
	"context"
	"fmt"
	"image"
	"math"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"fencelab/drm"
	builtin "fencelab/guests"
	"fencelab/present"
	"fencelab/session"
	"fencelab/stream"
	"fencelab/timeline"
)

// app is the one session the page shows, with what ebiten needs to draw
// it. JavaScript calls and ebiten's loop run on different goroutines:
// mu guards everything.
type app struct {
	mu      sync.Mutex
	r       *session.Runner
	err     error           // why the last reset failed
	outs    []output        // what each output shows
	drewOn  image.Rectangle // the screen Draw last wrote to
	rows    []byte          // scratch: a rectangle's rows back to back, for WritePixels
	drawn   int             // guest frames when the last Draw ran
	draws   int             // Draws while running
	missed  int             // of those, ones that did not show exactly one new guest frame
	events  *feed
	stream  *stream.Client // the run's stream to the dev server, if one answers
	flushed time.Time      // when the page last got events

	// Where the time goes, for the benchmarks: the machine's run, the
	// writes of new pixels to the screen (part of Draw), and Draw, in
	// wall milliseconds.
	machineMS, uploadMS, drawMS float64
}

// output is one output as the page has it: its picture (the session's,
// kept current by it) and the rectangles that changed since Draw last
// wrote them to the screen.
type output struct {
	img   *image.RGBA
	dirty []image.Rectangle
}

// maxDirty bounds an output's dirty list: past it, the whole output.
const maxDirty = 32

func main() {
	a := &app{events: newFeed()}
	query := strings.TrimPrefix(js.Global().Get("location").Get("search").String(), "?")
	if query == "" {
		query = "guest=triangle"
	}
	a.reset(query, nil)
	a.export()
	ebiten.SetWindowTitle("fencelab")
	ebiten.SetTPS(ebiten.SyncWithFPS) // one Update a drawn frame: see session.Runner
	ebiten.SetScreenClearedEveryFrame(false)
	if err := ebiten.RunGame(a); err != nil {
		js.Global().Get("console").Call("error", "fencelab: "+err.Error())
	}
}

// reset starts a new session from a link's query (and the module, if one
// of the page's own). The old one goes, even if the new one fails.
func (a *app) reset(query string, wasm []byte) {
	if a.r != nil {
		a.r.S.Close() // its guests may never end: stop them, or the tab keeps every machine
	}
	a.r, a.err = nil, nil
	a.outs, a.drewOn = nil, image.Rectangle{} // even if the new run fails: the old one's pictures go
	a.events.discard()                        // and its events not yet sent
	if old := a.stream; old != nil {          // let it finish sending, in the background
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			old.Close(ctx)
		}()
		a.stream = nil
	}
	v, err := url.ParseQuery(query)
	if err != nil {
		a.err = fmt.Errorf("link: %w", err)
		return
	}
	spec, err := session.ParseQuery(v)
	if err != nil {
		a.err = err
		return
	}
	notReplayable := ""
	if wasm != nil {
		notReplayable = "a module of the user's own, loaded into the page"
	}
	a.events.reset(spec, notReplayable)
	// The run's stream to the dev server starts once the run has: a run
	// refused (an unknown guest, a module that does not load) records
	// nothing. Until then its first events wait in held.
	var sink timeline.Sink = a.events
	var held *heldEvents
	u, noServer := stream.URLFromPage(js.Global().Get("location").Get("href").String())
	if noServer == nil {
		held = &heldEvents{}
		sink = timeline.Tee(a.events, held)
	}
	s, err := session.New(spec, wasm, sink)
	if err != nil {
		a.err = err
		a.events.discard() // what the machine said before the guest failed to start
		return
	}
	a.events.named(s.ProcessNames())
	if held != nil {
		a.stream = stream.New(u, a.events.meta, stream.Options{})
		for _, e := range held.events {
			a.stream.Emit(e)
		}
		held.events, held.to = nil, a.stream
	}
	a.outs = make([]output, s.Outputs())
	a.drewOn = image.Rectangle{} // the new outputs are written whole
	a.drawn, a.draws, a.missed = 0, 0, 0
	s.OnFrame(func(out int, img *image.RGBA, changed []image.Rectangle) {
		o := &a.outs[out]
		if o.img == nil || o.img.Bounds() != img.Bounds() {
			a.drewOn = image.Rectangle{} // the outputs move: the screen is written anew
		}
		switch {
		case o.img == nil || o.img.Bounds() != img.Bounds() || len(o.dirty)+len(changed) > maxDirty:
			o.dirty = append(o.dirty[:0], img.Bounds())
		case len(o.dirty) == 1 && o.dirty[0] == img.Bounds(): // all of it already
		default:
			o.dirty = append(o.dirty, changed...)
		}
		o.img = img
	})
	a.r = session.NewRunner(s)
	a.r.Running = true
}

// Update is ebiten's tick, one a drawn frame: the machine runs to the
// display's next vblank.
func (a *app) Update() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.r != nil {
		start := time.Now()
		a.r.Frame()
		a.machineMS += ms(time.Since(start))
	}
	// The page takes events ten times a second: fewer, larger batches
	// cost it less than one a frame.
	if now := time.Now(); now.Sub(a.flushed) >= 100*time.Millisecond {
		a.events.flush()
		a.flushed = now
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Draw shows the outputs side by side.
func (a *app) Draw(screen *ebiten.Image) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	defer func() { a.drawMS += ms(time.Since(start)) }()
	a.write(screen)
	if a.r == nil {
		return
	}
	frames := a.r.S.Frames()
	if a.drawn == 0 && frames > 0 {
		js.Global().Get("fencelab").Set("firstFrameAt", js.Global().Get("performance").Call("now"))
	}
	// A vblank is missed when a drawn frame shows no new guest frame, or
	// more than one (one went by unseen), while the guest runs. Frames
	// are counted over all outputs together, so the count means what it
	// says for a guest flipping one output every vblank, as triangle
	// does (BenchmarkTriangleFPS); with two outputs flipping, every draw
	// would count.
	if a.r.Running && !a.r.S.Done() && a.drawn > 0 {
		a.draws++
		if n := frames - a.drawn; n != 1 {
			a.missed += max(n-1, 1)
		}
	}
	a.drawn = frames
}

// write puts the outputs' changed pixels on the screen, side by side.
// The screen keeps what was written to it (SetScreenClearedEveryFrame is
// off), so only what changed is written, straight into the screen: no
// image of its own per output and no draw of one into the screen, which
// would cost SwiftShader a pass over every pixel each frame. With nothing
// new, nothing is written and ebiten skips the frame, so a paused or
// idle machine costs the browser next to nothing.
func (a *app) write(screen *ebiten.Image) {
	start := time.Now()
	// A new screen, or outputs that moved: write it all, from black.
	whole := screen.Bounds() != a.drewOn
	if whole {
		screen.Clear()
	}
	x := 0
	for i := range a.outs {
		o := &a.outs[i]
		if o.img == nil {
			continue
		}
		rects := o.dirty
		if whole {
			rects = []image.Rectangle{o.img.Bounds()}
		}
		off := image.Pt(x, 0).Sub(o.img.Rect.Min)
		for _, r := range rects {
			// Only what the screen holds: Layout comes before Update in
			// ebiten's tick, so an output that grew or lit up this tick
			// gets a screen of the new size only at the next.
			if d := r.Intersect(o.img.Bounds()).Add(off).Intersect(screen.Bounds()); !d.Empty() {
				screen.SubImage(d).(*ebiten.Image).WritePixels(a.pixels(o.img, d.Sub(off)))
			}
		}
		o.dirty = o.dirty[:0]
		x += o.img.Bounds().Dx()
	}
	a.drewOn = screen.Bounds()
	a.uploadMS += ms(time.Since(start))
}

// pixels returns rectangle r of img as WritePixels wants it, its rows
// back to back: img's own bytes when they already are (whole rows),
// else a copy.
func (a *app) pixels(img *image.RGBA, r image.Rectangle) []byte {
	n := 4 * r.Dx()
	if n == img.Stride {
		return img.Pix[img.PixOffset(r.Min.X, r.Min.Y):][:n*r.Dy()]
	}
	a.rows = slices.Grow(a.rows[:0], n*r.Dy())[:n*r.Dy()]
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(a.rows[(y-r.Min.Y)*n:], img.Pix[img.PixOffset(r.Min.X, y):][:n])
	}
	return a.rows
}

// DrawFinalScreen puts the screen on the canvas (ebiten.FinalScreenDrawer).
// The outputs are opaque, so the screen is copied rather than blended as
// ebiten's own final draw does, which spares SwiftShader a read of every
// pixel a frame; a scale that is not whole (a page frame of another size
// than the outputs) is filtered.
func (a *app) DrawFinalScreen(screen ebiten.FinalScreen, off *ebiten.Image, geoM ebiten.GeoM) {
	op := &ebiten.DrawImageOptions{GeoM: geoM, Blend: ebiten.BlendCopy}
	if s := geoM.Element(0, 0); s != math.Trunc(s) {
		op.Filter = ebiten.FilterLinear
	}
	screen.DrawImage(off, op)
}

// Layout is the outputs' size, side by side.
func (a *app) Layout(int, int) (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size()
}

func (a *app) size() (w, h int) {
	if a.r == nil {
		return 640, 480
	}
	for _, o := range a.outs {
		if o.img != nil {
			w += o.img.Rect.Dx()
			h = max(h, o.img.Rect.Dy())
		}
	}
	if w > 0 {
		return w, h
	}
	// Nothing shown yet: the displays side by side, as they will be.
	d := a.r.S.Spec.Options.Displays
	if len(d) == 0 {
		return 1024, 768
	}
	for _, size := range d {
		var wi, hi int
		fmt.Sscanf(size, "%dx%d", &wi, &hi)
		w, h = w+wi, max(h, hi)
	}
	return w, h
}

// export installs window.fencelab.
func (a *app) export() {
	api := js.Global().Get("fencelab")
	if api.IsUndefined() {
		api = js.Global().Get("Object").New()
		js.Global().Set("fencelab", api)
	}
	// A call from the page that goes wrong answers with an error (the
	// console says where); it must not end the Go program, which would
	// leave the page driving a machine that is gone.
	fn := func(name string, f func(args []js.Value) any) {
		api.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) (res any) {
			a.mu.Lock()
			defer a.mu.Unlock()
			defer func() {
				if p := recover(); p != nil {
					msg := fmt.Sprintf("fencelab.%s: %v", name, p)
					js.Global().Get("console").Call("error", msg+"\n"+string(debug.Stack()))
					res = msg
				}
			}()
			return f(args)
		}))
	}
	fn("start", func([]js.Value) any {
		if a.r != nil {
			a.r.Running = true
		}
		return nil
	})
	fn("pause", func([]js.Value) any {
		if a.r != nil {
			a.r.Running = false
		}
		return nil
	})
	fn("step", func([]js.Value) any {
		if a.r != nil {
			a.r.Step()
			a.events.flush()
		}
		return nil
	})
	fn("stepFrame", func([]js.Value) any {
		ok := false
		if a.r != nil {
			ok = a.r.StepFrame()
			a.events.flush()
		}
		return ok
	})
	fn("setSpeed", func(args []js.Value) any {
		if a.r != nil && len(args) == 1 && args[0].Type() == js.TypeNumber {
			if s := args[0].Float(); s > 0 && s <= 100 {
				a.r.Speed = s
			}
		}
		return nil
	})
	fn("reset", func(args []js.Value) any {
		if len(args) != 1 || args[0].Type() != js.TypeString {
			return "reset takes a link's query"
		}
		a.reset(args[0].String(), nil)
		return errString(a.err)
	})
	fn("loadGuest", func(args []js.Value) any {
		if len(args) != 3 || args[0].Type() != js.TypeString || args[2].Type() != js.TypeString {
			return "loadGuest takes a name, the module's bytes and a link's query"
		}
		b, ok := bytesOf(args[1])
		if !ok {
			return "loadGuest: the module's bytes must be a Uint8Array or an ArrayBuffer"
		}
		v, _ := url.ParseQuery(args[2].String())
		v.Set("guest", args[0].String())
		a.reset(v.Encode(), b)
		return errString(a.err)
	})
	fn("state", func([]js.Value) any {
		st := map[string]any{"error": errString(a.err), "running": false}
		if a.r != nil {
			w, h := a.size()
			st = map[string]any{
				"now": float64(a.r.S.M.Now()), "frames": a.r.S.Frames(), "running": a.r.Running, "speed": a.r.Speed,
				"done": a.r.S.Done(), "error": errString(a.r.Err), "outputs": a.r.S.Outputs(),
				"width": w, "height": h, "link": a.r.S.Spec.Query().Encode(),
				"fps": ebiten.ActualFPS(), "draws": a.draws, "missed": a.missed,
				"machineMS": a.machineMS, "uploadMS": a.uploadMS, "drawMS": a.drawMS,
			}
		}
		return st
	})
	fn("hash", func([]js.Value) any {
		if a.r == nil {
			return ""
		}
		if f := a.r.S.Frame(0); f != nil {
			return present.Hash(f)
		}
		return ""
	})
	fn("ioctlName", func(args []js.Value) any {
		if len(args) != 1 || args[0].Type() != js.TypeNumber {
			return ""
		}
		return drm.IoctlName(uint32(args[0].Float()))
	})
	fn("guests", func([]js.Value) any {
		var names []any
		for _, n := range builtin.Names() {
			names = append(names, n)
		}
		return names
	})
	fn("run", func(args []js.Value) any {
		if a.r == nil || len(args) != 1 || args[0].Type() != js.TypeNumber {
			return nil
		}
		start := time.Now()
		a.r.Running = false
		a.r.Err = a.r.S.Run(a.r.S.M.Now() + int64(args[0].Float()))
		a.events.flush()
		return float64(time.Since(start).Microseconds()) / 1000
	})
	fn("stream", func([]js.Value) any {
		if a.stream == nil {
			return map[string]any{"state": "off"}
		}
		st := a.stream.Status()
		return map[string]any{"state": st.State.String(), "run": st.Run, "acked": float64(st.Acked),
			"emitted": float64(st.Emitted), "dropped": float64(st.Dropped), "error": errString(st.Err)}
	})
	fn("output", func([]js.Value) any {
		if a.r == nil {
			return ""
		}
		// As fencelab run prints it: each process under its name when
		// there are several, then how it ended.
		var b strings.Builder
		procs := a.r.S.Procs
		for _, p := range procs {
			if len(procs) > 1 {
				fmt.Fprintf(&b, "== %s\n", p.Name)
			}
			out, errOut := p.Output()
			b.WriteString(out)
			b.WriteString(errOut)
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
				b.WriteByte('\n')
			}
			code, done := p.Exit()
			switch {
			case p.Err() != nil:
				fmt.Fprintf(&b, "[%s: %v]\n", p.Name, p.Err())
			case done:
				fmt.Fprintf(&b, "[%s exited with status %d]\n", p.Name, code)
			}
		}
		return b.String()
	})
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

// bytesOf copies a Uint8Array or an ArrayBuffer into Go. The page's
// controls live in another frame, whose Uint8Array is not this frame's
// (js.CopyBytesToGo would panic), so anything else that holds bytes is
// first viewed through this frame's Uint8Array.
func bytesOf(v js.Value) ([]byte, bool) {
	if v.Type() != js.TypeObject {
		return nil, false
	}
	u8 := js.Global().Get("Uint8Array")
	if !v.InstanceOf(u8) {
		buf := v
		if b := v.Get("buffer"); b.Type() == js.TypeObject { // a view: its own window of the buffer
			off, n := v.Get("byteOffset"), v.Get("byteLength")
			if off.Type() != js.TypeNumber || n.Type() != js.TypeNumber {
				return nil, false
			}
			buf = u8.New(b, off, n)
		} else if v.Get("byteLength").Type() == js.TypeNumber { // an ArrayBuffer
			buf = u8.New(v)
		} else {
			return nil, false
		}
		v = buf
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, true
}

// heldEvents keeps a run's first events until the sink they are for
// exists, then passes every event on to it.
type heldEvents struct {
	events []timeline.Event
	to     timeline.Sink
}

func (h *heldEvents) Emit(e timeline.Event) {
	if h.to != nil {
		h.to.Emit(e)
		return
	}
	h.events = append(h.events, e)
}
