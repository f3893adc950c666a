package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fencelab/stream"
	"fencelab/timeline"
)

// produce emits events [0, n) of stream tag into c as fast as the
// client takes them without dropping: a producer that heeds
// backpressure, so the measure is what the link carries, not what it
// drops.
func produce(c *stream.Client, tag int32, from, n uint64, capacity int) {
	for i := from; i < n; i++ {
		if i%256 == 0 {
			for c.Status().Buffered > capacity/2 {
				time.Sleep(20 * time.Microsecond)
			}
		}
		c.Emit(genEvent(tag, i))
	}
}

const benchCapacity = 1 << 16

// BenchmarkIngest: events per second from Emit to stored on disk, one
// client, over loopback WebSocket (goal ≥ 200,000).
func BenchmarkIngest(b *testing.B) {
	ts := startServer(b, func(c *config) { c.MaxEvents = 1 << 40; c.MaxStorage = 1 << 40 })
	c := stream.New(ts.ws, testMeta, stream.Options{Capacity: benchCapacity})
	b.ResetTimer()
	start := time.Now()
	produce(c, 1, 0, uint64(b.N), benchCapacity)
	st := closeClient(b, c)
	el := time.Since(start)
	b.StopTimer()
	if st.Acked != uint64(b.N) || st.Dropped != 0 {
		b.Fatalf("status %+v; want %d stored", st, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
}

// BenchmarkIngest8: the same with 8 clients at once, b.N events in all.
func BenchmarkIngest8(b *testing.B) {
	ts := startServer(b, func(c *config) { c.MaxEvents = 1 << 40; c.MaxStorage = 1 << 40 })
	const clients = 8
	cs := make([]*stream.Client, clients)
	for i := range cs {
		cs[i] = stream.New(ts.ws, testMeta, stream.Options{Capacity: benchCapacity})
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := uint64(b.N/clients + 1)
	for i, c := range cs {
		wg.Go(func() {
			produce(c, int32(i), 0, per, benchCapacity)
			closeClient(b, c)
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	for _, c := range cs {
		if st := c.Status(); st.Acked != per || st.Dropped != 0 {
			b.Fatalf("status %+v; want %d stored", st, per)
		}
	}
	b.ReportMetric(float64(per*clients)/el.Seconds(), "events/s")
}

// TestLoad: 8 clients stream for 10 s, 25,000 events a second each
// (200,000 in all, the ingest goal), through a link that drops every
// connection once a second; every event is stored exactly once, in
// order. It takes 10 s, so it runs only when asked:
//
//	FENCELAB_LOADTEST=1 go test -run TestLoad -v ./cmd/devserver
func TestLoad(t *testing.T) {
	if testing.Short() || os.Getenv("FENCELAB_LOADTEST") == "" {
		t.Skip("a 10 s load test: FENCELAB_LOADTEST=1 go test -run TestLoad -v ./cmd/devserver")
	}
	const (
		clients  = 8
		duration = 10 * time.Second
		perTick  = 250 // every 10 ms: 25,000 a second
	)
	ts := startServer(t, func(c *config) { c.MaxEvents = 1 << 40; c.MaxStorage = 8 << 30 })
	p := newProxy(t, hostOf(ts.url))
	stop := make(chan struct{})
	var cutter sync.WaitGroup
	cutter.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				p.cut()
			}
		}
	})
	type result struct {
		run  string
		sent uint64
		st   stream.Status
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			c := stream.New(p.url(), testMeta, fast(stream.Options{Capacity: benchCapacity, FirstDials: -1}))
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			var n uint64
			for time.Since(start) < duration {
				produce(c, int32(i), n, n+perTick, benchCapacity)
				n += perTick
				<-tick.C
			}
			st := closeClient(t, c)
			results[i] = result{st.Run, n, st}
		})
	}
	wg.Wait()
	el := time.Since(start)
	close(stop)
	cutter.Wait()
	var total uint64
	for i, r := range results {
		if r.st.Dropped != 0 || r.st.Acked != r.sent {
			t.Errorf("client %d: %+v; want %d stored, none dropped", i, r.st, r.sent)
		}
		f, err := os.Open(filepath.Join(ts.cfg.Recordings, r.run+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		rd, err := timeline.NewReader(bufio.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		var j uint64
		for ; ; j++ {
			e, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if e != genEvent(int32(i), j) {
				t.Fatalf("client %d: event %d is %+v; want %+v", i, j, e, genEvent(int32(i), j))
			}
		}
		f.Close()
		if j != r.sent {
			t.Errorf("client %d: %d events stored; sent %d", i, j, r.sent)
		}
		total += r.sent
		t.Logf("client %d: %d events, %d connections", i, r.sent, r.st.Connects)
	}
	t.Logf("%d events from %d clients in %v: %.0f events/s, %d connections cut", total, clients, el.Round(time.Millisecond), float64(total)/el.Seconds(), p.cuts)
}
