package main

import (
	"html/template"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
)

// static serves the web bundle in dir. For a file with pre-compressed
// variants beside it (NAME.br, NAME.gz) it serves the best one the
// request accepts, with the original's Content-Type, Content-Encoding
// and Vary: Accept-Encoding. A variant older than its original is
// ignored: a build that wrote the file and failed to compress it serves
// the file. Directories are not listed, and names with a component
// starting with a dot are not served.
type static struct {
	dir    string
	bundle *bundleWatch
}

// contentTypes are the bundle's types, independent of the system's
// MIME tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
	".map":  "application/json",
}

// encodings are the pre-compressed variants, best first.
var encodings = []struct{ name, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

func (h *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean("/" + r.URL.Path)
	if strings.HasSuffix(r.URL.Path, "/") {
		name = path.Join(name, "index.html")
	}
	name = strings.TrimPrefix(name, "/")
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			http.NotFound(w, r)
			return
		}
	}
	root, err := os.OpenRoot(h.dir) // per request: a rebuild may replace the directory
	if err != nil {
		h.noBundle(w, r)
		return
	}
	defer root.Close()

	orig, origErr := root.Stat(name)
	if origErr == nil && !orig.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	accept := acceptedEncodings(r.Header.Get("Accept-Encoding"))
	varied := false
	for _, enc := range encodings {
		vi, err := root.Stat(name + enc.suffix)
		if err != nil || !vi.Mode().IsRegular() {
			continue
		}
		varied = true
		if !accept[enc.name] || origErr == nil && vi.ModTime().Before(orig.ModTime()) {
			continue
		}
		f, err := root.Open(name + enc.suffix)
		if err != nil {
			continue
		}
		defer f.Close()
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Content-Encoding", enc.name)
		setType(w, name)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, vi.ModTime(), f)
		return
	}
	if varied {
		w.Header().Set("Vary", "Accept-Encoding")
	}
	if origErr != nil {
		if name == "index.html" {
			h.noBundle(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	f, err := root.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	setType(w, name)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, orig.ModTime(), f)
}

func setType(w http.ResponseWriter, name string) {
	if t, ok := contentTypes[path.Ext(name)]; ok {
		w.Header().Set("Content-Type", t)
	}
}

// acceptedEncodings reads Accept-Encoding: the codings with a q above
// zero ("*" stands for any not named).
func acceptedEncodings(h string) map[string]bool {
	acc := map[string]bool{}
	star, starSet := false, false
	named := map[string]bool{}
	for _, part := range strings.Split(h, ",") {
		fields := strings.Split(part, ";")
		coding := strings.ToLower(strings.TrimSpace(fields[0]))
		if coding == "" {
			continue
		}
		ok := true
		for _, p := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		if coding == "*" {
			star, starSet = ok, true
			continue
		}
		named[coding] = true
		acc[coding] = ok
	}
	if starSet {
		for _, enc := range encodings {
			if !named[enc.name] {
				acc[enc.name] = star
			}
		}
	}
	return acc
}

var noBundlePage = template.Must(template.New("nobundle").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>fencelab: no bundle</title></head>
<body style="font-family: sans-serif; max-width: 48em; margin: 2em auto">
<h1>fencelab: the page is not built</h1>
<p>There is no web bundle in <code>{{.}}</code>. Build it with <code>make bundle</code>
(or start everything with <code>make run</code>) and reload.</p>
<p>Stored runs are at <a href="/runs">/runs</a>.</p>
</body></html>
`))

func (h *static) noBundle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	noBundlePage.Execute(w, h.dir)
}
