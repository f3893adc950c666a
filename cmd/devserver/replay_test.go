package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fencelab/machine"
	"fencelab/session"
	"fencelab/stream"
	"fencelab/timeline"
)

// recordRun runs spec as the browser does, paced in ticks of virtual
// time, streaming its timeline to the server, and returns the run's id.
func recordRun(t *testing.T, ts *testServer, spec session.Spec) string {
	t.Helper()
	m := timeline.Meta{Guest: spec.Guest, Seed: spec.Options.Seed, Config: map[string]string{"link": spec.Query().Encode()}}
	c := stream.New(ts.ws, m, fast(stream.Options{Capacity: 1 << 16}))
	s, err := session.New(spec, nil, c)
	if err != nil {
		t.Fatal(err)
	}
	for tick := 0; !s.Done(); tick++ {
		if tick > 10_000 {
			t.Fatal("the guest did not finish")
		}
		if err := s.Run(s.M.Now() + (16 * time.Millisecond).Nanoseconds()); err != nil {
			t.Fatal(err)
		}
	}
	st := closeClient(t, c)
	if st.Dropped != 0 {
		t.Fatalf("the recording dropped %d events", st.Dropped)
	}
	return st.Run
}

func (ts *testServer) replay(t *testing.T, id string) (int, replayResult, string) {
	t.Helper()
	resp, body := ts.get(t, "/runs/"+id+"/replay?format=json")
	var res replayResult
	if resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatalf("replay of %s: %v\n%s", id, err, body)
		}
	}
	return resp.StatusCode, res, body
}

