package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// bundleWatch tells when the web bundle is older than the sources it is
// built from, and says how to rebuild it, or (with a rebuild command)
// rebuilds it.
//
// The sources are, under src: the Go files other than tests (cmd/ aside:
// the commands are not in the bundle), go.mod and go.sum and the built
// guests in guests/bin/ (the bundle embeds them), which must be older
// than the bundle's fencelab.wasm; and the page's files in web/ (its
// .html, .js and .css), each of which must be older than its copy in the
// bundle.
type bundleWatch struct {
	src, web string
	rebuild  string
	logf     func(string, ...any)
	skip     []string // absolute directories not to look in

	mu        sync.Mutex
	msg       string    // why the bundle is stale, "" if it is not
	newest    time.Time // the newest source's time at the last check
	attempted time.Time // the newest source's time when the last rebuild ran
	building  bool
}

func newBundleWatch(src, web, rebuild string, logf func(string, ...any), skip ...string) *bundleWatch {
	b := &bundleWatch{src: src, web: web, rebuild: rebuild, logf: logf}
	for _, d := range append(skip, web) {
		b.skip = append(b.skip, abs(d))
	}
	return b
}

// message returns why the bundle is stale and how to rebuild it, or "".
func (b *bundleWatch) message() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.msg
}

// how says how to rebuild.
func (b *bundleWatch) how() string {
	if b.rebuild != "" {
		return fmt.Sprintf("The dev server is rebuilding it (%s); reload when it has.", b.rebuild)
	}
	return "Rebuild it with `make bundle` (in " + abs(b.src) + ") and reload."
}

// check compares the sources with the bundle, says so on the console
// when that changes, and returns the newest source's time.
func (b *bundleWatch) check() (stale bool, newest time.Time) {
	msg := ""
	wasm := filepath.Join(b.web, "fencelab.wasm")
	built, err := os.Stat(wasm)
	path, changed, newest := b.staleSource(built)
	switch {
	case err != nil:
		msg = fmt.Sprintf("There is no bundle: %s is missing. %s", wasm, b.how())
	case path != "":
		msg = fmt.Sprintf("The bundle in %s is older than %s (changed %s). %s",
			b.web, path, changed.Format("15:04:05"), b.how())
	}
	b.mu.Lock()
	news := msg != b.msg
	b.msg, b.newest = msg, newest
	b.mu.Unlock()
	if news {
		if msg == "" {
			b.logf("the bundle in %s is up to date", b.web)
		} else {
			b.logf("%s", msg)
		}
	}
	return msg != "", newest
}

// staleSource walks the sources and returns the newest one that is newer
// than what the bundle built from it (built: the bundle's wasm, nil if
// there is none), and the newest source's time.
func (b *bundleWatch) staleSource(built os.FileInfo) (which string, changed, newest time.Time) {
	filepath.WalkDir(b.src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(b.src, p)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if d.IsDir() {
			if p != b.src && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || rel == "cmd") {
				return filepath.SkipDir
			}
			a := abs(p)
			for _, s := range b.skip {
				if a == s {
					return filepath.SkipDir
				}
			}
			return nil
		}
		var target os.FileInfo // what the bundle made of this source
		switch {
		case strings.HasPrefix(rel, "web/") && !pageFile(strings.TrimPrefix(rel, "web/")):
			return nil // web/'s tests, the benchmarks' pages under web/ceiling/: not the page
		case strings.HasPrefix(rel, "web/"):
			target, _ = os.Stat(filepath.Join(b.web, filepath.FromSlash(strings.TrimPrefix(rel, "web/"))))
		case strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go"),
			rel == "go.mod", rel == "go.sum",
			strings.HasPrefix(rel, "guests/bin/") && strings.HasSuffix(name, ".wasm"):
			target = built
		default:
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		mod := fi.ModTime()
		if mod.After(newest) {
			newest = mod
		}
		if (target == nil || mod.After(target.ModTime())) && mod.After(changed) {
			which, changed = rel, mod
		}
		return nil
	})
	return which, changed, newest
}

// pageFile reports whether rel, a path under web/, is one of the page's
// files the bundle copies: as the Makefile's WEB_STATIC, the .html, .js
// and .css files directly in web/ (make's wildcard leaves out dotfiles,
// such as an editor's lock files).
func pageFile(rel string) bool {
	ext := filepath.Ext(rel)
	return !strings.Contains(rel, "/") && !strings.HasPrefix(rel, ".") && (ext == ".html" || ext == ".js" || ext == ".css")
}

// poll checks every interval until ctx ends, and rebuilds when the
// bundle is stale and the sources have been still for a moment.
func (b *bundleWatch) poll(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stale, newest := b.check()
		if !stale || b.rebuild == "" || time.Since(newest) < time.Second {
			continue
		}
		b.mu.Lock()
		again := b.building || !newest.After(b.attempted)
		if !again {
			b.building, b.attempted = true, newest
		}
		b.mu.Unlock()
		if again {
			continue // building, or this change was tried and failed
		}
		b.build(ctx)
	}
}

// build runs the rebuild command in src.
func (b *bundleWatch) build(ctx context.Context) {
	defer func() {
		b.mu.Lock()
		b.building = false
		b.mu.Unlock()
	}()
	b.logf("rebuilding the bundle: %s", b.rebuild)
	cmd := exec.CommandContext(ctx, "sh", "-c", b.rebuild)
	cmd.Dir = b.src
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		b.logf("rebuild failed (%v); it runs again when the sources change:\n%s", err, out.Bytes())
		return
	}
	b.logf("rebuilt the bundle in %v", time.Since(start).Round(time.Millisecond))
	b.check()
}
