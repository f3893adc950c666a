// app.js: the page around the machine. The machine runs in the frame
// (screen.html, which owns ebiten's canvas); this page holds the
// controls, the guest's output and the timeline panel, and keeps the
// address bar equal to the run's link (guest, args, stdin, seed,
// config: session/link.go), so copying it reproduces the run. With
// ?run=ID (the dev server's stored runs) it shows that run's timeline
// instead of running a machine.
"use strict";

const $ = (id) => document.getElementById(id);
const panel = new TimelinePanel($("timeline"), $("tooltip"), $("tlinfo"), $("follow"));
window.timelinePanel = panel; // for tests and the curious

const frame = $("screen");
let fl = null; // the frame's window.fencelab once it is up

// The run's link: what the address bar says, with triangle by default.
function currentQuery() {
  const q = new URLSearchParams(location.search);
  q.delete("run");
  if (!q.get("guest")) q.set("guest", "triangle");
  return q;
}

// Fill the controls from a link.
function showQuery(q) {
  $("args").value = q.getAll("arg").join(" ");
  let cfg = {};
  try { cfg = JSON.parse(q.get("config") || "{}"); } catch (e) { /* the machine reports it */ }
  if (!cfg || typeof cfg !== "object") cfg = {}; // so is a config of the wrong shape
  $("seed").value = q.get("seed") || "0";
  $("displays").value = Array.isArray(cfg.displays) ? cfg.displays.join(",") : String(cfg.displays || "");
  // "one-worker" is the default, which the select calls "".
  $("threading").value = cfg.threading === "one-worker" ? "" : cfg.threading || "";
  $("hostwaits").checked = !!cfg.host_waits;
  $("script").value = q.get("stdin") || "";
  $("scriptbox").hidden = q.get("guest") !== "scenario";
}

// The link the controls describe.
function queryFromControls() {
  const q = new URLSearchParams();
  q.set("guest", $("guest").value || "triangle");
  for (const a of $("args").value.split(/\s+/).filter(Boolean)) q.append("arg", a);
  if (q.get("guest") === "scenario" && $("script").value) q.set("stdin", $("script").value);
  const seed = $("seed").value.trim();
  if (seed && seed !== "0") q.set("seed", seed);
  const cfg = {};
  const d = $("displays").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (d.length) cfg.displays = d;
  if ($("threading").value) cfg.threading = $("threading").value;
  if ($("hostwaits").checked) cfg.host_waits = true;
  const old = currentQuery().get("config");
  if (old) { // keep what the controls do not show (faults, watchdog, loop budget)
    try {
      const o = JSON.parse(old);
      for (const k of ["faults", "watchdog", "loop_budget"]) if (o[k] !== undefined) cfg[k] = o[k];
    } catch (e) { /* replaced */ }
  }
  if (Object.keys(cfg).length) q.set("config", JSON.stringify(cfg));
  return q;
}

function setLink(q) {
  const url = location.pathname + "?" + q.toString();
  history.replaceState(null, "", url);
  $("permalink").href = url;
  $("permalink").textContent = "link to this run";
}

// The speed the slider says.
function speed() { return Math.pow(2, Number($("speed").value)); }

function status(text) { $("status").textContent = text; }

// --- the frame ---

function bootFrame(q) {
  fl = null;
  $("progress").classList.remove("done");
  $("bar").style.width = "0";
  frame.src = "screen.html?" + q.toString();
}

window.addEventListener("message", (e) => {
  const m = e.data;
  if (!m || m.source !== "fencelab" || e.source !== frame.contentWindow) return;
  if (m.type === "progress") {
    $("bar").style.width = m.total ? (100 * m.loaded / m.total).toFixed(1) + "%" : "50%";
    status("loading " + (m.loaded / 1048576).toFixed(1) + " MB");
  } else if (m.type === "ready") {
    $("progress").classList.add("done");
    attach();
  } else if (m.type === "error") {
    status("could not start: " + m.message);
  } else if (m.type === "exit") { // the Go program ended: nothing answers any more
    fl = null;
    status("the machine stopped (the browser's console says why); reload the page to start again");
  }
});

