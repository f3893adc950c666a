package timeline_test

import (
	"fmt"
	"os"
	"strings"

	"fencelab/timeline"
)

func ExampleWriter() {
	w, err := timeline.NewWriter(os.Stdout, timeline.Meta{Guest: "hello", Seed: 1})
	if err != nil {
		panic(err)
	}
	w.WriteEvent(timeline.Event{Time: 1500, Kind: timeline.FenceSignalled, Fence: timeline.Fence{Context: 5, Seqno: 1}})
	w.Flush()
	// Output:
	// {"format":"fencelab-timeline","version":1,"guest":"hello","seed":1}
	// {"t":1500,"kind":"fence-signalled","errno":0,"fence_ctx":5,"fence_seqno":1}
}

func ExampleReader() {
	const stream = `{"format":"fencelab-timeline","version":1,"guest":"hello"}
{"t":0,"kind":"process-start","pid":1}
{"t":2000,"kind":"process-exit","pid":1,"status":0}
`
	r, err := timeline.NewReader(strings.NewReader(stream))
	if err != nil {
		panic(err)
	}
	fmt.Println("guest:", r.Meta().Guest)
	for {
		e, err := r.Next()
		if err != nil {
			break // io.EOF, or the first malformed line
		}
		fmt.Println(e.Time, e.Kind, e.Pid)
	}
	// Output:
	// guest: hello
	// 0 process-start 1
	// 2000 process-exit 1
}

func ExampleRing() {
	r := timeline.NewRing(2)
	for i := range 5 {
		r.Emit(timeline.Event{Time: int64(i), Kind: timeline.Vblank, Count: uint64(i)})
	}
	for _, e := range r.Drain(nil) {
		fmt.Println(e.Time, e.Kind, e.Count)
	}
	// Output:
	// 2 dropped 3
	// 3 vblank 3
	// 4 vblank 4
}
