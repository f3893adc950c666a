package timeline

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Names turns numbers into names for a viewer. Every function is optional;
// without one the number is shown. They must be deterministic.
type Names struct {
	Ioctl func(request uint32) string // e.g. "DRM_IOCTL_SYNCOBJ_WAIT"
	Cmd   func(code uint32) string    // VIRTIO_GPU_CMD_* and VIRTIO_GPU_RESP_* codes (they do not overlap)
	Errno func(errno uint16) string   // e.g. "ETIME"
}

// WriteChrome writes events as a Chrome trace event JSON object
// ({"traceEvents":[…]}) that ui.perfetto.dev and chrome://tracing open.
// Timestamps are microseconds with the nanoseconds as a fraction.
//
// Tracks (Chrome processes and threads, named by "M" metadata events):
//
//   - process "virtio-gpu device": a thread per virtqueue (queue events)
//     and per (context, ring) holding its jobs as slices, retirements and
//     injected faults;
//   - process "guest kernel": a thread per dma-fence context (signals, and
//     fences the kernel itself emitted), per syncobj (replace, add point,
//     reset, signal, transfer, eventfds) and "kernel" for what no process
//     did (Pid 0);
//   - process "display": a thread per scanout (vblank, commits, flips,
//     flushes, cursor);
//   - a process per guest process (named from m.Processes): ioctls and
//     blocking waits as slices, skipped waits, wake-ups, emitted fences,
//     sync_files, start and exit as instants.
//
// Slices that would overlap without nesting on one thread (say, two jobs
// of one ring on different workers) get extra threads "… #2".
//
// Flow arrows follow each fence: emitted → the job that completes it →
// its signal; emitted → the syncobj point or sync_file it is placed in;
// signal → each waiter it wakes, and syncobj point → each waiter that
// waited on that point; sync_file inputs → the merge; commit → flip.
// They are v1 flow events ("s", then "f" with "bp":"e"), each bound to the
// slice or instant just before it on its thread: the file is written in
// the order Perfetto's importer processes it (by time; at one time, slice
// ends first, then everything in file order), so each binding is exact.
//
// A [Dropped] event becomes a global instant. Perfetto drops events
// before time zero, so if any event has a negative Time, every timestamp
// is shifted by the same amount to start at zero (otherData's ts_shift_ns
// says by how much).
//
// WriteChrome needs all the events at once (it pairs ends with
// beginnings); they should be in emission order, which is time order for
// a machine's recording. The output depends only on the arguments.
func WriteChrome(w io.Writer, m Meta, events []Event, n Names) error {
	c := &chrome{events: events, names: n, meta: m}
	for i := range events {
		c.base = min(c.base, events[i].Time)
	}
	c.build()
	c.layout()
	return c.write(w)
}

// Chrome processes.
const (
	procDevice uint8 = iota
	procKernel
	procDisplay
	procGuest
)

// Thread kinds, within their process.
const (
	thQueue    uint8 = iota // device: a virtqueue (a: queue)
	thRing                  // device: a (context, ring) (a: ctx, b: ring)
	thKernel                // kernel: Pid 0's own
	thFenceCtx              // kernel: a dma-fence context (a: context)
	thSyncobj               // kernel: a syncobj (a: id)
	thScanout               // display: a scanout (a: index)
	thMain                  // guest: the process
)

type threadKey struct {
	proc  uint8
	kind  uint8
	guest int32
	a, b  uint64
}

func (k threadKey) compare(o threadKey) int {
	return cmp.Or(cmp.Compare(k.proc, o.proc), cmp.Compare(k.guest, o.guest), cmp.Compare(k.kind, o.kind),
		cmp.Compare(k.a, o.a), cmp.Compare(k.b, o.b))
}

// What an item shows.
const (
	itInstant  uint8 = iota // an instant, named after its event
	itIoctl                 // ioctl enter … exit
	itWait                  // wait blocked … woken
	itJob                   // job start … end
	itDropped               // a global instant
	itUnpaired              // an end without its beginning
)

// item is one slice or instant of the output.
type item struct {
	ts, end    int64
	ev, ev2    int32 // the events it shows: the beginning, and the end or -1
	thread     int32 // index into chrome.threads; -1 for a global instant
	lane       int32
	typ        uint8
	span       bool  // a slice written as B/E (end > ts)
	unfinished bool  // a slice whose end never came: it ends at the last event
	flows      int32 // index of its first flow endpoint in chrome.ends, after layout
	nflows     int32
}

// Flow relations: the "name" of the flow events, shown on the arrow.
const (
	relSubmit uint8 = iota
	relSignal
	relAttach
	relPoint
	relWake
	relMerge
	relEventfd
	relFlip
	relTransfer
)

