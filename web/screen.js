// screen.js boots fencelab.wasm in this frame: the machine, and ebiten's
// canvas, which takes the whole frame. It reports the download's
// progress and any failure to the page around it (index.html) with
// postMessage, and works alone too (screen.html?guest=triangle).
"use strict";

(async function boot() {
  const report = (msg) => {
    if (window.parent !== window) window.parent.postMessage(Object.assign({ source: "fencelab" }, msg), "*");
  };
  const loading = document.getElementById("loading");
  const t0 = performance.now();
  window.fencelab = window.fencelab || {};
  window.fencelab.loadStartedAt = t0;
  try {
    const resp = await fetch("fencelab.wasm");
    if (!resp.ok) throw new Error("fencelab.wasm: HTTP " + resp.status);
    // The size on the wire is unknown when the server compresses it;
    // fencelab's dev server says the uncompressed size in a header.
    const total = Number(resp.headers.get("X-Uncompressed-Length") || resp.headers.get("Content-Length") || 0);
    const reader = resp.body.getReader();
    const chunks = [];
    let loaded = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      report({ type: "progress", loaded, total });
      loading.textContent = "loading fencelab… " + (total ? Math.round((100 * loaded) / total) + "%" : (loaded >> 20) + " MB");
    }
    const bytes = new Uint8Array(loaded);
    let off = 0;
    for (const c of chunks) { bytes.set(c, off); off += c.length; }
    const go = new Go();
    const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
    loading.remove();
    window.fencelab.wasmReadyAt = performance.now();
    report({ type: "ready", ms: performance.now() - t0 });
    await go.run(instance);
    report({ type: "exit" });
  } catch (err) {
    loading.textContent = "fencelab could not start: " + err;
    report({ type: "error", message: String(err) });
  }
})();
