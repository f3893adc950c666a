package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"fencelab/device"
	"fencelab/drm"
	"fencelab/errno"
	"fencelab/timeline"
)

// runInfo is a stored run as /runs lists it.
type runInfo struct {
	ID       string
	Guest    string
	Seed     uint64
	Link     string
	Events   uint64
	Virtual  time.Duration // from the first event to the last
	Size     int64
	Modified time.Time
	State    string
	Problem  string // why the file cannot be read, if it cannot
}

// sizeString says how many bytes n is, roughly.
func sizeString(n int64) string {
	unit := func(u int64, name string) string {
		if n%u == 0 || n >= 10*u {
			return fmt.Sprintf("%d %s", n/u, name)
		}
		return fmt.Sprintf("%.1f %s", float64(n)/float64(u), name)
	}
	switch {
	case n >= 1<<30:
		return unit(1<<30, "GiB")
	case n >= 1<<20:
		return unit(1<<20, "MiB")
	case n >= 1<<10:
		return unit(1<<10, "KiB")
	}
	return fmt.Sprintf("%d B", n)
}

// scanned is what was read from a run file of a size and time.
type scanned struct {
	size        int64
	mod         time.Time
	meta        timeline.Meta
	events      uint64
	first, last int64
	problem     string
}

// scanRun reads a run file's header and counts its events, reading the
// first and last event's time.
func scanRun(r io.Reader) (sc scanned) {
	br := bufio.NewReaderSize(r, timeline.MaxHeaderLine)
	line, err := br.ReadSlice('\n')
	if err != nil {
		sc.problem = "no header line"
		return sc
	}
	if sc.meta, err = timeline.ParseHeader(line); err != nil {
		sc.problem = err.Error()
		return sc
	}
	var last []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			sc.problem = fmt.Sprintf("line %d is too long", sc.events+2)
			return sc
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if sc.events == 0 {
				if e, perr := timeline.ParseEvent(line); perr == nil {
					sc.first = e.Time
				}
			}
			last = append(last[:0], line...)
			sc.events++
		}
		if err != nil {
			break
		}
	}
	if e, err := timeline.ParseEvent(last); err == nil {
		sc.last = e.Time
	}
	return sc
}

