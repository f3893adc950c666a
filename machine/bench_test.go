package machine

import (
	"os"
	"strconv"
	"testing"
	"time"

	"fencelab/device"
)

// benchHostCalls runs b.N system calls from a guest that makes its
// argument's worth of them: the cost of one round trip from guest code
// through wazero's interpreter, the linux module and the fd table, and
// back. Starting the guest is outside the timer only in part (the
// module's instantiation is inside), which b.N large makes negligible.
func benchHostCalls(b *testing.B, wasm []byte) {
	m, err := New(Config{LoopBudget: 1 << 40}) // its b.N calls never block
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.SpawnWasm("hostcall", wasm, strconv.Itoa(b.N))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := m.Run(forever); err != nil {
		b.Fatal(err)
	}
	if code, _ := p.Exit(); code != 0 || p.Err() != nil {
		b.Fatalf("exit %d, %v", code, p.Err())
	}
}

// BenchmarkHostCallC is a system call's round trip from a tiny C guest.
func BenchmarkHostCallC(b *testing.B) {
	wasm, err := os.ReadFile("../guests/bin/hostcall.wasm")
	if err != nil {
		b.Fatal(err)
	}
	benchHostCalls(b, wasm)
}

// BenchmarkHostCallGo is a system call's round trip from a Go guest
// (guests/go/linux).
func BenchmarkHostCallGo(b *testing.B) {
	benchHostCalls(b, buildGuest(b, "./testdata/hostcall"))
}

// BenchmarkTriangle runs the triangle guest at 1280x720, 60 Hz, one
// virtual second an op, and reports virtual seconds simulated per wall
// second.
func BenchmarkTriangle(b *testing.B) {
	wasm, err := os.ReadFile("../guests/bin/triangle.wasm")
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(Config{Device: device.Config{Displays: []device.Display{{Width: 1280, Height: 720}}}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.SpawnWasm("triangle", wasm, "0")
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if err := m.Run(Boot + int64(i+1)*1_000_000_000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "virtual-s/s")
	if _, exited := p.Exit(); exited {
		out, errOut := p.Output()
		b.Fatalf("triangle exited:\n%s%s", out, errOut)
	}
}