var relNames = [...]string{
	relSubmit: "submit", relSignal: "signal", relAttach: "attach", relPoint: "point",
	relWake: "wake", relMerge: "merge", relEventfd: "eventfd", relFlip: "flip",
	relTransfer: "transfer",
}

// flowEnd is one end of an arrow, written right after its item.
type flowEnd struct {
	item int32
	id   uint32
	out  bool // "s" (else "f")
	rel  uint8
}

type pointKey struct {
	syncobj uint32
	point   uint64
}

type commitKey struct {
	serial  uint64
	scanout uint32
}

type chrome struct {
	events []Event
	names  Names
	meta   Meta

	items    []item
	order    []int32 // item indexes in output order
	ends     []flowEnd
	nextFlow uint32
	threads  []threadKey
	threadOf map[threadKey]int32
	lanes    []int32 // lanes used per thread
	laneBase []int32 // first tid offset of each thread's lanes
	guests   []int32 // guest pids in order
	pidOf    map[int32]int
	tidBase  int
	last     int64 // the last event's time
	base     int64 // subtracted from every time: 0, or the earliest if negative

	ringOf map[uint64][2]uint64 // fence context → (ctx, ring), from FenceEmitted
}

func (c *chrome) thread(k threadKey) int32 {
	if i, ok := c.threadOf[k]; ok {
		return i
	}
	i := int32(len(c.threads))
	c.threads = append(c.threads, k)
	c.threadOf[k] = i
	return i
}

func (c *chrome) guestThread(pid int32) int32 {
	if pid == 0 {
		return c.thread(threadKey{proc: procKernel, kind: thKernel})
	}
	return c.thread(threadKey{proc: procGuest, kind: thMain, guest: pid})
}

func (c *chrome) add(it item) int32 {
	c.items = append(c.items, it)
	return int32(len(c.items) - 1)
}

func (c *chrome) instant(i int, th int32) int32 {
	return c.add(item{ts: c.events[i].Time, end: c.events[i].Time, ev: int32(i), ev2: -1, thread: th, typ: itInstant})
}

// arrow draws a flow from item from to item to, if from exists and is not
// later than to.
func (c *chrome) arrow(from, to int32, rel uint8) {
	if from < 0 || from == to || c.items[from].ts > c.items[to].ts {
		return
	}
	c.nextFlow++
	c.ends = append(c.ends, flowEnd{item: from, id: c.nextFlow, out: true, rel: rel},
		flowEnd{item: to, id: c.nextFlow, rel: rel})
}

func lookup[K comparable](m map[K]int32, k K) int32 {
	if i, ok := m[k]; ok {
		return i
	}
	return -1
}

