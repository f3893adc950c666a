package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fencelab/internal/gotool"
)

// The browser figures of BENCHMARKS.md. Each iteration is one whole
// measurement in a fresh tab; the bundle is served from loopback, so
// the wasm's download costs next to nothing and the figures are the
// browser's own work (compiling and starting the Go wasm, the machine).

const hd = `config=%7B%22displays%22%3A%5B%221280x720%22%5D%7D`

// BenchmarkPageLoad: from navigating to the page to the first guest
// frame drawn on the canvas, triangle at 1280x720.
func BenchmarkPageLoad(b *testing.B) {
	var total float64
	for range b.N {
		ctx := page(b)
		open(b, ctx, "guest=triangle&"+hd)
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](fl+`.firstFrameAt !== undefined`, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			b.Fatal(err)
		}
		// The frame's clock starts later than the page's: both as wall times.
		ms := eval[float64](b, ctx, `(() => { const w = document.getElementById("screen").contentWindow;
			return w.performance.timeOrigin + w.fencelab.firstFrameAt - performance.timeOrigin; })()`)
		total += ms
		closeTab(b, ctx)
	}
	b.ReportMetric(total/float64(b.N), "ms-to-first-frame")
}

// BenchmarkTriangleFPS: ten seconds of triangle at 1280x720 (and at
// 640x480) in real time: frames drawn a second and vblanks missed (a
// drawn frame that did not show exactly one new guest frame), per 600.
func BenchmarkTriangleFPS(b *testing.B) {
	for _, size := range []string{"1280x720", "640x480"} {
		b.Run(size, func(b *testing.B) {
			triangleFPS(b, `config=%7B%22displays%22%3A%5B%22`+size+`%22%5D%7D`)
		})
	}
}

func triangleFPS(b *testing.B, config string) {
	for range b.N {
		ctx := page(b)
		open(b, ctx, "guest=triangle&arg=0&"+config)
		if err := chromedp.Do(ctx, chromedp.Sleep(2*time.Second)); err != nil { // past start-up
			b.Fatal(err)
		}
		type st struct {
			Draws, Missed, Frames       float64
			FPS                         float64
			MachineMS, UploadMS, DrawMS float64
		}
		read := func() st {
			return eval[st](b, ctx, `(() => { const s = `+fl+`.state(); return {Draws: s.draws, Missed: s.missed, Frames: s.frames,
				FPS: s.fps, MachineMS: s.machineMS, UploadMS: s.uploadMS, DrawMS: s.drawMS}; })()`)
		}
		a := read()
		t0 := time.Now()
		if err := chromedp.Do(ctx, chromedp.Sleep(10*time.Second)); err != nil {
			b.Fatal(err)
		}
		z := read()
		secs := time.Since(t0).Seconds()
		draws := z.Draws - a.Draws
		b.ReportMetric(draws/secs, "fps")
		b.ReportMetric((z.Frames-a.Frames)/secs, "guest-frames/s")
		b.ReportMetric(600*(z.Missed-a.Missed)/max(draws, 1), "missed/600")
		b.ReportMetric(z.FPS, "ebiten-fps")
		// Draw writes the new pixels to the screen (the upload) and does
		// the rest; the machine runs in Update.
		b.ReportMetric((z.MachineMS-a.MachineMS)/max(draws, 1), "machine-ms/frame")
		b.ReportMetric((z.UploadMS-a.UploadMS)/max(draws, 1), "upload-ms/frame")
		b.ReportMetric((z.DrawMS-a.DrawMS-(z.UploadMS-a.UploadMS))/max(draws, 1), "draw-ms/frame")
		closeTab(b, ctx)
	}
}

// The ceilings: what this browser on this machine can show at 1280x720
// with nothing of fencelab's in the way, measured as the page is. A
// frame rate the page cannot reach because its stack cannot is told
// apart from one its own code loses.

