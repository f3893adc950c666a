package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"fencelab/session"
	"fencelab/timeline"
)

// replayResult is what a replay found.
type replayResult struct {
	Run       string        `json:"run"`
	Link      string        `json:"link"`
	Identical bool          `json:"identical"`
	Recorded  int           `json:"recorded"` // events in the recording
	Replayed  int           `json:"replayed"` // events the replay produced
	UntilNS   int64         `json:"until_ns"` // the virtual time replayed to: the recording's last event's
	Diff      *replayDiff   `json:"difference,omitempty"`
	Note      string        `json:"note,omitempty"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// replayDiff is the first place the replay and the recording part.
type replayDiff struct {
	Index    int    `json:"index"`    // of the event, from 0
	TimeNS   int64  `json:"time_ns"`  // the recorded event's time (the replayed one's if the recording ended)
	Kind     string `json:"kind"`     // the recorded event's kind (likewise)
	Recorded string `json:"recorded"` // the recorded event as a JSON line; "" if the recording ended
	Replayed string `json:"replayed"` // the replayed event; "" if the replay ended
	Why      string `json:"why"`
}

// replayError is a run that cannot be replayed.
type replayError struct {
	status int
	msg    string
}

func (e *replayError) Error() string { return e.msg }

// serveReplay replays a run and reports, as a page or (?format=json)
// as JSON.
func (s *server) serveReplay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	asJSON := r.URL.Query().Get("format") == "json"
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		// A replay costs a machine's run: another site's page may not
		// start one (it would have to guess a run id as well).
		http.Error(w, "devserver: replays are started from this server's pages only", http.StatusForbidden)
		return
	}
	res, err := s.replayRun(r.Context(), id)
	if err != nil {
		var re *replayError
		status := http.StatusInternalServerError
		if errors.As(err, &re) {
			status = re.status
		}
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"run": id, "error": err.Error()})
			return
		}
		http.Error(w, "devserver: replay of "+id+": "+err.Error(), status)
		return
	}
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		return
	}
	writeHTML(w, replayPage, res)
}

var replayPage = template.Must(template.New("replay").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>replay of {{.Run}}</title>
<style>body { font-family: sans-serif; margin: 1.5em; } pre { background: #f4f4f4; padding: 0.5em; white-space: pre-wrap; }
.same { color: #070; } .differs { color: #a00; }</style></head>
<body>
<h1>Replay of run {{.Run}}</h1>
<p>Link: <code>{{.Link}}</code>. Replayed headless to {{.UntilNS}} ns of virtual time in {{.Elapsed}}.</p>
{{if .Identical}}<p class="same"><b>Identical:</b> the replay gives the recording's {{.Recorded}} events, event for event.</p>
{{else}}{{with .Diff}}<p class="differs"><b>Different</b> from event {{.Index}} (time {{.TimeNS}} ns, {{.Kind}}): {{.Why}}</p>
<p>Recorded:</p><pre>{{if .Recorded}}{{.Recorded}}{{else}}(the recording ends here){{end}}</pre>
<p>Replayed:</p><pre>{{if .Replayed}}{{.Replayed}}{{else}}(the replay ends here){{end}}</pre>{{end}}
{{end}}{{if .Note}}<p>{{.Note}}</p>{{end}}
<p><a href="/runs">All runs</a> · <a href="/?run={{.Run}}">timeline</a></p>
</body></html>
`))

// comparer is the replay's timeline sink: it reads the recording along
// and finds the first event that differs. Events are compared as their
// JSON lines, so fields an event's kind does not use do not count.
type comparer struct {
	rd       *timeline.Reader
	n        int // events in the recording
	i        int // events replayed
	a, b     []byte
	diff     *replayDiff
	extra    int // replayed past the recording's end
	lastTime int64
}

