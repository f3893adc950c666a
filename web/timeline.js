// timeline.js: the timeline panel. It reads fencelab's timeline events
// (JSON lines, timeline/jsonl.go) as they stream in, or from a stored
// run, and draws them on a canvas: a track per process (ioctls and waits
// as slices), per GPU ring (jobs), per syncobj and for the display, with
// arrows from the job whose fence signalled to each waiter it woke.
// Wheel zooms about the pointer, dragging pans, hovering shows an
// event's fields. Times are shown from the machine's boot (virtual time
// 1 s), as the page's status line shows them.
"use strict";

const BOOT = 1e9; // machine.Boot

class TimelinePanel {
  constructor(canvas, tooltip, info, follow) {
    this.canvas = canvas;
    // A canvas the CPU draws (the willReadFrequently hint makes Chrome
    // keep it off the GPU): rectangles and text are cheap for the CPU,
    // and the GPU, often SwiftShader on the CPU itself, is the machine's
    // display's to use. In headless Chromium on 2 cores this took the
    // page from 19 to 21 fps at 1280x720 (BENCHMARKS.md).
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.tooltip = tooltip;
    this.info = info;
    this.follow = follow;
    this.maxItems = 200000; // beyond this the oldest go, and the panel says so
    this.reset(null);
    this.installInput();
    new ResizeObserver(() => this.invalidate()).observe(canvas);
  }

  // reset forgets everything: a new run starts (meta: its header).
  reset(meta) {
    this.meta = meta;
    this.count = 0; // events ingested, for the page and its tests
    this.dropped = 0;
    this.tracks = new Map(); // key → {name, order, items: [{t0, t1, ev, slice}]}
    this.open = new Map(); // slices begun, by what ends them
    this.fences = new Map(); // "ctx/ring/fence_id" → fence "context:seqno"
    this.signalAt = new Map(); // fence "context:seqno" → {track, t} of the job that completed it
    this.arrows = []; // {a: {track, t}, b: {track, t}}
    this.vblanks = new Map(); // scanout → {t, count, period}: the display's vblank grid
    this.items = 0;
    this.tMin = Infinity;
    this.tMax = -Infinity;
    this.view = null; // {t0, ns per px}
    this.invalidate();
  }

  // ingest takes a batch of JSON lines: events, and a header line when a
  // run starts.
  ingest(text) {
    for (const line of text.split("\n")) {
      if (!line) continue;
      let ev;
      try {
        ev = JSON.parse(line);
      } catch (e) {
        continue; // a torn or foreign line: skip it, keep the rest
      }
      if (ev.format === "fencelab-timeline") {
        this.reset(ev);
        continue;
      }
      if (typeof ev.kind !== "string") continue;
      this.add(ev);
    }
    this.invalidate(true);
  }

  track(key, name, order) {
    let tr = this.tracks.get(key);
    if (!tr) {
      tr = { key, name, order, items: [] };
      this.tracks.set(key, tr);
      this.sorted = null;
    }
    return tr;
  }

  procTrack(pid) {
    const names = (this.meta && this.meta.processes) || {};
    const name = pid ? (names[pid] || "process") + " (pid " + pid + ")" : "kernel";
    return this.track("p" + pid, name, [0, pid]);
  }

  ringTrack(ctx, ring) {
    return this.track("r" + ctx + "/" + ring, ctx ? "GPU ctx " + ctx + " ring " + ring : "GPU global", [1, ctx, ring]);
  }

  put(tr, t0, t1, ev, slice) {
    const it = { t0, t1, ev, slice };
    tr.items.push(it);
    this.items++;
    if (this.items > this.maxItems) this.trim();
    return it;
  }

  // trim drops the oldest tenth of every track.
  trim() {
    let cut = Infinity;
    for (const tr of this.tracks.values()) {
      const k = Math.floor(tr.items.length / 10);
      if (k > 0) cut = Math.min(cut, tr.items[k].t0);
    }
    for (const tr of this.tracks.values()) {
      const before = tr.items.length;
      tr.items = tr.items.filter((it) => it.t1 >= cut);
      this.items -= before - tr.items.length;
      this.dropped += before - tr.items.length;
    }
    this.arrows = this.arrows.filter((a) => a.b.t >= cut);
    for (const [f, at] of this.signalAt) if (at.t < cut) this.signalAt.delete(f);
    for (const [k, it] of this.open) if (it.t0 < cut) this.open.delete(k); // never ended: gone with its track's items
    this.tMin = cut;
  }

