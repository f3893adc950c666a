package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fencelab/stream"
	"fencelab/timeline"
)

// get fetches path from the test server with the given headers.
func (ts *testServer) get(t *testing.T, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// The transport would decompress gzip itself if it had asked.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func writeFile(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func gz(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

// The bundle's files are served with the right type; the wasm's
// pre-compressed variants are chosen by Accept-Encoding.
func TestStaticPrecompressed(t *testing.T) {
	ts := startServer(t, nil)
	web := ts.cfg.Web
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(web, "index.html"), "<!doctype html>page", t0)
	writeFile(t, filepath.Join(web, "wasm_exec.js"), "// glue", t0)
	writeFile(t, filepath.Join(web, "fencelab.wasm"), "\x00asm raw", t0)
	writeFile(t, filepath.Join(web, "fencelab.wasm.br"), "brotli bytes", t0.Add(time.Second))
	writeFile(t, filepath.Join(web, "fencelab.wasm.gz"), gz(t, "\x00asm raw"), t0.Add(time.Second))
	writeFile(t, filepath.Join(web, "app.js"), "// new", t0.Add(time.Hour))
	writeFile(t, filepath.Join(web, "app.js.gz"), gz(t, "// old"), t0) // older than app.js: not served
	writeFile(t, filepath.Join(web, ".secret"), "no", t0)
	writeFile(t, filepath.Join(web, "sub", "x.txt"), "x", t0)

	for _, tt := range []struct {
		path, accept string
		status       int
		body, ctype  string
		encoding     string
		vary         bool
	}{
		{"/fencelab.wasm", "gzip, deflate, br, zstd", 200, "brotli bytes", "application/wasm", "br", true},
		{"/fencelab.wasm", "gzip", 200, gz(t, "\x00asm raw"), "application/wasm", "gzip", true},
		{"/fencelab.wasm", "br;q=0, gzip;q=0.5", 200, gz(t, "\x00asm raw"), "application/wasm", "gzip", true},
		{"/fencelab.wasm", "*", 200, "brotli bytes", "application/wasm", "br", true},
		{"/fencelab.wasm", "*;q=0, identity", 200, "\x00asm raw", "application/wasm", "", true},
		{"/fencelab.wasm", "", 200, "\x00asm raw", "application/wasm", "", true},
		{"/app.js", "gzip", 200, "// new", "text/javascript; charset=utf-8", "", true},
		{"/", "br", 200, "<!doctype html>page", "text/html; charset=utf-8", "", false},
		{"/?run=20261125-010203-abcdef", "", 200, "<!doctype html>page", "text/html; charset=utf-8", "", false},
		{"/wasm_exec.js", "", 200, "// glue", "text/javascript; charset=utf-8", "", false},
		{"/.secret", "", 404, "", "", "", false},
		{"/sub/", "", 404, "", "", "", false},
		{"/sub", "", 404, "", "", "", false},
		{"/../../etc/passwd", "", 404, "", "", "", false},
		{"/%2e%2e/%2e%2e/etc/passwd", "", 404, "", "", "", false},
	} {
		resp, body := ts.get(t, tt.path, "Accept-Encoding", tt.accept)
		name := tt.path + " (" + tt.accept + ")"
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d; want %d", name, resp.StatusCode, tt.status)
			continue
		}
		if tt.status != 200 {
			continue
		}
		if body != tt.body {
			t.Errorf("%s: body %q; want %q", name, body, tt.body)
		}
		if got := resp.Header.Get("Content-Type"); got != tt.ctype {
			t.Errorf("%s: Content-Type %q; want %q", name, got, tt.ctype)
		}
		if got := resp.Header.Get("Content-Encoding"); got != tt.encoding {
			t.Errorf("%s: Content-Encoding %q; want %q", name, got, tt.encoding)
		}
		if got := resp.Header.Get("Vary") == "Accept-Encoding"; got != tt.vary {
			t.Errorf("%s: Vary %q; want it %v", name, resp.Header.Get("Vary"), tt.vary)
		}
	}

	// Without a bundle, the page says how to build one.
	os.RemoveAll(web)
	resp, body := ts.get(t, "/")
	if resp.StatusCode != 404 || !strings.Contains(body, "make bundle") {
		t.Errorf("no bundle: %d %q; want 404 saying make bundle", resp.StatusCode, body)
	}
}

// Requests naming another host are refused (DNS rebinding); this
// machine's names and addresses are answered.
func TestHostCheck(t *testing.T) {
	ts := startServer(t, func(c *config) { c.Hosts = []string{"fencelab.test"} })
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{hostOf(ts.url), true},
		{"localhost:8080", true},
		{"LOCALHOST", true},
		{"[::1]:8080", true},
		{"fencelab.test:1", true},
		{"evil.example:8080", false},
		{"localhost.evil.example", false},
	} {
		resp, _ := ts.get(t, "/runs", "Host", tt.host)
		if got := resp.StatusCode == 200; got != tt.ok {
			t.Errorf("Host %q: status %d; want ok=%v", tt.host, resp.StatusCode, tt.ok)
		}
	}
}

