package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"fencelab/stream"
	"fencelab/timeline"
)

// FuzzIngest drives the server's message handling (what a connection's
// messages go through after the WebSocket layer) with a hostile stream:
// messages separated by NUL bytes, the first the handshake. Whatever
// comes, nothing panics, and the stored run is a well-formed timeline
// with exactly the events the server says it has.
func FuzzIngest(f *testing.F) {
	hello, _ := stream.AppendHello(nil, timeline.Meta{Guest: "g", Seed: 1, Config: map[string]string{"link": "guest=g"}})
	join := func(msgs ...[]byte) []byte { return bytes.Join(msgs, []byte{0}) }
	f.Add(join(hello, stream.AppendEvents(nil, 0, genEvents(1, 0, 5)), stream.AppendEnd(nil, 5)))
	f.Add(join(hello, stream.AppendEvents(nil, 0, genEvents(1, 0, 3)), stream.AppendEvents(nil, 1, genEvents(1, 1, 6)), stream.AppendEvents(nil, 9, genEvents(1, 9, 10))))
	f.Add(join(hello, stream.AppendEvents(nil, 0, genEvents(1, 0, 60))))
	f.Add(join(hello, hello))
	f.Add(join(stream.AppendResume(nil, "r", "t")))
	f.Add(join(hello, stream.AppendEnd(nil, 0), stream.AppendEvents(nil, 0, genEvents(1, 0, 1))))
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := defaultConfig()
		cfg.Recordings, cfg.Src = t.TempDir(), ""
		cfg.MaxEvents, cfg.MaxStorage = 50, 8000
		s, err := newServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		msgs := bytes.Split(in, []byte{0})
		rn, gen, st := s.handshake(msgs[0])
		if st != nil {
			if rn != nil {
				t.Fatalf("a run and a stop")
			}
			return
		}
		var inbox inbox
		for _, m := range msgs[1:] {
			next, _, st := s.message(rn, gen, m, &inbox)
			if next > cfg.MaxEvents {
				t.Fatalf("%d events stored; the limit is %d", next, cfg.MaxEvents)
			}
			if st != nil {
				break
			}
		}
		s.detach(rn, gen)
		b, err := os.ReadFile(filepath.Join(cfg.Recordings, rn.id+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		m, evs, err := timeline.ReadAll(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatalf("stored run unreadable: %v\n%s", err, b)
		}
		if uint64(len(evs)) != rn.next || int64(len(b)) != rn.size {
			t.Fatalf("stored %d events in %d bytes; the run says %d in %d", len(evs), len(b), rn.next, rn.size)
		}
		if !reflect.DeepEqual(m.Guest, rn.meta.Guest) || m.Seed != rn.meta.Seed {
			t.Fatalf("stored header %+v; the run's %+v", m, rn.meta)
		}
		if s.used > cfg.MaxStorage {
			t.Fatalf("%d bytes stored; the limit is %d", s.used, cfg.MaxStorage)
		}
	})
}