  add(ev) {
    const t = ev.t;
    this.count++;
    this.tMin = Math.min(this.tMin, t);
    this.tMax = Math.max(this.tMax, t);
    const fence = ev.fence_ctx !== undefined ? ev.fence_ctx + ":" + ev.fence_seqno : null;
    switch (ev.kind) {
      case "dropped": // the machine's feed lost some: the panel says how many
        this.dropped += ev.count || 0;
        break;
      case "ioctl-enter":
        this.open.set("i" + ev.pid, this.put(this.procTrack(ev.pid), t, t, ev, "ioctl"));
        break;
      case "ioctl-exit": {
        const it = this.open.get("i" + ev.pid);
        if (it) {
          it.t1 = t;
          it.end = ev;
          this.open.delete("i" + ev.pid);
        }
        break;
      }
      case "wait-blocked":
        this.open.set("w" + ev.pid + "/" + fence, this.put(this.procTrack(ev.pid), t, t, ev, "wait"));
        break;
      case "wait-woken": {
        const it = this.open.get("w" + ev.pid + "/" + fence);
        if (it) {
          it.t1 = t;
          it.end = ev;
          this.open.delete("w" + ev.pid + "/" + fence);
        }
        const from = this.signalAt.get(fence);
        if (from) this.arrows.push({ a: from, b: { track: this.procTrack(ev.pid), t } });
        break;
      }
      case "fence-emitted":
        this.fences.set(ev.ctx + "/" + ev.ring + "/" + ev.fence_id, fence);
        this.put(this.procTrack(ev.pid), t, t, ev, null);
        break;
      case "job-start":
        this.open.set("j" + ev.ctx + "/" + ev.ring + "/" + ev.fence_id, this.put(this.ringTrack(ev.ctx, ev.ring), t, t, ev, "job"));
        break;
      case "job-end": {
        const key = ev.ctx + "/" + ev.ring + "/" + ev.fence_id;
        const it = this.open.get("j" + key);
        const tr = this.ringTrack(ev.ctx, ev.ring);
        if (it) {
          it.t1 = t;
          it.end = ev;
          this.open.delete("j" + key);
        }
        const f = this.fences.get(key);
        if (f) this.signalAt.set(f, { track: tr, t });
        this.fences.delete(key); // its job is done: the signal is what waiters need
        break;
      }
      case "fault-injected":
        this.put(this.ringTrack(ev.ctx, ev.ring), t, t, ev, null);
        break;
      case "vblank": {
        // Two vblanks far apart give the display's period; the panel then
        // draws every vblank, not only those a commit landed on.
        const s = ev.scanout || 0, last = this.vblanks.get(s), n = ev.count || 0;
        const period = last && n > last.count ? (t - last.t) / (n - last.count) : last && last.period;
        this.vblanks.set(s, { t, count: n, period });
      }
      // falls through: the vblank is also an event of the display's track
      case "atomic-commit":
      case "flip":
      case "flush":
      case "scanout-set":
      case "cursor":
        this.put(this.track("d" + (ev.scanout || 0), "display " + (ev.scanout || 0), [3, ev.scanout || 0]), t, t, ev, null);
        break;
      case "wait-skipped":
      case "sync-file-created":
      case "sync-file-merged":
      case "process-start":
      case "process-exit":
        this.put(this.procTrack(ev.pid || 0), t, t, ev, null);
        break;
      default:
        if (ev.kind.startsWith("syncobj-") || ev.kind === "eventfd-fired") {
          this.put(this.track("s" + ev.syncobj, "syncobj " + ev.syncobj, [2, ev.syncobj]), t, t, ev, null);
        }
      // Queue, request and response events stay in the stored timeline
      // (and Perfetto); the panel leaves them out to stay readable.
    }
  }

  // --- drawing ---