// storeRun streams events as a run and returns its id.
func storeRun(t *testing.T, ts *testServer, m timeline.Meta, evs []timeline.Event) string {
	t.Helper()
	c := stream.New(ts.ws, m, fast(stream.Options{}))
	for _, e := range evs {
		c.Emit(e)
	}
	return closeClient(t, c).Run
}

// A run's files: JSON lines as stored, a Perfetto trace; run ids that
// would leave the directory are refused, and so are links out of it.
func TestRunFiles(t *testing.T) {
	ts := startServer(t, nil)
	id := storeRun(t, ts, testMeta, goldenEvents)
	stored, err := os.ReadFile(filepath.Join(ts.cfg.Recordings, id+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.get(t, "/runs/"+id+".jsonl")
	if resp.StatusCode != 200 || body != string(stored) {
		t.Errorf("/runs/%s.jsonl: %d %q; want the stored file", id, resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/runs/"+id+".json")
	var trace struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal([]byte(body), &trace); err != nil || resp.StatusCode != 200 || len(trace.TraceEvents) == 0 {
		t.Errorf("/runs/%s.json: %d, %v, %d trace events; want a Chrome trace", id, resp.StatusCode, err, len(trace.TraceEvents))
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, id+".json") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if !strings.Contains(body, "DRM_IOCTL_") {
		t.Errorf("the trace does not name ioctls")
	}

	// Outside the directory, by name or by link.
	outside := filepath.Join(t.TempDir(), "secret.jsonl")
	writeFile(t, outside, string(stored), time.Now())
	if err := os.Symlink(outside, filepath.Join(ts.cfg.Recordings, "escape.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(filepath.Dir(outside)), filepath.Join(ts.cfg.Recordings, "dir")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/runs/escape.jsonl", "/runs/escape.json", "/runs/escape/replay",
		"/runs/..%2F..%2Fetc%2Fpasswd.jsonl", "/runs/%2e%2e.jsonl", "/runs/..%2Fsecret.jsonl",
		"/runs/dir%2Fsecret.jsonl", "/runs/" + id + ".txt", "/runs/" + id + ".jsonl.json",
		"/runs/a.b.jsonl", "/runs/" + strings.Repeat("a", 65) + ".jsonl", "/runs/.jsonl",
		"/runs/%00.jsonl", "/runs/..%2F" + id + "/replay",
	} {
		if resp, body := ts.get(t, p); resp.StatusCode != 404 || strings.Contains(body, "kind") {
			t.Errorf("%s: %d %.80q; want 404", p, resp.StatusCode, body)
		}
	}
}

// /runs lists the runs with what they are; text from a stream is
// escaped, never markup.
func TestRunsPage(t *testing.T) {
	ts := startServer(t, nil)
	m := testMeta
	m.Guest = `<script>alert(1)</script>`
	id := storeRun(t, ts, m, goldenEvents)
	// A run copied in by hand is listed too.
	writeFile(t, filepath.Join(ts.cfg.Recordings, "by-hand.jsonl"),
		`{"format":"fencelab-timeline","version":1,"guest":"hello"}`+"\n"+`{"t":5,"kind":"process-start","pid":1}`+"\n", time.Now())
	writeFile(t, filepath.Join(ts.cfg.Recordings, "broken.jsonl"), "not a timeline\n", time.Now())
	writeFile(t, filepath.Join(ts.cfg.Recordings, "notes.txt"), "not a run", time.Now())
	resp, body := ts.get(t, "/runs")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/runs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`href="/?run=` + id + `"`, `href="/runs/` + id + `.jsonl"`, `href="/runs/` + id + `.json"`, `href="/runs/` + id + `/replay"`,
		"&lt;script&gt;", "ended", ">10<", "by-hand", ">hello<", "broken", "unreadable",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/runs lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", "notes"} {
		if strings.Contains(body, bad) {
			t.Errorf("/runs has %q", bad)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// When the sources are newer than the bundle, /runs and the console say
// how to rebuild; when the bundle is newer, they say nothing.
func TestBundleStale(t *testing.T) {
	src := t.TempDir()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(src, "go.mod"), "module fencelab\n", t0)
	writeFile(t, filepath.Join(src, "wasm", "main_js.go"), "package main\n", t0)
	writeFile(t, filepath.Join(src, "cmd", "devserver", "main.go"), "package main\n", t0.Add(time.Hour))   // not in the bundle
	writeFile(t, filepath.Join(src, "wasm", "x_test.go"), "package main\n", t0.Add(time.Hour))             // nor tests
	writeFile(t, filepath.Join(src, "web", "browser_test.go"), "package web\n", t0.Add(time.Hour))         // nor web/'s Go tests
	writeFile(t, filepath.Join(src, "web", "ceiling", "webgl.html"), "<!doctype html>", t0.Add(time.Hour)) // nor pages the bundle does not copy
	writeFile(t, filepath.Join(src, "web", "notes.txt"), "-", t0.Add(time.Hour))
	writeFile(t, filepath.Join(src, "web", ".#app.js"), "-", t0.Add(time.Hour)) // an editor's lock file
	web := filepath.Join(src, "out", "web")
	writeFile(t, filepath.Join(web, "fencelab.wasm"), "\x00asm", t0.Add(time.Minute))
	var logged []string
	ts := startServer(t, func(c *config) {
		c.Src, c.Web = src, web
		c.Logf = func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
	})
	if stale, _ := ts.bundle.check(); stale {
		t.Fatalf("stale with the bundle newer than the sources: %s", ts.bundle.message())
	}
	writeFile(t, filepath.Join(src, "web", "app.js"), "//", t0.Add(2*time.Minute))
	if stale, _ := ts.bundle.check(); !stale {
		t.Fatal("not stale after web/app.js changed")
	}
	_, body := ts.get(t, "/runs")
	if !strings.Contains(body, "out of date") || !strings.Contains(body, "make bundle") || !strings.Contains(body, "web/app.js") {
		t.Errorf("/runs does not say the bundle is stale and how to rebuild:\n%s", body)
	}
	if len(logged) == 0 || !strings.Contains(logged[len(logged)-1], "make bundle") {
		t.Errorf("console: %q; want a line saying make bundle", logged)
	}
	// A rebuild: the wasm, and the page's files copied.
	writeFile(t, filepath.Join(web, "fencelab.wasm"), "\x00asm", t0.Add(3*time.Minute))
	writeFile(t, filepath.Join(web, "app.js"), "//", t0.Add(3*time.Minute))
	if stale, _ := ts.bundle.check(); stale {
		t.Errorf("stale after a rebuild: %s", ts.bundle.message())
	}
	// Go sources are held to the wasm, the page's files each to its copy.
	writeFile(t, filepath.Join(src, "timeline", "event.go"), "package timeline\n", t0.Add(4*time.Minute))
	if stale, _ := ts.bundle.check(); !stale || !strings.Contains(ts.bundle.message(), "timeline/event.go") {
		t.Errorf("after timeline/event.go changed: %q", ts.bundle.message())
	}
	writeFile(t, filepath.Join(web, "fencelab.wasm"), "\x00asm", t0.Add(5*time.Minute))
	writeFile(t, filepath.Join(src, "web", "app.js"), "//", t0.Add(6*time.Minute))
	writeFile(t, filepath.Join(web, "app.js"), "//", t0.Add(6*time.Minute)) // copied keeping its time
	if stale, _ := ts.bundle.check(); stale {
		t.Errorf("stale with every file as new as its source: %s", ts.bundle.message())
	}
	os.Remove(filepath.Join(web, "fencelab.wasm"))
	if stale, _ := ts.bundle.check(); !stale || !strings.Contains(ts.bundle.message(), "missing") {
		t.Errorf("no bundle: %q", ts.bundle.message())
	}
}

func TestSizeString(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {1536, "1.5 KiB"}, {20 << 20, "20 MiB"},
		{2 << 30, "2 GiB"}, {3<<29 + 1, "1.5 GiB"}, {12<<30 + 5, "12 GiB"},
	} {
		if got := sizeString(tt.n); got != tt.want {
			t.Errorf("sizeString(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

// With a rebuild command, the server runs it when the bundle is stale.
func TestBundleRebuild(t *testing.T) {
	src := t.TempDir()
	t0 := time.Now().Add(-time.Hour)
	writeFile(t, filepath.Join(src, "go.mod"), "module fencelab\n", t0)
	web := filepath.Join(src, "out", "web")
	os.MkdirAll(web, 0o755)
	b := newBundleWatch(src, web, "touch out/web/fencelab.wasm", func(string, ...any) {})
	if stale, _ := b.check(); !stale {
		t.Fatal("not stale without a bundle")
	}
	b.build(t.Context())
	if stale, _ := b.check(); stale {
		t.Errorf("stale after the rebuild: %s", b.message())
	}
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	if code := devserver([]string{"-nope"}, &out); code != 2 || !strings.Contains(out.String(), "-recordings") {
		t.Errorf("devserver -nope: %d %q; want 2 and the usage", code, out.String())
	}
	out.Reset()
	if code := devserver([]string{"extra"}, &out); code != 2 {
		t.Errorf("devserver extra: %d; want 2", code)
	}
}
