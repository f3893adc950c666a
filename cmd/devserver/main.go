// Command devserver serves fencelab's browser page and keeps the
// timelines the page streams to it.
//
//	devserver [-addr 127.0.0.1:8080] [-web build/web] [-recordings recordings] [flags]
//
// It serves the web bundle in -web (index.html, wasm_exec.js,
// fencelab.wasm and its pre-compressed fencelab.wasm.br and .gz, chosen
// by the request's Accept-Encoding), takes timelines over WebSocket at
// /stream (package fencelab/stream has the client and the protocol),
// stores each run as a JSON lines file in -recordings (created if
// missing), and serves the runs:
//
//	/                     the page; /?run=ID shows a stored run's timeline
//	/stream               WebSocket: a run's timeline comes in
//	/runs                 the stored runs, as a page
//	/runs/ID.jsonl        a run's timeline, JSON lines, as stored
//	/runs/ID.json         the same as a Chrome trace for ui.perfetto.dev
//	/runs/ID/replay       runs the run again headless from its link and
//	                      compares, event for event (?format=json: as JSON)
//
// Run ids are made by the server (20261125-143000-1a2b3c); an id in a URL
// is letters, digits, '-' and '_' only and names a file in -recordings,
// opened through an os.Root, so nothing outside it is ever served. Runs
// copied into -recordings by hand (say from fencelab run --trace
// x.jsonl) are listed and served too.
//
// Security. It listens on loopback unless -addr says otherwise; answers
// only requests whose Host is an IP address, localhost or one of -hosts
// (so a site that points its name at 127.0.0.1 gets nothing); takes
// WebSockets only from pages of the host itself (Origin); and bounds
// every stream: -max-message bytes a message (1 MiB), -max-events a run
// (5,000,000), -max-storage bytes in all (2 GiB), -max-runs (10,000),
// -max-conns streams at once (32), and 10 s to say hello. A stream over a
// limit or malformed is closed with a code and the reason in words, and
// harms no other run.
//
// It tells on the console and on /runs when the Go or web sources
// (-src) are newer than the bundle, and how to rebuild it (make bundle);
// with -rebuild CMD it runs CMD itself when they change.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(devserver(os.Args[1:], os.Stderr))
}

func devserver(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("devserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := defaultConfig()
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen on this address (loopback by default; 0.0.0.0:8080 exposes the server to the network)")
	fs.StringVar(&cfg.Web, "web", cfg.Web, "the web bundle to serve: index.html, wasm_exec.js, fencelab.wasm[.br|.gz]")
	fs.StringVar(&cfg.Recordings, "recordings", cfg.Recordings, "where runs are stored, one JSON lines file each (created if missing)")
	fs.StringVar(&cfg.Src, "src", cfg.Src, "fencelab's source tree, to tell when the bundle is older than the sources (empty: do not check)")
	fs.StringVar(&cfg.Rebuild, "rebuild", cfg.Rebuild, "a shell command that rebuilds the bundle, run in -src when the sources change (e.g. 'make bundle'); empty: only say so")
	hosts := fs.String("hosts", "", "comma-separated host names to answer besides IP addresses and localhost")
	fs.Int64Var(&cfg.MaxMessage, "max-message", cfg.MaxMessage, "largest WebSocket message taken, in bytes")
	fs.Uint64Var(&cfg.MaxEvents, "max-events", cfg.MaxEvents, "most events stored for one run")
	fs.Int64Var(&cfg.MaxStorage, "max-storage", cfg.MaxStorage, "most bytes of runs kept in -recordings")
	fs.IntVar(&cfg.MaxRuns, "max-runs", cfg.MaxRuns, "most runs kept in -recordings")
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "most streams at once")
	fs.IntVar(&cfg.TraceEvents, "trace-events", cfg.TraceEvents, "most events in a Perfetto download (the newest are kept)")
	fs.DurationVar(&cfg.ReplayTimeout, "replay-timeout", cfg.ReplayTimeout, "longest a replay may run (host time)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "devserver: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *hosts != "" {
		cfg.Hosts = strings.Split(*hosts, ",")
	}
	logger := log.New(stderr, "devserver: ", log.Ltime)
	cfg.Logf = logger.Printf

	s, err := newServer(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "devserver: %v\n", err)
		return 1
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "devserver: %v\n", err)
		return 1
	}
	if ip := listenIP(ln.Addr()); ip != nil && !ip.IsLoopback() {
		logger.Printf("warning: listening on %s, which is not loopback: anyone who can reach it can stream and read runs", ln.Addr())
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("serving %s on http://%s/ (runs: http://%s/runs), recordings in %s", cfg.Web, ln.Addr(), ln.Addr(), cfg.Recordings)
	s.Start()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "devserver: %v\n", err)
			return 1
		}
	case <-sig:
		logger.Printf("shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}
	return 0
}

func listenIP(a net.Addr) net.IP {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP
	}
	return nil
}