// build turns events into items and arrows.
func (c *chrome) build() {
	c.threadOf = map[threadKey]int32{}
	c.ringOf = map[uint64][2]uint64{}
	device := map[uint64]Fence{} // device fence id → fence
	for _, e := range c.events {
		if e.Kind == FenceEmitted && e.FenceID != 0 && !e.Fence.IsZero() {
			device[e.FenceID] = e.Fence
			c.ringOf[e.Fence.Context] = [2]uint64{uint64(e.CtxID), uint64(e.RingIdx)}
		}
	}

	type waitKey struct {
		pid     int32
		fence   Fence
		syncobj uint32
		point   uint64
	}
	ioctls := map[int32]int32{}   // pid → open ioctl item
	waits := map[waitKey]int32{}  // open waits
	jobs := map[int32]int32{}     // worker → open job item
	producer := map[Fence]int32{} // where each fence was last seen going forward: emitted, job, signal
	emitted := map[Fence]int32{}  // where each fence was made
	signalled := map[Fence]int32{}
	points := map[pointKey]int32{}
	commits := map[commitKey]int32{}
	commitFence := map[commitKey]Fence{}
	// origin is where a fence was made, or else where it was last seen.
	origin := func(f Fence) int32 {
		if it, ok := emitted[f]; ok {
			return it
		}
		return lookup(producer, f)
	}
	wkey := func(e *Event) waitKey {
		if e.Pid != 0 {
			return waitKey{pid: e.Pid}
		}
		return waitKey{fence: e.Fence, syncobj: e.Syncobj, point: e.Point}
	}
	closeSlice := func(it int32, i int) {
		c.items[it].end = c.events[i].Time
		c.items[it].ev2 = int32(i)
		if c.items[it].end < c.items[it].ts {
			c.items[it].end = c.items[it].ts
		}
	}
	abandon := func(it int32, t int64) {
		c.items[it].end = max(t, c.items[it].ts)
		c.items[it].unfinished = true
	}

	for i := range c.events {
		e := &c.events[i]
		if i == 0 || e.Time > c.last {
			c.last = e.Time
		}
		switch e.Kind {
		case QueueAvail, QueueUsed, QueueBroken, Request, Response, QueueAdd:
			c.instant(i, c.thread(threadKey{proc: procDevice, kind: thQueue, a: uint64(e.Queue)}))
		case FenceRetired:
			c.instant(i, c.thread(threadKey{proc: procDevice, kind: thRing, a: uint64(e.CtxID), b: uint64(e.RingIdx)}))
		case FaultInjected:
			c.instant(i, c.thread(threadKey{proc: procDevice, kind: thRing, a: uint64(e.CtxID), b: uint64(e.RingIdx)}))
		case JobStart:
			th := c.thread(threadKey{proc: procDevice, kind: thRing, a: uint64(e.CtxID), b: uint64(e.RingIdx)})
			if old, ok := jobs[e.Worker]; ok {
				abandon(old, e.Time)
			}
			it := c.add(item{ts: e.Time, ev: int32(i), ev2: -1, thread: th, typ: itJob})
			jobs[e.Worker] = it
			if f, ok := device[e.FenceID]; ok && e.FenceID != 0 {
				c.arrow(lookup(producer, f), it, relSubmit)
				producer[f] = it
			}
		case JobEnd:
			if it, ok := jobs[e.Worker]; ok {
				closeSlice(it, i)
				delete(jobs, e.Worker)
			} else {
				th := c.thread(threadKey{proc: procDevice, kind: thRing, a: uint64(e.CtxID), b: uint64(e.RingIdx)})
				c.add(item{ts: e.Time, end: e.Time, ev: int32(i), ev2: -1, thread: th, typ: itUnpaired})
			}
		case Flush, ScanoutSet, Cursor, Vblank:
			c.instant(i, c.thread(threadKey{proc: procDisplay, kind: thScanout, a: uint64(e.Scanout)}))
		case AtomicCommit:
			it := c.instant(i, c.thread(threadKey{proc: procDisplay, kind: thScanout, a: uint64(e.Scanout)}))
			k := commitKey{e.Count, e.Scanout}
			commits[k] = it
			if !e.Fence.IsZero() {
				commitFence[k] = e.Fence
				if _, ok := producer[e.Fence]; !ok {
					producer[e.Fence] = it
				}
			}
		case Flip:
			it := c.instant(i, c.thread(threadKey{proc: procDisplay, kind: thScanout, a: uint64(e.Scanout)}))
			k := commitKey{e.Count, e.Scanout}
			c.arrow(lookup(commits, k), it, relFlip)
			if f, ok := commitFence[k]; ok {
				producer[f] = it
			}
		case IoctlEnter:
			th := c.guestThread(e.Pid)
			if old, ok := ioctls[e.Pid]; ok {
				abandon(old, e.Time)
			}
			ioctls[e.Pid] = c.add(item{ts: e.Time, ev: int32(i), ev2: -1, thread: th, typ: itIoctl})
		case IoctlExit:
			if it, ok := ioctls[e.Pid]; ok {
				closeSlice(it, i)
				delete(ioctls, e.Pid)
			} else {
				c.add(item{ts: e.Time, end: e.Time, ev: int32(i), ev2: -1, thread: c.guestThread(e.Pid), typ: itUnpaired})
			}
		case WaitBlocked:
			k := wkey(e)
			if _, ok := waits[k]; !ok {
				waits[k] = c.add(item{ts: e.Time, ev: int32(i), ev2: -1, thread: c.guestThread(e.Pid), typ: itWait})
			}
		case WaitWoken, WaitSkipped:
			if e.Kind == WaitWoken {
				k := wkey(e)
				if it, ok := waits[k]; ok {
					closeSlice(it, i)
					delete(waits, k)
				}
			}
			it := c.instant(i, c.guestThread(e.Pid))
			fromPoint := int32(-1)
			if e.Syncobj != 0 {
				fromPoint = lookup(points, pointKey{e.Syncobj, e.Point})
				c.arrow(fromPoint, it, relPoint)
			}
			if !e.Fence.IsZero() {
				if s, ok := signalled[e.Fence]; ok {
					c.arrow(s, it, relWake)
				} else if fromPoint < 0 {
					c.arrow(lookup(producer, e.Fence), it, relWake)
				}
			}
		case FenceEmitted:
			var th int32
			if e.Pid != 0 {
				th = c.guestThread(e.Pid)
			} else {
				th = c.thread(threadKey{proc: procKernel, kind: thFenceCtx, a: e.Fence.Context})
			}
			it := c.instant(i, th)
			if !e.Fence.IsZero() {
				producer[e.Fence] = it
				emitted[e.Fence] = it
			}
		case FenceSignalled:
			it := c.instant(i, c.thread(threadKey{proc: procKernel, kind: thFenceCtx, a: e.Fence.Context}))
			c.arrow(lookup(producer, e.Fence), it, relSignal)
			producer[e.Fence] = it
			signalled[e.Fence] = it
		case SyncobjReplace, SyncobjAddPoint, SyncobjSignal, SyncobjTransfer, SyncobjReset:
			it := c.instant(i, c.thread(threadKey{proc: procKernel, kind: thSyncobj, a: uint64(e.Syncobj)}))
			pk := pointKey{e.Syncobj, e.Point}
			if e.Kind == SyncobjReset {
				delete(points, pk)
				continue
			}
			from := int32(-1)
			if e.Kind == SyncobjTransfer {
				from = lookup(points, pointKey{e.SrcSyncobj, e.SrcPoint})
				c.arrow(from, it, relTransfer)
			}
			if from < 0 && !e.Fence.IsZero() {
				c.arrow(origin(e.Fence), it, relAttach)
			}
			points[pk] = it
		case SyncFileCreated:
			it := c.instant(i, c.guestThread(e.Pid))
			if e.SrcSyncobj != 0 {
				c.arrow(lookup(points, pointKey{e.SrcSyncobj, e.SrcPoint}), it, relAttach)
			} else if !e.Fence.IsZero() {
				c.arrow(origin(e.Fence), it, relAttach)
			}
		case SyncFileMerged:
			it := c.instant(i, c.guestThread(e.Pid))
			if !e.SrcFence.IsZero() {
				c.arrow(lookup(producer, e.SrcFence), it, relMerge)
			}
			if _, ok := producer[e.Fence]; !ok && !e.Fence.IsZero() {
				producer[e.Fence] = it
			}
		case EventfdFired:
			var th int32
			if e.Syncobj != 0 {
				th = c.thread(threadKey{proc: procKernel, kind: thSyncobj, a: uint64(e.Syncobj)})
			} else {
				th = c.guestThread(e.Pid)
			}
			it := c.instant(i, th)
			if s, ok := signalled[e.Fence]; ok && !e.Fence.IsZero() {
				c.arrow(s, it, relEventfd)
			} else if e.Syncobj != 0 {
				c.arrow(lookup(points, pointKey{e.Syncobj, e.Point}), it, relEventfd)
			}
		case ProcessStart, ProcessExit:
			c.instant(i, c.guestThread(e.Pid))
		case Dropped:
			c.add(item{ts: e.Time, end: e.Time, ev: int32(i), ev2: -1, thread: -1, typ: itDropped})
		default: // an unknown kind: shown where nothing else goes
			c.instant(i, c.guestThread(0))
		}
	}
	// Slices still open end with the recording.
	for _, m := range []map[int32]int32{ioctls, jobs} {
		for _, it := range m {
			abandon(it, c.last)
		}
	}
	for _, it := range waits {
		abandon(it, c.last)
	}
}