// copyRun stores a changed copy of run id as run to, its events passed
// through edit.
func copyRun(t *testing.T, ts *testServer, id, to string, editMeta func(*timeline.Meta), edit func([]timeline.Event) []timeline.Event) {
	t.Helper()
	m, evs := ts.readRun(t, id)
	if editMeta != nil {
		editMeta(&m)
	}
	evs = edit(evs)
	f, err := os.Create(filepath.Join(ts.cfg.Recordings, to+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := timeline.WriteAll(f, m, evs); err != nil {
		t.Fatal(err)
	}
}

// A run streamed as the page streams it replays identically; a changed
// recording is reported at its first difference, with its index, time
// and kind.
func TestReplay(t *testing.T) {
	ts := startServer(t, nil)
	spec := session.Spec{Guest: "triangle", Args: []string{"10"}, Options: machine.Options{Seed: 3, Displays: []string{"160x120"}}}
	id := recordRun(t, ts, spec)
	_, evs := ts.readRun(t, id)

	status, res, body := ts.replay(t, id)
	if status != 200 || !res.Identical || res.Recorded != len(evs) || res.Diff != nil {
		t.Fatalf("replay: %d %s; want identical, %d events", status, body, len(evs))
	}
	if res.UntilNS != evs[len(evs)-1].Time {
		t.Errorf("replayed to %d; want the last event's time %d", res.UntilNS, evs[len(evs)-1].Time)
	}

	k := len(evs) / 2
	for _, tt := range []struct {
		name  string
		edit  func([]timeline.Event) []timeline.Event
		index int
		kind  string
		why   string
	}{
		{"later", func(e []timeline.Event) []timeline.Event { e[k].Time += 1000; return e }, k, evs[k].Kind.String(), "1000 ns earlier"},
		{"other kind", func(e []timeline.Event) []timeline.Event {
			e[k] = timeline.Event{Time: e[k].Time, Kind: timeline.Vblank, Scanout: 0, Count: 99}
			return e
		}, k, "vblank", "where the recording has vblank"},
		{"dropped", func(e []timeline.Event) []timeline.Event {
			return append(e[:k:k], append([]timeline.Event{{Time: e[k].Time, Kind: timeline.Dropped, Count: 5}}, e[k+5:]...)...)
		}, k, "dropped", "lost 5 events"},
		{"longer", func(e []timeline.Event) []timeline.Event {
			return append(e, timeline.Event{Time: e[len(e)-1].Time, Kind: timeline.ProcessStart, Pid: 9})
		}, len(evs), "process-start", "the replay ended here"},
		{"cut short", func(e []timeline.Event) []timeline.Event { return e[:k] }, -1, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			to := "copy-" + strings.ReplaceAll(tt.name, " ", "-")
			copyRun(t, ts, id, to, nil, tt.edit)
			status, res, body := ts.replay(t, to)
			if status != 200 {
				t.Fatalf("replay: %d %s", status, body)
			}
			if tt.index < 0 {
				if !res.Identical {
					t.Errorf("a recording stopped part way: %s; want identical as far as it goes", body)
				}
				return
			}
			d := res.Diff
			if res.Identical || d == nil || d.Index != tt.index || d.Kind != tt.kind || !strings.Contains(d.Why, tt.why) {
				t.Errorf("replay: %s\nwant a difference at %d (%s), %q", body, tt.index, tt.kind, tt.why)
			}
		})
	}

	// The page shows the same.
	resp, page := ts.get(t, "/runs/copy-later/replay")
	if resp.StatusCode != 200 || !strings.Contains(page, "Different") || !strings.Contains(page, "from event") {
		t.Errorf("replay page: %d\n%s", resp.StatusCode, page)
	}
}

// Runs that cannot be replayed say why.
func TestReplayRefused(t *testing.T) {
	ts := startServer(t, nil)
	id := storeRun(t, ts, testMeta, goldenEvents[:2])
	for _, tt := range []struct {
		name   string
		meta   func(*timeline.Meta)
		status int
		why    string
	}{
		{"no link", func(m *timeline.Meta) { m.Config = nil }, 422, "no config.link"},
		{"bad link", func(m *timeline.Meta) { m.Config = map[string]string{"link": "guest=a&colour=red"} }, 422, `unknown key "colour"`},
		{"not built", func(m *timeline.Meta) { m.Config = map[string]string{"link": "guest=mine"} }, 422, `no built guest "mine"`},
	} {
		to := "r-" + strings.ReplaceAll(tt.name, " ", "-")
		copyRun(t, ts, id, to, tt.meta, func(e []timeline.Event) []timeline.Event { return e })
		status, _, body := ts.replay(t, to)
		var e struct{ Error string }
		json.Unmarshal([]byte(body), &e)
		if status != tt.status || !strings.Contains(e.Error, tt.why) {
			t.Errorf("%s: %d %s; want %d with %q", tt.name, status, body, tt.status, tt.why)
		}
	}
	if status, _, _ := ts.replay(t, "nope"); status != 404 {
		t.Errorf("unknown run: %d; want 404", status)
	}
	if resp, _ := ts.get(t, "/runs/"+id+"/replay", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 403 {
		t.Errorf("a replay from another site's page: %d; want 403", resp.StatusCode)
	}
}

// A run whose header says its link does not reproduce it (a module of
// the user's own) is not replayed: the server says why instead of
// running the built guest of the same name.
func TestReplayNotReplayable(t *testing.T) {
	ts := startServer(t, nil)
	var b []byte
	b, _ = timeline.AppendHeader(b, timeline.Meta{Guest: "triangle", Config: map[string]string{
		"link": "guest=triangle", timeline.NotReplayable: "a module of the user's own"}})
	b = timeline.AppendEvent(b, timeline.Event{Time: 1, Kind: timeline.ProcessStart, Pid: 1})
	if err := os.MkdirAll(ts.cfg.Recordings, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts.cfg.Recordings, "own.jsonl"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.get(t, "/runs/own/replay")
	if code := resp.StatusCode; code != http.StatusUnprocessableEntity || !strings.Contains(body, "does not reproduce this run: a module of the user's own") {
		t.Errorf("replay: %d %s", resp.StatusCode, body)
	}
}
