package web

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fencelab/internal/gotool"
	"fencelab/timeline"
)

// devServer builds and starts cmd/devserver on a free loopback port,
// serving the test bundle and keeping runs in a temporary directory; it
// returns the server's address.
func devServer(t testing.TB) string {
	t.Helper()
	page(t) // the bundle and the browser
	dir := t.TempDir()
	bin := filepath.Join(dir, "devserver")
	if out, err := exec.Command(gotool.Path(), "build", "-o", bin, "../cmd/devserver").CombinedOutput(); err != nil {
		t.Fatalf("building the dev server: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-addr", addr, "-web", bundleDir, "-recordings", filepath.Join(dir, "runs"), "-src", "")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/runs"); err == nil {
			resp.Body.Close()
			return "http://" + addr
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the dev server did not come up")
		}
	}
}

// streamed runs the page from the dev server with link to the end of its
// guests and waits until the server has acknowledged every event: the
// run's id, how many events it had, and the wall time from the end of the
// guests' run (which holds the page's only thread) to the last
// acknowledgement, when the stream alone is at work.
func streamed(t testing.TB, ctx context.Context, server, link string) (run string, events int, took time.Duration) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(server+"/index.html?"+link),
		chromedp.Poll[chromedp.Void](`(() => { try { const s = `+fl+`.stream(); return s.run !== "" && s.run !== undefined; } catch (e) { return false; } })()`,
			chromedp.WithPollingTimeout(60*time.Second)),
	)
	if err != nil {
		t.Fatalf("the page did not start streaming: %v", err)
	}
	// Run the guests to their end at once, then wait for the last ack.
	eval[float64](t, ctx, fl+`.run(1e13)`)
	start := time.Now()
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`(() => { const s = `+fl+`.stream();
		return `+fl+`.state().done && s.emitted > 0 && s.acked === s.emitted; })()`,
		chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(5*time.Millisecond)))
	took = time.Since(start)
	if err != nil {
		t.Fatalf("the server did not acknowledge every event: %v (%v)", err, eval[map[string]any](t, ctx, fl+".stream()"))
	}
	st := eval[map[string]any](t, ctx, fl+".stream()")
	if st["dropped"].(float64) != 0 {
		t.Fatalf("the page's stream dropped %v events", st["dropped"])
	}
	return st["run"].(string), int(st["emitted"].(float64)), took
}

// The page served by the dev server streams its run there: the stored
// file is the run's timeline exactly, event for event what a headless
// run of the same link records.
func TestStreamsToDevServer(t *testing.T) {
	server := devServer(t)
	ctx := page(t)
	link := `guest=triangle&arg=20&config=%7B%22displays%22%3A%5B%22160x120%22%5D%7D`
	run, n, _ := streamed(t, ctx, server, link)

	resp, err := http.Get(server + "/runs/" + run + ".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	meta, stored, err := timeline.ReadAll(strings.NewReader(string(body)), 1<<22)
	if err != nil {
		t.Fatalf("the stored run: %v", err)
	}
	if meta.Guest != "triangle" || len(stored) != n {
		t.Fatalf("stored run: guest %q, %d events; the page emitted %d", meta.Guest, len(stored), n)
	}

	// The same link headless, recorded in full.
	rec := &timeline.Recorder{}
	if err := newSession(t, link, rec).Run(1 << 62); err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != len(stored) {
		t.Fatalf("headless: %d events; stored: %d", len(rec.Events), len(stored))
	}
	for i := range stored {
		if stored[i] != rec.Events[i] {
			t.Fatalf("event %d: stored %+v, headless %+v", i, stored[i], rec.Events[i])
		}
	}
	// The stored run opens in the page's viewer: the timeline panel
	// reads all of it, with no machine running.
	err = chromedp.Do(ctx,
		chromedp.Navigate(server+"/index.html?run="+run),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`window.timelinePanel && window.timelinePanel.count === %d`, n),
			chromedp.WithPollingTimeout(20*time.Second)),
	)
	if err != nil {
		t.Errorf("the viewer did not load the %d events of run %s: %v (count %v)", n, run, err,
			eval[float64](t, ctx, "window.timelinePanel.count"))
	}
	if eval[bool](t, ctx, `document.getElementById("screenbox").hidden === false`) {
		t.Error("the viewer of a stored run shows a screen")
	}

	// And the runs page lists it.
	resp, err = http.Get(server + "/runs")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(list), run) {
		t.Errorf("/runs does not list run %s", run)
	}
}

// A run the page refuses (here an unknown guest, found only once the
// machine is up) opens no stream: the dev server records no run of it.
func TestRefusedRunNotStreamed(t *testing.T) {
	server := devServer(t)
	ctx := page(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(server+"/index.html?guest=nosuch"),
		chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent.startsWith("no run: ")`,
			chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("status for an unknown guest: %q", eval[string](t, ctx, `document.getElementById("status").textContent`))
	}
	if st := eval[string](t, ctx, fl+".stream().state"); st != "off" {
		t.Errorf("the refused run's stream: %q; want off", st)
	}
}

// BenchmarkStreamBrowser: events a second from the page in headless
// Chromium to the dev server, with none lost: the conformance guest's
// timeline (thousands of ioctls), run at once, then timed from the end of
// the run to the server's last acknowledgement.
func BenchmarkStreamBrowser(b *testing.B) {
	server := devServer(b)
	var rate float64
	for range b.N {
		ctx := page(b)
		_, n, took := streamed(b, ctx, server, "guest=conformance")
		rate += float64(n) / took.Seconds()
		b.ReportMetric(float64(n), "events")
		closeTab(b, ctx)
	}
	b.ReportMetric(rate/float64(b.N), "events/s")
}