// layout orders threads and processes, assigns lanes, and groups each
// item's flow endpoints.
func (c *chrome) layout() {
	// Items are in creation order, which arrows rely on; the output is
	// sorted by time, creation order breaking ties.
	for i := range c.items {
		it := &c.items[i]
		it.span = it.typ == itIoctl || it.typ == itWait || it.typ == itJob
		if it.span && it.end == it.ts {
			it.span = false // a zero-length slice: written as "X" with dur 0
		}
	}

	// Lanes: a slice goes on the first lane of its thread where it nests
	// in what is open there at its start.
	c.order = c.sorted()
	order := c.order
	c.lanes = make([]int32, len(c.threads))
	open := make([][][]int64, len(c.threads)) // per thread, per lane, a stack of ends
	for _, idx := range order {
		it := &c.items[idx]
		if it.thread < 0 {
			continue
		}
		t := it.thread
		if c.lanes[t] == 0 {
			c.lanes[t] = 1
			open[t] = [][]int64{nil}
		}
		if !it.span {
			continue // instants and zero-length slices nest anywhere: lane 0
		}
		lane := -1
		for l := range open[t] {
			st := open[t][l]
			for len(st) > 0 && st[len(st)-1] <= it.ts {
				st = st[:len(st)-1]
			}
			open[t][l] = st
			if lane < 0 && (len(st) == 0 || st[len(st)-1] >= it.end) {
				lane = l
			}
		}
		if lane < 0 {
			lane = len(open[t])
			open[t] = append(open[t], nil)
			c.lanes[t]++
		}
		open[t][lane] = append(open[t][lane], it.end)
		it.lane = int32(lane)
	}

	// Processes: device 1, kernel 2, display 3, guests from 4 by pid.
	c.pidOf = map[int32]int{}
	for _, k := range c.threads {
		if k.proc == procGuest {
			if _, ok := c.pidOf[k.guest]; !ok {
				c.pidOf[k.guest] = 0
				c.guests = append(c.guests, k.guest)
			}
		}
	}
	slices.Sort(c.guests)
	for i, g := range c.guests {
		c.pidOf[g] = 4 + i
	}
	c.tidBase = 1000
	for c.tidBase <= 4+len(c.guests) {
		c.tidBase *= 10
	}

	// Threads in a stable order; each lane one tid.
	byKey := make([]int32, len(c.threads))
	for i := range byKey {
		byKey[i] = int32(i)
	}
	slices.SortFunc(byKey, func(a, b int32) int { return c.threads[a].compare(c.threads[b]) })
	c.laneBase = make([]int32, len(c.threads))
	next := int32(0)
	for _, t := range byKey {
		c.laneBase[t] = next
		next += c.lanes[t]
	}

	// Flow endpoints grouped by item, in the order they were drawn.
	counts := make([]int32, len(c.items)+1)
	for _, f := range c.ends {
		counts[f.item+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	grouped := make([]flowEnd, len(c.ends))
	fill := append([]int32(nil), counts[:len(c.items)]...)
	for _, f := range c.ends {
		grouped[fill[f.item]] = f
		fill[f.item]++
	}
	for i := range c.items {
		c.items[i].flows = counts[i]
		c.items[i].nflows = counts[i+1] - counts[i]
	}
	c.ends = grouped
}

// sorted returns item indexes by (time, creation).
func (c *chrome) sorted() []int32 {
	order := make([]int32, len(c.items))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return cmp.Compare(c.items[a].ts, c.items[b].ts)
	})
	return order
}

