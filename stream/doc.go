// Package stream carries a machine's timeline to the dev server
// (cmd/devserver) over a WebSocket, from the browser tab (GOOS=js) or
// from a native program, without ever holding the machine up.
//
// A [Client] is a [timeline.Sink] for one run. [Client.Emit] puts the
// event in a bounded buffer (a [timeline.Ring]) and returns; a goroutine
// of the client's own takes events from there in batches, numbers them,
// and sends them as messages to the server, which stores them and
// acknowledges by sequence number. If the connection drops, the client
// dials again and resumes: the server says how many events it has stored
// and the client sends again from there, so the stored run has every
// event once, in order. If the server is away for long, or slower than
// the machine, the buffer fills and its oldest events are dropped; the
// run then holds a [timeline.Dropped] event saying how many were lost,
// where they were. Memory stays bounded throughout ([Options]). With no
// server at all the client gives up after a few dials ([Options.FirstDials])
// and Emit costs next to nothing from then on.
//
// # The wire protocol (version [Protocol])
//
// Every message is a WebSocket text message of newline-terminated lines,
// the first a JSON control line ([Frame], [Reply]). The client opens a
// run with hello, carrying the run's timeline header ([timeline.Meta]:
// guest, seed, the config's link), and the server answers welcome with
// the run id it made up, a resume token, and next = 0. Then the client
// sends events messages: a control line with seq, the number of the
// first event in the message (events are numbered from 0 in the run),
// and the events as JSON lines ([timeline.AppendEvent]). The server
// stores each event it does not have yet (a message may start below what
// it has, after a reconnection: those are skipped; one that starts above
// is an error) and answers ack with next, the number of events stored.
// After a dropped connection the client sends resume with the run id and
// token; the welcome's next says where to start again. end says the run
// is over; the server acks it and closes the connection normally.
//
// The server closes a connection it will not serve with a code and a
// reason in words: 1009 for a message over its size limit, and
// [CloseBadFrame], [CloseLimit], [CloseVersion], [CloseSuperseded]
// (which the client does not retry), [CloseUnknownRun] (the server
// restarted and forgot the run: the client starts a new run with what
// it holds, after a Dropped event counting the events the old run has),
// [CloseBusy] and [CloseTimeout] (it retries later).
//
// # In the browser
//
// The page's wasm makes a client per run, with [URLFromPage] of the
// page's own address, and gives it to the session as its sink (beside
// whatever else takes the events); on a new run it closes the old client
// from a goroutine, as Close waits for the server. Emit from the
// machine's goroutine never waits for the network; the client's own
// goroutine sends when the machine yields. [Client.Status] is there for
// the page to show (streaming, retrying, failed and why, events dropped).
//
// There the connection is the browser's own WebSocket, reached through
// syscall/js (conn_js.go); native programs use github.com/coder/websocket
// (conn_other.go). Keeping that library, and the net/http and crypto/tls
// it needs, out of the browser build saves the page's wasm a megabyte.
package stream