  // invalidate redraws on the next animation frame. Events streaming in
  // redraw at most ten times a second (lazy): on a software-rendered
  // page a full redraw every frame would take time from the machine.
  invalidate(lazy) {
    if (this.pending) return;
    this.pending = true;
    const wait = lazy ? Math.max(0, 100 - (performance.now() - (this.drawnAt || 0))) : 0;
    setTimeout(() => requestAnimationFrame(() => {
      this.pending = false;
      this.drawnAt = performance.now();
      this.draw();
    }), wait);
  }

  layout() {
    if (!this.sorted) {
      this.sorted = [...this.tracks.values()].sort((a, b) => {
        for (let i = 0; i < Math.max(a.order.length, b.order.length); i++) {
          const d = (a.order[i] || 0) - (b.order[i] || 0);
          if (d) return d;
        }
        return 0;
      });
    }
    return this.sorted;
  }

  get gutter() { return 150; }
  get rowH() { return 20; }
  get axisH() { return 18; }

  // window returns the visible span [t0, t1] and ns per pixel.
  window() {
    const w = Math.max(1, this.canvas.clientWidth - this.gutter);
    if (!this.view || this.follow.checked) {
      const span = this.view ? this.view.nsPerPx * w : 50e6; // 50 ms at first
      const end = isFinite(this.tMax) ? this.tMax : 0;
      this.view = { t0: Math.max(isFinite(this.tMin) ? this.tMin : 0, end - span), nsPerPx: span / w };
      if (end - span < this.view.t0) this.view.nsPerPx = Math.max(span, end - this.view.t0) / w;
    }
    return { t0: this.view.t0, t1: this.view.t0 + this.view.nsPerPx * w, nsPerPx: this.view.nsPerPx };
  }

  x(t, win) { return this.gutter + (t - win.t0) / win.nsPerPx; }

  draw() {
    const c = this.canvas, g = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    const W = c.clientWidth, H = c.clientHeight;
    if (c.width !== W * dpr || c.height !== H * dpr) {
      c.width = W * dpr;
      c.height = H * dpr;
    }
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#171d23";
    g.fillRect(0, 0, W, H);
    const win = this.window();
    const tracks = this.layout();
    this.drawAxis(g, win, W);
    g.font = "11px system-ui, sans-serif";
    tracks.forEach((tr, i) => {
      const y = this.axisH + i * this.rowH;
      if (y > H) return;
      g.fillStyle = i % 2 ? "#1a2128" : "#1d252d";
      g.fillRect(0, y, W, this.rowH);
      if (tr.key[0] === "d") this.drawVblanks(g, Number(tr.key.slice(1)), y, win);
      this.drawItems(g, tr, y, win, W);
      g.fillStyle = "#171d23";
      g.fillRect(0, y, this.gutter - 2, this.rowH);
      g.fillStyle = "#c7d0d9";
      g.fillText(tr.name, 6, y + 14, this.gutter - 10);
    });
    this.drawArrows(g, win, tracks);
    this.info.textContent = this.count + " events" + (this.dropped ? ", " + this.dropped + " dropped (oldest)" : "") +
      ", " + tracks.length + " tracks";
  }

  drawAxis(g, win, W) {
    g.fillStyle = "#8795a3";
    g.font = "10px system-ui, sans-serif";
    const span = win.t1 - win.t0;
    let step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    if (span / step > 12) step *= 2;
    if (span / step > 12) step *= 2.5;
    for (let t = BOOT + Math.ceil((win.t0 - BOOT) / step) * step; t <= win.t1; t += step) {
      const x = this.x(t, win);
      g.fillRect(x, this.axisH - 4, 1, 4);
      g.fillText(fmtTick(t - BOOT, step), x + 2, 11);
    }
  }

  // vblankPeriod is scanout's vblank period in ns as the events show it
  // (undefined until two vblanks came).
  vblankPeriod(scanout) {
    const v = this.vblanks.get(scanout);
    return v && v.period;
  }