func (c *chrome) pid(t int32) int {
	k := c.threads[t]
	switch k.proc {
	case procDevice:
		return 1
	case procKernel:
		return 2
	case procDisplay:
		return 3
	}
	return c.pidOf[k.guest]
}

func (c *chrome) tid(t, lane int32) int { return c.tidBase + int(c.laneBase[t]+lane) }

// write writes the trace.
func (c *chrome) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 1024)
	b = append(b, "{\"traceEvents\":[\n"...)
	first := true
	sep := func() {
		if !first {
			b = append(b, ",\n"...)
		}
		first = false
	}
	flush := func() error {
		if len(b) >= 32<<10 {
			_, err := bw.Write(b)
			b = b[:0]
			return err
		}
		return nil
	}

	// Metadata: every process and thread lane that is used.
	procs := make([]bool, 4+len(c.guests))
	for _, k := range c.threads {
		switch k.proc {
		case procGuest:
			procs[c.pidOf[k.guest]] = true
		default:
			procs[1+int(k.proc)] = true
		}
	}
	for pid, used := range procs {
		if !used {
			continue
		}
		sep()
		b = append(b, `{"ph":"M","name":"process_name","pid":`...)
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, `,"args":{"name":`...)
		b = appendJSONString(b, c.processName(pid))
		b = append(b, "}}"...)
	}
	byTid := make([][2]int32, 0, len(c.threads))
	for t := range c.threads {
		for l := int32(0); l < c.lanes[t]; l++ {
			byTid = append(byTid, [2]int32{int32(t), l})
		}
	}
	slices.SortFunc(byTid, func(a, b [2]int32) int { return c.tid(a[0], a[1]) - c.tid(b[0], b[1]) })
	for _, tl := range byTid {
		sep()
		b = append(b, `{"ph":"M","name":"thread_name","pid":`...)
		b = strconv.AppendInt(b, int64(c.pid(tl[0])), 10)
		b = append(b, `,"tid":`...)
		b = strconv.AppendInt(b, int64(c.tid(tl[0], tl[1])), 10)
		b = append(b, `,"args":{"name":`...)
		name := c.threadName(c.threads[tl[0]])
		if tl[1] > 0 {
			name += " #" + strconv.Itoa(int(tl[1])+1)
		}
		b = appendJSONString(b, name)
		b = append(b, "}}"...)
	}

	// Ends of slices, ordered so that at one time inner slices close
	// first, and all of them before anything begins.
	var ends []int32
	for i := range c.items {
		if c.items[i].span {
			ends = append(ends, int32(i))
		}
	}
	slices.SortStableFunc(ends, func(a, b int32) int {
		x, y := &c.items[a], &c.items[b]
		if r := cmp.Compare(x.end, y.end); r != 0 {
			return r
		}
		if r := cmp.Compare(y.ts, x.ts); r != 0 {
			return r
		}
		return int(b - a)
	})

	ei := 0
	for _, idx := range c.order {
		it := &c.items[idx]
		for ei < len(ends) && c.items[ends[ei]].end <= it.ts {
			sep()
			b = c.appendEnd(b, &c.items[ends[ei]])
			ei++
			if err := flush(); err != nil {
				return err
			}
		}
		sep()
		b = c.appendItem(b, it)
		for _, f := range c.ends[it.flows : it.flows+it.nflows] {
			b = append(b, ",\n"...)
			b = c.appendFlow(b, it, f)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	for ; ei < len(ends); ei++ {
		sep()
		b = c.appendEnd(b, &c.items[ends[ei]])
		if err := flush(); err != nil {
			return err
		}
	}

	b = append(b, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":"...)
	var shift string
	if c.base < 0 {
		shift = strconv.FormatUint(c.stamp(0), 10)
	}
	other, err := json.Marshal(struct {
		Format  string            `json:"format"`
		Version int               `json:"version"`
		Guest   string            `json:"guest,omitempty"`
		Seed    string            `json:"seed"`
		Config  map[string]string `json:"config,omitempty"`
		Shift   string            `json:"ts_shift_ns,omitempty"`
	}{Format, Version, c.meta.Guest, strconv.FormatUint(c.meta.Seed, 10), c.meta.Config, shift})
	if err != nil {
		return fmt.Errorf("timeline: trace metadata: %w", err)
	}
	b = append(b, other...)
	b = append(b, "}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

func (c *chrome) processName(pid int) string {
	switch pid {
	case 1:
		return "virtio-gpu device"
	case 2:
		return "guest kernel"
	case 3:
		return "display"
	}
	g := c.guests[pid-4]
	if name := c.meta.Processes[g]; name != "" {
		return name + " (pid " + strconv.Itoa(int(g)) + ")"
	}
	return "pid " + strconv.Itoa(int(g))
}

func (c *chrome) threadName(k threadKey) string {
	a := strconv.FormatUint(k.a, 10)
	switch k.kind {
	case thQueue:
		switch k.a {
		case 0:
			return "controlq"
		case 1:
			return "cursorq"
		}
		return "queue " + a
	case thRing:
		if k.a == 0 { // context ids start at 1: 0 is no context's ring
			return "global fence timeline"
		}
		return "ctx " + a + " ring " + strconv.FormatUint(k.b, 10)
	case thKernel:
		return "kernel"
	case thFenceCtx:
		if r, ok := c.ringOf[k.a]; ok && r[0] == 0 {
			return "fence context " + a + " (global)"
		} else if ok {
			return "fence context " + a + " (ctx " + strconv.FormatUint(r[0], 10) + " ring " + strconv.FormatUint(r[1], 10) + ")"
		}
		return "fence context " + a
	case thSyncobj:
		return "syncobj " + a
	case thScanout:
		return "scanout " + a
	}
	return "main"
}

// appendHead appends the fields every event of a thread has.
func (c *chrome) appendHead(b []byte, ph string, it *item, ts int64) []byte {
	b = append(b, `{"ph":"`...)
	b = append(b, ph...)
	b = append(b, `","pid":`...)
	b = strconv.AppendInt(b, int64(c.pid(it.thread)), 10)
	b = append(b, `,"tid":`...)
	b = strconv.AppendInt(b, int64(c.tid(it.thread, it.lane)), 10)
	b = append(b, `,"ts":`...)
	return appendMicros(b, c.stamp(ts))
}

// stamp returns t - c.base, computed without overflow.
func (c *chrome) stamp(t int64) uint64 { return uint64(t) - uint64(c.base) }

func (c *chrome) appendEnd(b []byte, it *item) []byte {
	b = c.appendHead(b, "E", it, it.end)
	return append(b, '}')
}

func (c *chrome) appendFlow(b []byte, it *item, f flowEnd) []byte {
	if f.out {
		b = c.appendHead(b, "s", it, it.ts)
	} else {
		b = c.appendHead(b, "f", it, it.ts)
		b = append(b, `,"bp":"e"`...)
	}
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, uint64(f.id), 10)
	b = append(b, `,"cat":"flow","name":"`...)
	b = append(b, relNames[f.rel]...)
	return append(b, `"}`...)
}

func (c *chrome) appendItem(b []byte, it *item) []byte {
	e := &c.events[it.ev]
	switch {
	case it.typ == itDropped:
		b = append(b, `{"ph":"i","s":"g","ts":`...)
		b = appendMicros(b, c.stamp(it.ts))
	case it.span:
		b = c.appendHead(b, "B", it, it.ts)
	case it.typ == itIoctl || it.typ == itWait || it.typ == itJob:
		b = c.appendHead(b, "X", it, it.ts)
		b = append(b, `,"dur":0`...)
	default:
		b = c.appendHead(b, "i", it, it.ts)
		b = append(b, `,"s":"t"`...)
	}
	b = append(b, `,"cat":"`...)
	b = append(b, category(e.Kind)...)
	b = append(b, `","name":"`...)
	b = c.appendName(b, it)
	b = append(b, `","args":{`...)
	b = c.appendArgs(b, it)
	return append(b, "}}"...)
}

func category(k Kind) string {
	switch k {
	case QueueAvail, QueueUsed, QueueBroken, Request, Response, QueueAdd:
		return "virtqueue"
	case JobStart, JobEnd, FenceRetired:
		return "gpu"
	case FaultInjected:
		return "fault"
	case IoctlEnter, IoctlExit:
		return "ioctl"
	case WaitSkipped, WaitBlocked, WaitWoken:
		return "wait"
	case FenceEmitted, FenceSignalled:
		return "fence"
	case SyncobjReplace, SyncobjAddPoint, SyncobjReset, SyncobjSignal, SyncobjTransfer, EventfdFired:
		return "syncobj"
	case SyncFileCreated, SyncFileMerged:
		return "sync_file"
	case Flush, ScanoutSet, Cursor, Vblank, AtomicCommit, Flip:
		return "display"
	case ProcessStart, ProcessExit:
		return "process"
	}
	return "timeline"
}

// appendArgs appends the fields of the item's events as args: the
// beginning's, then those of the end its kind does not already have.
func (c *chrome) appendArgs(b []byte, it *item) []byte {
	e := &c.events[it.ev]
	n := 0
	put := func(e *Event, m uint64) {
		for ; m != 0; m &= m - 1 {
			k := key(bits.TrailingZeros64(m))
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, '"')
			b = append(b, keyNames[k]...)
			b = append(b, `":`...)
			v := e.get(k)
			switch {
			case k == kIoctl || k == kCmd || k == kResp || k == kFlags:
				b = append(b, `"0x`...)
				b = strconv.AppendUint(b, v, 16)
				b = append(b, '"')
			case keyWidth[k] < 0:
				b = strconv.AppendInt(b, int64(v), 10)
			default:
				b = strconv.AppendUint(b, v, 10)
			}
		}
	}
	put(e, e.Kind.fields())
	if it.ev2 >= 0 {
		e2 := &c.events[it.ev2]
		put(e2, e2.Kind.fields()&^e.Kind.fields())
	}
	if it.unfinished {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `"unfinished":true`...)
	}
	return b
}