// Emit implements timeline.Sink.
func (c *comparer) Emit(e timeline.Event) {
	if c.diff != nil {
		return
	}
	i := c.i
	c.i++
	if i >= c.n {
		c.extra++
		return
	}
	rec, err := c.rd.Next()
	if err != nil {
		c.diff = &replayDiff{Index: i, TimeNS: e.Time, Kind: e.Kind.String(), Why: "the recording cannot be read here: " + err.Error()}
		return
	}
	c.a = timeline.AppendEvent(c.a[:0], rec)
	c.b = timeline.AppendEvent(c.b[:0], e)
	if bytes.Equal(c.a, c.b) {
		return
	}
	d := &replayDiff{Index: i, TimeNS: rec.Time, Kind: rec.Kind.String(),
		Recorded: strings.TrimSuffix(string(c.a), "\n"), Replayed: strings.TrimSuffix(string(c.b), "\n")}
	switch {
	case rec.Kind == timeline.Dropped:
		d.Why = fmt.Sprintf("the recording lost %d events here (the page's stream buffer overflowed), so nothing from here on can be compared", rec.Count)
	case rec.Time != e.Time && rec.Kind == e.Kind:
		d.Why = fmt.Sprintf("the same kind of event, %d ns %s", abs64(e.Time-rec.Time), map[bool]string{true: "later", false: "earlier"}[e.Time > rec.Time])
	case rec.Kind != e.Kind:
		d.Why = fmt.Sprintf("a %s event where the recording has %s", e.Kind, rec.Kind)
	default:
		d.Why = "the same kind of event at the same time, with other fields"
	}
	c.diff = d
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// replayChunk is how much virtual time the replay runs between looks at
// its deadline and at whether it has already found a difference.
const replayChunk = 10 * time.Millisecond

// replayRun rebuilds run id's session from its link, runs it headless
// to the recording's last event's time, and compares.
func (s *server) replayRun(ctx context.Context, id string) (*replayResult, error) {
	if !validRunID(id) {
		return nil, &replayError{http.StatusNotFound, "no such run"}
	}
	// The recording: its link, how many events, and the last one's time.
	f, size, _, err := s.openRun(id)
	if err != nil {
		return nil, &replayError{http.StatusNotFound, "no such run"}
	}
	defer f.Close()
	rd, err := timeline.NewReader(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, &replayError{http.StatusUnprocessableEntity, err.Error()}
	}
	res := &replayResult{Run: id, Link: rd.Meta().Config["link"]}
	if why := rd.Meta().Config[timeline.NotReplayable]; why != "" {
		return nil, &replayError{http.StatusUnprocessableEntity, "the link does not reproduce this run: " + why}
	}
	if res.Link == "" {
		return nil, &replayError{http.StatusUnprocessableEntity, "the run's header has no config.link, so what ran is not known"}
	}
	q, err := url.ParseQuery(res.Link)
	if err != nil {
		return nil, &replayError{http.StatusUnprocessableEntity, "link: " + err.Error()}
	}
	spec, err := session.ParseQuery(q)
	if err != nil {
		return nil, &replayError{http.StatusUnprocessableEntity, err.Error()}
	}
	var until int64
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &replayError{http.StatusUnprocessableEntity, err.Error()}
		}
		res.Recorded++
		until = e.Time
	}
	if res.Recorded == 0 {
		return nil, &replayError{http.StatusUnprocessableEntity, "the run has no events to compare"}
	}
	res.UntilNS = until

	// One replay at a time: each is a whole machine.
	select {
	case s.replay <- struct{}{}:
		defer func() { <-s.replay }()
	case <-ctx.Done():
		return nil, &replayError{http.StatusServiceUnavailable, "gave up waiting for another replay to finish"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReplayTimeout)
	defer cancel()
	start := time.Now()

	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	rd, err = timeline.NewReader(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, err
	}
	cmp := &comparer{rd: rd, n: res.Recorded}
	sess, err := session.New(spec, nil, cmp)
	if err != nil {
		return nil, &replayError{http.StatusUnprocessableEntity, "cannot build the machine: " + err.Error()}
	}
	var stopped string
	for cmp.diff == nil && cmp.i < cmp.n {
		now := sess.M.Now()
		if now > until {
			break
		}
		if err := sess.Run(min(until, now+replayChunk.Nanoseconds())); err != nil {
			stopped = "the machine stopped: " + err.Error()
			break
		}
		if sess.Done() {
			stopped = "every process exited"
			break
		}
		if sess.M.Now() >= until {
			break
		}
		if ctx.Err() != nil {
			stopped = fmt.Sprintf("the replay was stopped after %v of host time, at %d ns of virtual time", s.cfg.ReplayTimeout, sess.M.Now())
			break
		}
	}
	res.Elapsed = time.Since(start)
	res.Replayed = cmp.i
	switch {
	case cmp.diff != nil:
		res.Diff = cmp.diff
	case cmp.i < cmp.n:
		rec, err := rd.Next()
		d := &replayDiff{Index: cmp.i, Why: "the replay ended here"}
		if stopped != "" {
			d.Why += ": " + stopped
		}
		if err == nil {
			d.TimeNS, d.Kind = rec.Time, rec.Kind.String()
			d.Recorded = strings.TrimSuffix(string(timeline.AppendEvent(nil, rec)), "\n")
		}
		res.Diff = d
	default:
		res.Identical = true
		if cmp.extra > 0 {
			res.Note = fmt.Sprintf("The replay went on with %d more events at the recording's last instant, where the recording stops.", cmp.extra)
		}
	}
	return res, nil
}