// listRuns returns the stored runs, newest first.
func (s *server) listRuns() ([]runInfo, error) {
	ents, err := s.readDir()
	if err != nil {
		return nil, err
	}
	var out []runInfo
	seen := map[string]bool{}
	for _, e := range ents {
		id, ok := runFileID(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		seen[e.Name()] = true
		ri := runInfo{ID: id, Size: fi.Size(), Modified: fi.ModTime(), State: "stored"}
		s.mu.Lock()
		rn := s.runs[id]
		s.mu.Unlock()
		if rn != nil {
			rn.mu.Lock()
			ri.Guest, ri.Seed, ri.Link = rn.meta.Guest, rn.meta.Seed, rn.meta.Config["link"]
			ri.Events, ri.Virtual, ri.Size = rn.next, time.Duration(rn.last-rn.first), rn.size
			switch {
			case rn.stopped != "":
				ri.State = "stopped: " + rn.stopped
			case rn.ended:
				ri.State = "ended"
			case rn.live:
				ri.State = "streaming"
			default:
				ri.State = "connection lost; waiting for the page to resume"
			}
			rn.mu.Unlock()
			out = append(out, ri)
			continue
		}
		sc, err := s.scan(e.Name(), fi)
		if err != nil {
			ri.Problem = err.Error()
		}
		ri.Guest, ri.Seed, ri.Link = sc.meta.Guest, sc.meta.Seed, sc.meta.Config["link"]
		ri.Events, ri.Virtual = sc.events, time.Duration(sc.last-sc.first)
		if sc.problem != "" {
			ri.Problem = sc.problem
		}
		out = append(out, ri)
	}
	s.mu.Lock()
	for name := range s.scans {
		if !seen[name] {
			delete(s.scans, name)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b runInfo) int {
		if c := b.Modified.Compare(a.Modified); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// scan reads a run file this server did not take in, or takes it from
// the cache if the file has not changed.
func (s *server) scan(name string, fi os.FileInfo) (scanned, error) {
	s.mu.Lock()
	sc, ok := s.scans[name]
	s.mu.Unlock()
	if ok && sc.size == fi.Size() && sc.mod.Equal(fi.ModTime()) {
		return sc, nil
	}
	f, err := s.root.Open(name)
	if err != nil {
		return scanned{}, err
	}
	defer f.Close()
	sc = scanRun(io.LimitReader(f, fi.Size()))
	sc.size, sc.mod = fi.Size(), fi.ModTime()
	s.mu.Lock()
	s.scans[name] = sc
	s.mu.Unlock()
	return sc, nil
}

var runsPage = template.Must(template.New("runs").Funcs(template.FuncMap{
	"size": sizeString,
	"when": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>fencelab runs</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 0.25em 0.75em; border-bottom: 1px solid #ddd; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.5em 1em; }
.problem { color: #a00; }
</style></head>
<body>
<h1>fencelab runs</h1>
{{if .Stale}}<p class="warn"><b>The page is out of date.</b> {{.Stale}}</p>{{end}}
<p>{{len .Runs}} runs in <code>{{.Dir}}</code>, {{size .Used}} of {{size .Max}}.
<a href="/">Start a run</a>. A run's Perfetto file opens at <a href="https://ui.perfetto.dev">ui.perfetto.dev</a> (Open trace file).</p>
<table>
<tr><th>run</th><th>guest</th><th>seed</th><th>events</th><th>virtual time</th><th>size</th><th>modified</th><th>state</th><th></th></tr>
{{range .Runs}}<tr>
<td><a href="/?run={{.ID}}">{{.ID}}</a></td>
<td>{{.Guest}}</td><td class="n">{{.Seed}}</td><td class="n">{{.Events}}</td><td class="n">{{.Virtual}}</td>
<td class="n">{{size .Size}}</td><td>{{when .Modified}}</td>
<td>{{if .Problem}}<span class="problem">unreadable: {{.Problem}}</span>{{else}}{{.State}}{{end}}</td>
<td><a href="/runs/{{.ID}}.jsonl">JSON lines</a> · <a href="/runs/{{.ID}}.json" download>Perfetto</a>{{if .Link}} · <a href="/runs/{{.ID}}/replay">replay</a>{{end}}</td>
</tr>
{{else}}<tr><td colspan="9">No runs yet: open <a href="/">the page</a> and its timeline streams here.</td></tr>
{{end}}</table>
</body></html>
`))

// writeHTML writes page with data, marked as a page of ours: nothing on it
// runs scripts.
func writeHTML(w http.ResponseWriter, page *template.Template, data any) {
	var b bytes.Buffer
	if err := page.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// serveRuns lists the runs.
func (s *server) serveRuns(w http.ResponseWriter, r *http.Request) {
	runs, err := s.listRuns()
	if err != nil {
		http.Error(w, "devserver: cannot read the recordings directory", http.StatusInternalServerError)
		s.cfg.Logf("listing runs: %v", err)
		return
	}
	s.mu.Lock()
	used := s.used
	s.mu.Unlock()
	data := struct {
		Runs      []runInfo
		Dir       string
		Used, Max int64
		Stale     string
	}{runs, abs(s.cfg.Recordings), used, s.cfg.MaxStorage, ""}
	if s.bundle != nil {
		data.Stale = s.bundle.message()
	}
	writeHTML(w, runsPage, data)
}

// openRun opens run id's file and returns it with the size to read: for
// a run being streamed, the bytes of whole messages stored.
func (s *server) openRun(id string) (*os.File, int64, os.FileInfo, error) {
	f, err := s.root.Open(id + ".jsonl")
	if err != nil {
		return nil, 0, nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, nil, os.ErrNotExist
	}
	size := fi.Size()
	s.mu.Lock()
	rn := s.runs[id]
	s.mu.Unlock()
	if rn != nil {
		rn.mu.Lock()
		size = min(size, rn.size)
		rn.mu.Unlock()
	}
	return f, size, fi, nil
}

// serveRunFile serves /runs/ID.jsonl and /runs/ID.json.
func (s *server) serveRunFile(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	id, ext, _ := strings.Cut(file, ".")
	if !validRunID(id) || ext != "jsonl" && ext != "json" {
		http.Error(w, "devserver: no such run", http.StatusNotFound)
		return
	}
	f, size, fi, err := s.openRun(id)
	if err != nil {
		http.Error(w, "devserver: no such run", http.StatusNotFound)
		return
	}
	defer f.Close()
	if ext == "jsonl" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, file, fi.ModTime(), io.NewSectionReader(f, 0, size))
		return
	}
	s.servePerfetto(w, id, io.NewSectionReader(f, 0, size))
}

// traceNames are what a Perfetto trace calls ioctls, virtio-gpu codes and
// errnos, as cmd/fencelab's --trace has them.
var traceNames = timeline.Names{
	Ioctl: drm.IoctlName,
	Cmd:   device.WireName,
	Errno: func(e uint16) string { return errno.Errno(e).Name() },
}

// servePerfetto converts a run to a Chrome trace: its newest
// TraceEvents events (a Dropped event says how many went).
func (s *server) servePerfetto(w http.ResponseWriter, id string, r io.Reader) {
	rd, err := timeline.NewReader(r)
	if err != nil {
		http.Error(w, "devserver: run "+id+": "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	ring := timeline.NewRing(s.cfg.TraceEvents)
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, "devserver: run "+id+": "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		ring.Emit(e)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="fencelab-`+id+`.json"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := timeline.WriteChrome(bw, rd.Meta(), ring.Events(), traceNames); err != nil {
		s.cfg.Logf("run %s: perfetto: %v", id, err)
		return
	}
	bw.Flush()
}

// validRunID reports whether id may name a run file: no separators, no
// dots, so it cannot leave the recordings directory (which os.Root
// enforces as well).
func validRunID(id string) bool { _, ok := runFileID(id + ".jsonl"); return ok }