// appendName appends the item's display name, escaped for a JSON string.
func (c *chrome) appendName(b []byte, it *item) []byte {
	e := &c.events[it.ev]
	u := func(v uint64) { b = strconv.AppendUint(b, v, 10) }
	fence := func(f Fence) { u(f.Context); b = append(b, ':'); u(f.Seqno) }
	errno := func(v uint16) {
		if c.names.Errno != nil {
			b = appendEscaped(b, c.names.Errno(v))
		} else {
			b = append(b, "errno "...)
			u(uint64(v))
		}
	}
	hex := func(v uint32) {
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, uint64(v), 16)
	}
	cmd := func(v uint32) {
		if c.names.Cmd != nil {
			b = appendEscaped(b, c.names.Cmd(v))
		} else {
			b = append(b, "cmd "...)
			hex(v)
		}
	}
	switch it.typ {
	case itDropped:
		u(e.Count)
		return append(b, " events dropped"...)
	case itIoctl:
		if c.names.Ioctl != nil {
			b = appendEscaped(b, c.names.Ioctl(e.Ioctl))
		} else {
			b = append(b, "ioctl "...)
			hex(e.Ioctl)
		}
		if it.ev2 >= 0 && c.events[it.ev2].Errno != 0 {
			b = append(b, " → "...)
			errno(c.events[it.ev2].Errno)
		}
		return b
	case itWait:
		b = append(b, "wait "...)
		if !e.Fence.IsZero() {
			fence(e.Fence)
		} else {
			b = append(b, "syncobj "...)
			u(uint64(e.Syncobj))
			b = append(b, " point "...)
			u(e.Point)
		}
		if it.ev2 >= 0 && c.events[it.ev2].Errno != 0 {
			b = append(b, " → "...)
			errno(c.events[it.ev2].Errno)
		}
		return b
	case itJob:
		if e.FenceID == 0 {
			return append(b, "job"...)
		}
		b = append(b, "job fence "...)
		u(e.FenceID)
		return b
	case itUnpaired:
		b = append(b, e.Kind.String()...)
		return append(b, " (no beginning)"...)
	}
	switch e.Kind {
	case QueueAvail:
		b = append(b, "avail "...)
		u(uint64(e.Head))
	case QueueUsed:
		b = append(b, "used "...)
		u(uint64(e.Head))
	case QueueAdd:
		b = append(b, "add "...)
		cmd(e.Cmd)
	case QueueBroken:
		b = append(b, "queue broken"...)
	case Request:
		cmd(e.Cmd)
	case Response:
		cmd(e.Cmd)
		b = append(b, " → "...)
		cmd(e.Resp)
	case FenceRetired:
		b = append(b, "retired "...)
		u(e.FenceID)
	case FaultInjected:
		b = append(b, "fault "...)
		switch e.Fault {
		case 1:
			b = append(b, "delay"...)
		case 2:
			b = append(b, "hang"...)
		case 3:
			b = append(b, "error"...)
		case 4:
			b = append(b, "drop"...)
		default:
			u(uint64(e.Fault))
		}
	case Flush:
		b = append(b, "flush "...)
		u(uint64(e.Resource))
	case ScanoutSet:
		if e.Resource == 0 {
			b = append(b, "scanout off"...)
		} else {
			b = append(b, "scanout ← "...)
			u(uint64(e.Resource))
		}
	case Cursor:
		b = append(b, "cursor"...)
	case Vblank:
		b = append(b, "vblank "...)
		u(e.Count)
	case AtomicCommit:
		b = append(b, "commit "...)
		u(e.Count)
	case Flip:
		b = append(b, "flip "...)
		u(e.Count)
	case WaitWoken:
		if e.Errno != 0 {
			b = append(b, "wait ended: "...)
			errno(e.Errno)
		} else {
			b = append(b, "woken by "...)
			fence(e.Fence)
		}
	case WaitSkipped:
		b = append(b, "no wait for "...)
		fence(e.Fence)
		b = append(b, " ("...)
		b = append(b, e.Reason.String()...)
		b = append(b, ')')
	case FenceEmitted:
		b = append(b, "fence "...)
		fence(e.Fence)
	case FenceSignalled:
		b = append(b, "signalled "...)
		fence(e.Fence)
		if e.Errno != 0 {
			b = append(b, " error "...)
			errno(e.Errno)
		}
	case SyncobjReplace:
		if e.Fence.IsZero() {
			b = append(b, "emptied"...)
		} else {
			b = append(b, "fence ← "...)
			fence(e.Fence)
		}
	case SyncobjAddPoint:
		b = append(b, "point "...)
		u(e.Point)
		b = append(b, " ← "...)
		fence(e.Fence)
	case SyncobjReset:
		b = append(b, "reset"...)
	case SyncobjSignal:
		b = append(b, "signal point "...)
		u(e.Point)
	case SyncobjTransfer:
		b = append(b, "point "...)
		u(e.Point)
		b = append(b, " ← syncobj "...)
		u(uint64(e.SrcSyncobj))
		b = append(b, " point "...)
		u(e.SrcPoint)
	case SyncFileCreated:
		b = append(b, "sync_file fd "...)
		b = strconv.AppendInt(b, int64(e.FD), 10)
		b = append(b, " ← "...)
		fence(e.Fence)
	case SyncFileMerged:
		b = append(b, "merge fd "...)
		b = strconv.AppendInt(b, int64(e.SrcFD), 10)
		b = append(b, " → fd "...)
		b = strconv.AppendInt(b, int64(e.FD), 10)
	case EventfdFired:
		b = append(b, "eventfd "...)
		b = strconv.AppendInt(b, int64(e.FD), 10)
	case ProcessStart:
		b = append(b, "start"...)
	case ProcessExit:
		b = append(b, "exit "...)
		b = strconv.AppendInt(b, int64(e.Status), 10)
	default:
		b = append(b, e.Kind.String()...)
	}
	return b
}

// appendMicros appends ns nanoseconds as microseconds, exactly: the
// nanoseconds become up to three decimals.
func appendMicros(b []byte, ns uint64) []byte {
	b = strconv.AppendUint(b, ns/1000, 10)
	if f := ns % 1000; f != 0 {
		d := [4]byte{'.', byte('0' + f/100), byte('0' + f/10%10), byte('0' + f%10)}
		n := 4
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return b
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends s escaped for the inside of a JSON string.
func appendEscaped(b []byte, s string) []byte {
	const hexdig = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}
