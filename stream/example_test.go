package stream_test

import (
	"context"
	"fmt"
	"time"

	"fencelab/stream"
	"fencelab/timeline"
)

// A page streams its run to the dev server that served it: one client
// per run, given to the session as its timeline sink, closed when the
// run is over (in the background: Close waits for the server).
func Example() {
	u, err := stream.URLFromPage("http://127.0.0.1:8080/?guest=triangle&seed=3")
	if err != nil {
		panic(err)
	}
	meta := timeline.Meta{Guest: "triangle", Seed: 3, Config: map[string]string{"link": "guest=triangle&seed=3"}}
	c := stream.New(u, meta, stream.Options{})
	var sink timeline.Sink = c // session.New(spec, nil, sink)
	sink.Emit(timeline.Event{Time: 1_000_000_000, Kind: timeline.ProcessStart, Pid: 1})

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			// No dev server, say: the page goes on without one.
			fmt.Println("not stored:", err)
		}
	}()
}

func ExampleURLFromPage() {
	u, _ := stream.URLFromPage("http://127.0.0.1:8080/?guest=triangle&seed=3")
	fmt.Println(u)
	// Output: ws://127.0.0.1:8080/stream
}
