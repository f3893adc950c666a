package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"fencelab/stream"
)

// config is the server's settings; defaultConfig has the flags' defaults.
type config struct {
	Addr       string
	Web        string   // the web bundle
	Recordings string   // the runs
	Src        string   // the source tree, for the bundle's freshness ("": no check)
	Rebuild    string   // shell command that rebuilds the bundle ("": none)
	Hosts      []string // Host names answered besides IP addresses and localhost

	MaxMessage    int64         // bytes in one WebSocket message
	MaxEvents     uint64        // events stored per run
	MaxStorage    int64         // bytes of runs in Recordings
	MaxRuns       int           // runs in Recordings
	MaxConns      int           // streams at once
	TraceEvents   int           // events in a Perfetto download
	ReplayTimeout time.Duration // host time a replay may take
	Handshake     time.Duration // time a new stream has to say hello
	BundlePoll    time.Duration // how often the sources are checked against the bundle

	Logf func(format string, args ...any)
}

func defaultConfig() config {
	return config{
		Addr:          "127.0.0.1:8080",
		Web:           "build/web", // make bundle's
		Recordings:    "recordings",
		Src:           ".",
		MaxMessage:    1 << 20,
		MaxEvents:     5_000_000,
		MaxStorage:    2 << 30,
		MaxRuns:       10_000,
		MaxConns:      32,
		TraceEvents:   1 << 20,
		ReplayTimeout: 2 * time.Minute,
		Handshake:     10 * time.Second,
		BundlePoll:    2 * time.Second,
	}
}

// server is the dev server: an http.Handler for every route.
type server struct {
	cfg    config
	root   *os.Root // the recordings directory: nothing is opened outside it
	mux    *http.ServeMux
	hosts  map[string]bool
	bundle *bundleWatch
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	replay chan struct{} // one replay at a time

	mu    sync.Mutex // guards the fields below
	runs  map[string]*run
	conns map[*websocket.Conn]bool
	used  int64 // bytes in the recordings directory, as last counted plus what was written since
	files int   // runs in the recordings directory, likewise
	scans map[string]scanned
}

func newServer(cfg config) (*server, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(cfg.Recordings, 0o755); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	root, err := os.OpenRoot(cfg.Recordings)
	if err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	s := &server{cfg: cfg, root: root, replay: make(chan struct{}, 1),
		runs: map[string]*run{}, conns: map[*websocket.Conn]bool{}, scans: map[string]scanned{},
		hosts: map[string]bool{"localhost": true}}
	for _, h := range cfg.Hosts {
		if h = strings.TrimSpace(h); h != "" {
			s.hosts[strings.ToLower(h)] = true
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.used, s.files, err = s.count()
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("recordings: %w", err)
	}
	if cfg.Src != "" {
		s.bundle = newBundleWatch(cfg.Src, cfg.Web, cfg.Rebuild, cfg.Logf, cfg.Recordings)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+stream.Path, s.serveStream)
	s.mux.HandleFunc("GET /runs", s.serveRuns)
	s.mux.HandleFunc("GET /runs/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/runs", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /runs/{file}", s.serveRunFile)
	s.mux.HandleFunc("GET /runs/{id}/replay", s.serveReplay)
	s.mux.Handle("/", &static{dir: cfg.Web, bundle: s.bundle})
	return s, nil
}

// Start starts watching the sources against the bundle, if asked to.
func (s *server) Start() {
	if s.bundle != nil {
		s.bundle.check()
		go s.bundle.poll(s.ctx, s.cfg.BundlePoll)
	}
}

// Close ends every stream (they may resume with a server that knows
// their runs, which a restarted one does not) and closes the runs.
func (s *server) Close() {
	s.cancel()
	s.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close(websocket.StatusGoingAway, "the dev server is shutting down") })
	}
	wg.Wait()
	s.mu.Lock()
	for _, r := range s.runs {
		r.mu.Lock()
		r.closeFile()
		r.mu.Unlock()
	}
	s.mu.Unlock()
	s.root.Close()
}

// ServeHTTP answers requests for this machine's names only: a page on
// another site that makes its name resolve to 127.0.0.1 (DNS rebinding)
// gets nothing.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hostAllowed(r.Host) {
		http.Error(w, fmt.Sprintf("devserver: Host %q is not one this server answers to; use an IP address or localhost, or start it with -hosts", r.Host), http.StatusMisdirectedRequest)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

func (s *server) hostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(host) != nil {
		return true
	}
	return s.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// count sums the runs in the recordings directory: bytes and files.
func (s *server) count() (bytes int64, files int, err error) {
	ents, err := s.readDir()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		if _, ok := runFileID(e.Name()); !ok {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			bytes += fi.Size()
			files++
		}
	}
	return bytes, files, nil
}

func (s *server) readDir() ([]os.DirEntry, error) {
	d, err := s.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// runFileID returns the run id of a run file's name (ID.jsonl).
func runFileID(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, ".jsonl")
	return id, ok && stream.ValidID(id)
}

// reserve accounts for n more bytes of runs, recounting the directory
// when the limit is near (runs may have been deleted by hand). It
// reports whether they fit.
func (s *server) reserve(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used+n > s.cfg.MaxStorage {
		if used, files, err := s.count(); err == nil {
			s.used, s.files = used, files
		}
		if s.used+n > s.cfg.MaxStorage {
			return false
		}
	}
	s.used += n
	return true
}

// newRunFile accounts for one more run, recounting when the limit is near.
func (s *server) newRunFile() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files+1 > s.cfg.MaxRuns {
		if used, files, err := s.count(); err == nil {
			s.used, s.files = used, files
		}
		if s.files+1 > s.cfg.MaxRuns {
			return false
		}
	}
	s.files++
	return true
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