// BenchmarkCeilingEbiten: the smallest ebiten program that shows a new
// 1280x720 frame each frame the way the page does (web/ceiling/main_js.go),
// frames drawn a second over ten seconds.
func BenchmarkCeilingEbiten(b *testing.B) {
	ctx := page(b)
	cmd := exec.Command(gotool.Path(), "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(bundleDir, "ceiling.wasm"), "./ceiling")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building web/ceiling: %v\n%s", err, out)
	}
	ceiling(b, ctx, "ceiling/index.html", "ceiling.html")
}

// BenchmarkCeilingWebGL: the same frame in plain WebGL2, no Go and no
// ebiten (web/ceiling/webgl.html).
func BenchmarkCeilingWebGL(b *testing.B) {
	ceiling(b, page(b), "ceiling/webgl.html", "webgl.html")
}

// ceiling serves the page src as name and reports the frames it draws a
// second over ten seconds, after two to start, in a 1280x720 viewport.
func ceiling(b *testing.B, ctx context.Context, src, name string) {
	html, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, name), html, 0o644); err != nil {
		b.Fatal(err)
	}
	err = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(baseURL+"/"+name),
		chromedp.Poll[chromedp.Void](`window.ceilingDraws > 0`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var fps float64
	for range b.N {
		if err := chromedp.Do(ctx, chromedp.Sleep(2*time.Second)); err != nil {
			b.Fatal(err)
		}
		a := eval[float64](b, ctx, `window.ceilingDraws`)
		t0 := time.Now()
		if err := chromedp.Do(ctx, chromedp.Sleep(10*time.Second)); err != nil {
			b.Fatal(err)
		}
		z := eval[float64](b, ctx, `window.ceilingDraws`)
		fps += (z - a) / time.Since(t0).Seconds()
	}
	b.ReportMetric(fps/float64(b.N), "fps")
}

// closeTab closes a measurement's tab at once: a tab left running takes
// the cores from the next measurement.
func closeTab(b *testing.B, ctx context.Context) {
	if err := chromedp.Cancel(ctx); err != nil {
		b.Logf("closing the tab: %v", err)
	}
}

// BenchmarkHostCallBrowser: one system call from the tiny C guest
// (guests/c/hostcall.c), in the browser's wazero interpreter.
func BenchmarkHostCallBrowser(b *testing.B) {
	const calls = 1_000_000
	ctx := page(b)
	open(b, ctx, "guest=hello")
	b.ResetTimer()
	var ns float64
	for range b.N {
		ms := eval[float64](b, ctx, fmt.Sprintf(`(() => { const f = %s;
			const err = f.reset("guest=hostcall&arg=%d"); if (err) throw new Error(err);
			f.pause(); const ms = f.run(1e15);
			if (!f.state().done) throw new Error("hostcall did not finish"); return ms; })()`, fl, calls))
		ns += ms * 1e6 / calls
	}
	b.ReportMetric(ns/float64(b.N), "ns/call")
}

// BenchmarkWasmSize: the bundle's fencelab.wasm raw, gzip -9 and brotli
// -q 11 (the brotli tool, if installed), in bytes. One measurement,
// whatever b.N: the sizes do not vary.
func BenchmarkWasmSize(b *testing.B) {
	dir := b.TempDir()
	if err := bundle(dir); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "fencelab.wasm")
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(raw)
	w.Close()
	b.ReportMetric(float64(len(raw)), "raw-bytes")
	b.ReportMetric(float64(gz.Len()), "gzip-bytes")
	if _, err := exec.LookPath("brotli"); err == nil {
		if out, err := exec.CommandContext(context.Background(), "brotli", "-q", "11", "-k", "-f", path).CombinedOutput(); err != nil {
			b.Fatalf("brotli: %v\n%s", err, out)
		}
		if fi, err := os.Stat(path + ".br"); err == nil {
			b.ReportMetric(float64(fi.Size()), "brotli-bytes")
		}
	}
}