// attach waits for the machine's API in the frame, then wires it up.
function attach() {
  const w = frame.contentWindow;
  if (!w || !w.fencelab || typeof w.fencelab.state !== "function") {
    setTimeout(attach, 20);
    return;
  }
  fl = w.fencelab;
  fl.onEvents = (batch) => panel.ingest(batch);
  TimelinePanel.setIoctlNames((req) => fl.ioctlName(req));
  const sel = $("guest"), want = currentQuery().get("guest");
  if (!sel.options.length) {
    for (const name of fl.guests()) sel.add(new Option(name, name));
  }
  if (![...sel.options].some((o) => o.value === want)) sel.add(new Option(want, want));
  sel.value = want;
  fitFrame();
}

// fitFrame sizes the frame to the machine's outputs, pixel for pixel.
function fitFrame() {
  if (!fl) return;
  const st = fl.state();
  if (st.width && (frame.width != st.width || frame.height != st.height)) {
    frame.width = st.width;
    frame.height = st.height;
  }
}

// --- controls ---

$("apply").onclick = () => {
  const q = queryFromControls();
  setLink(q);
  panel.reset(null);
  $("scriptbox").hidden = q.get("guest") !== "scenario";
  if (fl) {
    const err = fl.reset(q.toString());
    if (err) status(err);
    fl.setSpeed(speed()); // a new run starts at 1×; the slider says otherwise
    fitFrame();
  } else {
    bootFrame(q);
  }
};
$("guest").onchange = () => {
  $("scriptbox").hidden = $("guest").value !== "scenario";
};
$("playpause").onclick = () => {
  if (!fl) return;
  if (fl.state().running) fl.pause(); else fl.start();
};
$("step").onclick = () => fl && fl.step();
$("stepframe").onclick = () => fl && fl.stepFrame();
$("speed").oninput = () => {
  const s = speed();
  $("speedval").textContent = (s >= 1 ? s : "1/" + 1 / s) + "×";
  if (fl) fl.setSpeed(s);
};
$("wasmfile").onchange = async () => {
  const f = $("wasmfile").files[0];
  if (!f || !fl) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  const q = queryFromControls();
  q.delete("guest");
  panel.reset(null);
  const err = fl.loadGuest(f.name.replace(/\.wasm$/, ""), bytes, q.toString());
  status(err ? err : "running " + f.name + " (a module of your own: the link cannot carry it)");
  fl.setSpeed(speed());
  $("permalink").removeAttribute("href");
  $("permalink").textContent = "no link: a module of your own";
  fitFrame();
};

// The status line and output, a few times a second.
setInterval(() => {
  if (!fl) return;
  const st = fl.state();
  fitFrame();
  $("playpause").textContent = st.running ? "Pause" : "Start";
  if (st.now === undefined) { // no run: the link or the guest was refused
    status("no run: " + (st.error || "none started"));
  } else {
    const t = ((st.now - 1e9) / 1e9).toFixed(3);
    let s = "t = " + t + " s · " + st.frames + " frames · ";
    if (st.error) s += "stopped: " + st.error;
    else s += st.done ? "guests done" : st.running ? "running" : "paused";
    status(s);
  }
  // With the dev server behind the page, the run is being recorded.
  const rec = fl.stream();
  $("recording").hidden = !rec.run;
  if (rec.run) $("recording").textContent = "recording run " + rec.run + " (" + rec.state + ")";
  const out = fl.output();
  if ($("output").textContent !== out) $("output").textContent = out;
}, 250);

// --- start ---

(async function start() {
  const params = new URLSearchParams(location.search);
  const run = params.get("run");
  if (run) { // a stored run: its timeline only
    document.body.classList.add("stored");
    $("screenbox").hidden = true;
    $("controls").hidden = true;
    status("stored run " + run);
    try {
      const resp = await fetch("runs/" + encodeURIComponent(run) + ".jsonl");
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      $("follow").checked = false;
      panel.ingest(await resp.text());
    } catch (e) {
      status("could not load run " + run + ": " + e);
    }
    return;
  }
  const q = currentQuery();
  showQuery(q);
  setLink(q);
  bootFrame(q);
})();