  // drawVblanks draws a display's vblanks as a grid on its track, when
  // they are at least 4 px apart.
  drawVblanks(g, scanout, y, win) {
    const v = this.vblanks.get(scanout);
    if (!v || !v.period || v.period / win.nsPerPx < 4) return;
    g.fillStyle = "#2c3945";
    for (let k = Math.ceil((win.t0 - v.t) / v.period); ; k++) {
      const t = v.t + k * v.period;
      if (t > win.t1) break;
      g.fillRect(Math.round(this.x(t, win)), y, 1, this.rowH);
    }
  }

  drawItems(g, tr, y, win, W) {
    const items = tr.items;
    // The first item that could be visible (items are in time order of
    // their start; slices are short next to the view).
    let lo = 0, hi = items.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (items[m].t0 < win.t0 - 1e9) lo = m + 1; else hi = m;
    }
    for (let i = lo; i < items.length; i++) {
      const it = items[i];
      if (it.t0 > win.t1) break;
      const t1 = it.slice && it.t1 === it.t0 && !it.end ? this.tMax : it.t1; // still open
      if (t1 < win.t0) continue;
      const x0 = this.x(it.t0, win), x1 = this.x(t1, win);
      if (it.slice) {
        g.fillStyle = colour(it);
        g.fillRect(x0, y + 3, Math.max(1, x1 - x0), this.rowH - 6);
        if (x1 - x0 > 40) {
          g.fillStyle = "#0b0f13";
          g.fillText(label(it.ev), x0 + 3, y + 14, x1 - x0 - 6);
        }
      } else {
        g.fillStyle = colour(it);
        g.beginPath();
        g.moveTo(x0, y + 4);
        g.lineTo(x0 + 4, y + this.rowH / 2);
        g.lineTo(x0, y + this.rowH - 4);
        g.lineTo(x0 - 4, y + this.rowH / 2);
        g.fill();
      }
    }
  }

  drawArrows(g, win, tracks) {
    const row = new Map(tracks.map((tr, i) => [tr, this.axisH + i * this.rowH + this.rowH / 2]));
    g.strokeStyle = "#ffd166aa";
    g.fillStyle = "#ffd166";
    for (const a of this.arrows) {
      if (a.b.t < win.t0 || a.a.t > win.t1) continue;
      const x0 = this.x(a.a.t, win), y0 = row.get(a.a.track), x1 = this.x(a.b.t, win), y1 = row.get(a.b.track);
      if (y0 === undefined || y1 === undefined) continue;
      g.beginPath();
      g.moveTo(x0, y0);
      g.bezierCurveTo(x0 + 20, y0, x1 - 20, y1, x1, y1);
      g.stroke();
      g.beginPath();
      g.moveTo(x1, y1);
      g.lineTo(x1 - 6, y1 - 3);
      g.lineTo(x1 - 6, y1 + 3);
      g.fill();
    }
  }

  // clampView keeps the view on the run: from 1 ns a pixel to twice
  // the run's length across (100 ms at least), and not before boot.
  clampView() {
    const w = Math.max(1, this.canvas.clientWidth - this.gutter);
    const run = isFinite(this.tMax) && isFinite(this.tMin) ? this.tMax - this.tMin : 0;
    this.view.nsPerPx = Math.min(Math.max(this.view.nsPerPx, 1), Math.max(2 * run, 100e6) / w);
    this.view.t0 = Math.max(this.view.t0, BOOT);
  }

  // --- input ---

  installInput() {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const win = this.window();
      this.follow.checked = false;
      const t = win.t0 + (e.offsetX - this.gutter) * win.nsPerPx;
      const f = Math.exp(e.deltaY * 0.002);
      this.view.nsPerPx = win.nsPerPx * f;
      this.view.t0 = t - (e.offsetX - this.gutter) * this.view.nsPerPx;
      this.clampView();
      this.invalidate();
    }, { passive: false });
    let drag = null;
    c.addEventListener("mousedown", (e) => {
      this.window();
      this.follow.checked = false;
      drag = { x: e.clientX, t0: this.view.t0 };
      c.style.cursor = "grabbing";
    });
    window.addEventListener("mouseup", () => { drag = null; c.style.cursor = "grab"; });
    c.addEventListener("mousemove", (e) => {
      if (drag) {
        this.view.t0 = drag.t0 - (e.clientX - drag.x) * this.view.nsPerPx;
        this.clampView();
        this.invalidate();
        this.tooltip.hidden = true;
        return;
      }
      this.hover(e.offsetX, e.offsetY);
    });
    c.addEventListener("mouseleave", () => { this.tooltip.hidden = true; });
    this.follow.addEventListener("change", () => this.invalidate());
  }

  hover(px, py) {
    const tracks = this.layout();
    const i = Math.floor((py - this.axisH) / this.rowH);
    const tr = tracks[i];
    const win = this.window();
    if (!tr || px < this.gutter) {
      this.tooltip.hidden = true;
      return;
    }
    const t = win.t0 + (px - this.gutter) * win.nsPerPx;
    const slop = 4 * win.nsPerPx;
    let best = null;
    for (const it of tr.items) {
      if (it.t0 > t + slop) break;
      const t1 = it.slice && !it.end ? this.tMax : it.t1;
      if (t >= it.t0 - slop && t <= t1 + slop) best = it;
    }
    if (!best) {
      this.tooltip.hidden = true;
      return;
    }
    let text = describe(best.ev);
    if (best.end) text += "\n" + describe(best.end) + "\nlasted " + fmtTime(best.t1 - best.t0);
    this.tooltip.textContent = text;
    this.tooltip.hidden = false;
    this.tooltip.style.left = Math.min(px + 12, this.canvas.clientWidth - 260) + "px";
    this.tooltip.style.top = this.canvas.offsetTop + py + 12 + "px";
  }
}

// ioctlName names an ioctl request with the driver's own table
// (drm.IoctlName, through the machine's fencelab.ioctlName) when a
// machine is up; a stored run viewed alone shows the number.
let ioctlNames = null;
function ioctlName(req) {
  const name = ioctlNames ? ioctlNames(req) : "";
  return name ? name.replace(/^DRM_IOCTL_/, "") : "ioctl 0x" + (req >>> 0).toString(16);
}

function fmtTime(ns) {
  const a = Math.abs(ns);
  if (a >= 1e9) return (ns / 1e9).toFixed(3) + " s";
  if (a >= 1e6) return (ns / 1e6).toFixed(3) + " ms";
  if (a >= 1e3) return (ns / 1e3).toFixed(1) + " µs";
  return ns + " ns";
}

// fmtTick is an axis label: a time to as many decimals as the ticks'
// step needs to tell neighbours apart.
function fmtTick(ns, step) {
  const a = Math.max(Math.abs(ns), step); // 0 in the step's unit
  const [unit, name] = a >= 1e9 ? [1e9, " s"] : a >= 1e6 ? [1e6, " ms"] : a >= 1e3 ? [1e3, " µs"] : [1, " ns"];
  const decimals = Math.min(Math.max(Math.ceil(Math.log10(unit / step) - 1e-9), 0), 9);
  return (ns / unit).toFixed(decimals) + name;
}

function describe(ev) {
  return Object.entries(ev).map(([k, v]) => {
    if (k === "t") return "t = " + fmtTime(v - BOOT);
    if (k === "ioctl") return "ioctl = " + ioctlName(v) + " (0x" + (v >>> 0).toString(16) + ")";
    return k + " = " + v;
  }).join("\n");
}

function label(ev) {
  if (ev.kind === "job-start") return "job " + ev.fence_id;
  if (ev.kind === "wait-blocked") return "wait " + ev.fence_ctx + ":" + ev.fence_seqno;
  if (ev.kind === "ioctl-enter") return ioctlName(ev.ioctl);
  return ev.kind;
}


function colour(it) {
  switch (it.slice || it.ev.kind) {
    case "ioctl": return it.end && it.end.errno ? "#ff7b72" : "#6cb6ff";
    case "wait": return "#d2a8ff";
    case "job": return "#7ee787";
    case "wait-skipped": return "#8b949e";
    case "fence-emitted": return "#ffd166";
    case "vblank": return "#3d4b58";
    case "flip": return "#ffa657";
    case "atomic-commit": return "#f0883e";
    case "fault-injected": return "#ff7b72";
    default: return "#a5b3c1";
  }
}

TimelinePanel.setIoctlNames = (fn) => { ioctlNames = fn; };
window.TimelinePanel = TimelinePanel;
