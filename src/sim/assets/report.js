// scalepilot's simulation report: draws the data inlined above on canvases,
// with zoom (wheel, buttons) and pan (drag) over the whole trace. No library,
// nothing fetched. `window.report` exposes the view and what the last redraw
// drew, for tests and for the curious.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const load = data.load;
  const cpr = data.capacityPerReplica;
  const T0 = load.t.length ? load.t[0] : 0;
  const T1 = load.t.length > 1 ? load.t[load.t.length - 1] : T0 + 1;
  const hidden = new Set();
  const report = (window.report = { data, view: [T0, T1], drawn: {}, redraws: 0 });

  document.getElementById("title").textContent = data.title;
  document.getElementById("describe").textContent = data.describe;

  // ---- time ---------------------------------------------------------------
  function label(t, span) {
    if (data.absoluteTime) {
      const d = new Date(t * 1000);
      const iso = d.toISOString();
      return span > 3 * 86400 ? iso.slice(0, 10) : span > 600 ? iso.slice(5, 16).replace("T", " ") : iso.slice(11, 19);
    }
    const s = t - T0;
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${h}h${m ? ` ${m}m` : ""}` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
  }
  function niceStep(span, n) {
    const steps = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400];
    return steps.find((s) => span / s <= n) || steps[steps.length - 1];
  }

  // ---- canvases -----------------------------------------------------------
  const PAD_L = 56, PAD_R = 16;
  function setup(id) {
    const c = document.getElementById(id);
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.height / (c.dataset.ratio || 1);
    c.dataset.ratio = ratio;
    c.width = Math.max(1, Math.round(w * ratio));
    c.height = Math.round(h * ratio);
    const g = c.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    return { c, g, w, h };
  }
  const xOf = (t, w) => PAD_L + ((t - report.view[0]) / (report.view[1] - report.view[0])) * (w - PAD_L - PAD_R);
  const tOf = (x, w) => report.view[0] + ((x - PAD_L) / (w - PAD_L - PAD_R)) * (report.view[1] - report.view[0]);

  // First index with ts[i] >= t (ts sorted).
  function lower(ts, t, key) {
    let lo = 0, hi = ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((key ? ts[mid][0] : ts[mid]) < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function axes(g, w, h, top, bottom, maxY, unit) {
    g.strokeStyle = "#ddd";
    g.fillStyle = "#555";
    g.font = "11px system-ui, sans-serif";
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = (maxY * i) / 4, y = bottom - ((bottom - top) * i) / 4;
      g.beginPath(); g.moveTo(PAD_L, y); g.lineTo(w - PAD_R, y); g.stroke();
      g.textAlign = "right";
      g.fillText(`${v >= 100 ? Math.round(v) : +v.toFixed(1)}${unit}`, PAD_L - 4, y + 4);
    }
    const span = report.view[1] - report.view[0];
    const step = niceStep(span, Math.max(2, Math.floor((w - PAD_L) / 110)));
    g.textAlign = "center";
    for (let t = Math.ceil(report.view[0] / step) * step; t <= report.view[1]; t += step) {
      const x = xOf(t, w);
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, bottom); g.stroke();
      g.fillText(label(t, span), x, h - 4);
    }
  }

  // A step function [(t, v)] over the view, as a path; returns points drawn.
  // Denser than the pixels: each column's range, as a band.
  function stepPath(g, pts, w, y) {
    if (!pts.length) return 0;
    let i = Math.max(0, lower(pts, report.view[0], true) - 1);
    const end = Math.min(pts.length, lower(pts, report.view[1], true) + 1);
    if (end - i > 2 * (w - PAD_L - PAD_R)) return band(g, pts, i, end, w, y);
    let n = 0;
    g.beginPath();
    g.moveTo(Math.max(PAD_L, xOf(pts[i][0], w)), y(pts[i][1]));
    for (i += 1; i < end; i++) {
      const x = xOf(pts[i][0], w);
      g.lineTo(x, y(pts[i - 1][1]));
      g.lineTo(x, y(pts[i][1]));
      n++;
    }
    g.lineTo(w - PAD_R, y(pts[end - 1][1]));
    g.stroke();
    return n + 1;
  }

  function band(g, pts, start, end, w, y) {
    const lo = new Map(), hi = new Map();
    let prev = pts[start][1];
    for (let i = start; i < end; i++) {
      const x = Math.max(PAD_L, Math.round(xOf(pts[i][0], w)));
      for (const v of [prev, pts[i][1]]) {
        if (!(lo.get(x) <= v)) lo.set(x, v);
        if (!(hi.get(x) >= v)) hi.set(x, v);
      }
      prev = pts[i][1];
    }
    const xs = [...hi.keys()];
    g.beginPath();
    xs.forEach((x, k) => (k ? g.lineTo(x, y(hi.get(x))) : g.moveTo(x, y(hi.get(x)))));
    for (let k = xs.length - 1; k >= 0; k--) g.lineTo(xs[k], y(lo.get(xs[k])));
    g.closePath();
    g.save();
    g.globalAlpha = 0.3;
    g.fillStyle = g.strokeStyle;
    g.fill();
    g.restore();
    g.beginPath();
    xs.forEach((x, k) => (k ? g.lineTo(x, y(hi.get(x))) : g.moveTo(x, y(hi.get(x)))));
    g.stroke();
    return end - start;
  }

  // Drawn last on top: the policies over the baselines, the oracle under all.
  const drawOrder = () => data.autoscalers.filter(visible).slice().reverse();

  function visible(a) { return !hidden.has(a.name); }

  function drawMain() {
    const { g, w, h } = setup("main");
    const top = 8, bottom = h - 18;
    const lo = lower(load.t, report.view[0]), hi = Math.min(load.t.length, lower(load.t, report.view[1]) + 1);
    let maxY = 1;
    for (let i = lo; i < hi; i++) maxY = Math.max(maxY, load.v[i]);
    for (const a of data.autoscalers.filter(visible)) {
      for (const [t, c] of a.capacity) if (t <= report.view[1]) maxY = Math.max(maxY, c);
    }
    maxY *= 1.08;
    const y = (v) => bottom - (v / maxY) * (bottom - top);
    axes(g, w, h, top, bottom, maxY, "");
    g.save();
    g.beginPath(); g.rect(PAD_L, top, w - PAD_L - PAD_R, bottom - top); g.clip();
    // The load: an area, per pixel column its maximum (peaks stay visible).
    const cols = new Map();
    for (let i = Math.max(0, lo - 1); i < hi; i++) {
      const x = Math.round(xOf(load.t[i], w));
      const m = cols.get(x);
      if (m === undefined || load.v[i] > m) cols.set(x, load.v[i]);
    }
    g.fillStyle = "rgba(120,120,120,0.35)";
    g.beginPath();
    g.moveTo(PAD_L, bottom);
    for (const [x, v] of cols) g.lineTo(x, y(v));
    g.lineTo(w - PAD_R, bottom);
    g.closePath();
    g.fill();
    report.drawn.load = hi - lo;
    for (const a of drawOrder()) {
      g.strokeStyle = a.color;
      g.lineWidth = 1.5;
      g.setLineDash(a.name.startsWith("oracle") ? [6, 4] : []);
      report.drawn[`capacity:${a.name}`] = stepPath(g, a.capacity, w, y);
      if (a.forecast && a.forecast.length) {
        g.setLineDash([2, 3]);
        g.lineWidth = 1;
        const pts = a.forecast.map(([t, n]) => [t, n * cpr]);
        report.drawn[`forecast:${a.name}`] = stepPath(g, pts, w, y);
      }
    }
    g.setLineDash([]);
    g.restore();
  }

  function drawReplicas() {
    const { g, w, h } = setup("replicas");
    const top = 8, bottom = h - 18;
    let maxY = 1;
    for (const a of data.autoscalers.filter(visible)) for (const [, n] of a.actions) maxY = Math.max(maxY, n);
    for (const a of data.autoscalers.filter(visible)) for (const [, c] of a.capacity) maxY = Math.max(maxY, c / cpr);
    maxY = Math.ceil(maxY * 1.1);
    const y = (v) => bottom - (v / maxY) * (bottom - top);
    axes(g, w, h, top, bottom, maxY, "");
    g.save();
    g.beginPath(); g.rect(PAD_L, top, w - PAD_L - PAD_R, bottom - top); g.clip();
    for (const a of drawOrder()) {
      g.strokeStyle = a.color;
      g.lineWidth = 1.2;
      g.setLineDash(a.name.startsWith("oracle") ? [6, 4] : []);
      // Ready replicas (capacity over one replica's) as the line.
      const ready = a.capacity.map(([t, c]) => [t, Math.round(c / cpr)]);
      report.drawn[`replicas:${a.name}`] = stepPath(g, ready, w, y);
    }
    g.setLineDash([]);
    g.restore();
    g.fillStyle = "#555";
    g.textAlign = "left";
    g.fillText("ready replicas", PAD_L + 4, top + 10);
  }

  function drawLanes() {
    const shown = data.autoscalers.filter(visible);
    const c = document.getElementById("lanes");
    c.height = Math.max(20, shown.length * 16 + 4) * (c.dataset.ratio || 1);
    const { g, w } = setup("lanes");
    shown.forEach((a, k) => {
      const top = 2 + k * 16;
      g.fillStyle = "#555";
      g.font = "11px system-ui, sans-serif";
      g.textAlign = "right";
      g.fillText(a.name.length > 9 ? a.name.slice(0, 8) + "…" : a.name, PAD_L - 4, top + 11);
      g.fillStyle = "#f4f4f4";
      g.fillRect(PAD_L, top, w - PAD_L - PAD_R, 14);
      if (a.forecast && a.forecast.length) {
        g.fillStyle = "rgba(0,131,143,0.25)";
        a.forecast.forEach(([t, , trusted], i) => {
          if (!trusted) return;
          const end = i + 1 < a.forecast.length ? a.forecast[i + 1][0] : data.load.t[data.load.t.length - 1];
          const x0 = Math.max(PAD_L, xOf(t, w)), x1 = Math.min(w - PAD_R, xOf(end, w));
          if (x1 > x0) g.fillRect(x0, top + 10, x1 - x0, 4);
        });
      }
      g.fillStyle = a.color;
      let n = 0;
      for (const [from, to] of a.short) {
        if (to < report.view[0] || from > report.view[1]) continue;
        const x0 = Math.max(PAD_L, xOf(from, w)), x1 = Math.min(w - PAD_R, xOf(to, w));
        g.fillRect(x0, top, Math.max(1, x1 - x0), 9);
        n++;
      }
      report.drawn[`short:${a.name}`] = n;
      g.fillStyle = "#333";
      let m = 0;
      for (const [t] of a.actions) {
        if (t < report.view[0] || t > report.view[1]) continue;
        g.fillRect(xOf(t, w), top + 9, 1, 5);
        m++;
      }
      report.drawn[`actions:${a.name}`] = m;
    });
  }

  function drawOverview() {
    const { g, w, h } = setup("overview");
    let maxY = 1;
    for (const v of load.v) maxY = Math.max(maxY, v);
    const x = (t) => PAD_L + ((t - T0) / (T1 - T0)) * (w - PAD_L - PAD_R);
    const cols = new Map();
    for (let i = 0; i < load.t.length; i++) {
      const k = Math.round(x(load.t[i]));
      if (!(cols.get(k) >= load.v[i])) cols.set(k, load.v[i]);
    }
    g.fillStyle = "rgba(120,120,120,0.45)";
    g.beginPath(); g.moveTo(PAD_L, h);
    for (const [k, v] of cols) g.lineTo(k, h - (v / maxY) * (h - 4));
    g.lineTo(w - PAD_R, h); g.closePath(); g.fill();
    g.fillStyle = "rgba(31,119,180,0.18)";
    g.strokeStyle = "#1f77b4";
    const x0 = x(report.view[0]), x1 = x(report.view[1]);
    g.fillRect(x0, 0, Math.max(2, x1 - x0), h);
    g.strokeRect(x0, 0.5, Math.max(2, x1 - x0), h - 1);
  }

  function redraw() {
    // The frontiers are drawn once; the timeline on every change of view.
    report.drawn = Object.fromEntries(Object.entries(report.drawn).filter(([k]) => k.startsWith("frontier:")));
    drawMain();
    drawReplicas();
    drawLanes();
    drawOverview();
    const span = report.view[1] - report.view[0];
    document.getElementById("range").textContent = `${label(report.view[0], span)} – ${label(report.view[1], span)}`;
    report.redraws++;
  }

  // ---- zoom and pan ---------------------------------------------------------
  const MIN_SPAN = Math.max(10, (T1 - T0) / 1e6);
  function setView(a, b) {
    let span = Math.min(T1 - T0, Math.max(MIN_SPAN, b - a));
    a = Math.min(Math.max(T0, a), T1 - span);
    report.view = [a, a + span];
    redraw();
  }
  report.zoom = (factor, center) => {
    const [a, b] = report.view;
    const c = center === undefined ? (a + b) / 2 : center;
    setView(c - (c - a) * factor, c + (b - c) * factor);
  };
  report.pan = (dt) => setView(report.view[0] + dt, report.view[1] + dt);
  report.reset = () => setView(T0, T1);
  report.setView = setView;

  document.getElementById("zoom-in").onclick = () => report.zoom(0.5);
  document.getElementById("zoom-out").onclick = () => report.zoom(2);
  document.getElementById("reset").onclick = () => report.reset();
  const main = document.getElementById("main");
  main.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = main.getBoundingClientRect();
    report.zoom(e.deltaY > 0 ? 1.25 : 0.8, tOf(e.clientX - r.left, r.width));
  }, { passive: false });
  let drag = null;
  main.addEventListener("mousedown", (e) => { drag = { x: e.clientX, view: report.view.slice() }; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const r = main.getBoundingClientRect();
    const dt = ((drag.x - e.clientX) / (r.width - PAD_L - PAD_R)) * (drag.view[1] - drag.view[0]);
    setView(drag.view[0] + dt, drag.view[1] + dt);
  });
  const overview = document.getElementById("overview");
  overview.addEventListener("mousedown", (e) => {
    const r = overview.getBoundingClientRect();
    const t = T0 + ((e.clientX - r.left - PAD_L) / (r.width - PAD_L - PAD_R)) * (T1 - T0);
    const span = report.view[1] - report.view[0];
    setView(t - span / 2, t + span / 2);
  });
  window.addEventListener("resize", redraw);

  // ---- legend, scorecard, frontiers -----------------------------------------
  const legend = document.getElementById("legend");
  const loadKey = document.createElement("label");
  const loadSwatch = document.createElement("i");
  loadSwatch.style.background = "rgba(120,120,120,0.5)";
  loadSwatch.style.height = "10px";
  loadKey.append(loadSwatch, "load");
  legend.append(loadKey);
  for (const a of data.autoscalers) {
    const l = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.onchange = () => { if (box.checked) hidden.delete(a.name); else hidden.add(a.name); redraw(); };
    const sw = document.createElement("i");
    sw.style.background = a.color;
    l.append(box, sw, a.forecast && a.forecast.length ? `${a.name} (dotted: forecast)` : a.name);
    legend.append(l);
  }

  function table(el, head, rows) {
    const tr = (cells, tag) => {
      const r = document.createElement("tr");
      for (const c of cells) {
        const d = document.createElement(tag);
        d.textContent = c;
        r.append(d);
      }
      return r;
    };
    el.replaceChildren(tr(head, "th"), ...rows.map((r) => tr(r, "td")));
  }
  const num = (v, d) => (v === null || v === undefined ? "–" : v.toFixed(d));
  table(document.getElementById("scorecard"),
    ["autoscaler", "replica-hours", "vs oracle", "under-provisioned %", "unserved %", "mean util %", "p95 util %", "actions", "flaps", "reaction s", "forecast trusted %"],
    data.scorecards.map((s) => [s.name, num(s.replicaHours, 1), num(s.costVsOracle, 3), num(s.underProvisionedPct, 2), num(s.unservedPct, 3),
      num(s.meanUtilizationPct, 1), num(s.p95UtilizationPct, 1), s.scaleActions, s.flaps, s.reactionS ?? "–", num(s.forecastTrustedPct, 1)]));
  if (!data.scorecards.length) document.getElementById("scores").hidden = true;

  if (data.sweep) drawFrontiers(data.sweep);
  function drawFrontiers(sw) {
    document.getElementById("frontiers").hidden = false;
    const svg = document.getElementById("frontier-plot");
    const NS = "http://www.w3.org/2000/svg";
    const W = 720, H = 360, L = 60, R = 20, T = 10, B = 40;
    let maxX = 0.01, minY = Infinity, maxY = 0;
    for (const f of sw.frontiers) for (const p of f.points) {
      maxX = Math.max(maxX, p.underProvisionedPct);
      minY = Math.min(minY, p.replicaHours);
      maxY = Math.max(maxY, p.replicaHours);
    }
    if (sw.oracleReplicaHours) minY = Math.min(minY, sw.oracleReplicaHours);
    minY *= 0.95; maxY *= 1.05; maxX *= 1.1;
    const x = (v) => L + (v / maxX) * (W - L - R);
    const y = (v) => H - B - ((v - minY) / (maxY - minY || 1)) * (H - T - B);
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    add("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" });
    add("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" });
    add("text", { x: (L + W) / 2, y: H - 8, "text-anchor": "middle" }, "under-provisioned time (τU, %)");
    add("text", { x: 12, y: H / 2, transform: `rotate(-90 12 ${H / 2})`, "text-anchor": "middle" }, "replica-hours");
    for (let i = 0; i <= 4; i++) {
      add("text", { x: x((maxX * i) / 4), y: H - B + 14, "text-anchor": "middle" }, ((maxX * i) / 4).toFixed(2));
      const v = minY + ((maxY - minY) * i) / 4;
      add("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, Math.round(v));
    }
    const colors = { hpa: "#d62728", keda: "#ff7f0e" };
    const others = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2"];
    let k = 0;
    sw.frontiers.forEach((f) => {
      const color = colors[f.name] || others[k++ % others.length];
      const d = f.points.map((p, i) => `${i ? "L" : "M"}${x(p.underProvisionedPct).toFixed(1)},${y(p.replicaHours).toFixed(1)}`).join(" ");
      add("path", { d, fill: "none", stroke: color, "stroke-width": 1.5, "data-series": `frontier:${f.name}` });
      for (const p of f.points) add("circle", { cx: x(p.underProvisionedPct), cy: y(p.replicaHours), r: 3, fill: color }).append(
        Object.assign(document.createElementNS(NS, "title"), { textContent: `${f.name} at ${p.target} %: ${p.replicaHours.toFixed(1)} replica-h, τU ${p.underProvisionedPct.toFixed(2)} %` }));
      const last = f.points[f.points.length - 1];
      if (last) add("text", { x: x(last.underProvisionedPct) + 5, y: y(last.replicaHours), fill: color }, f.name);
      report.drawn[`frontier:${f.name}`] = f.points.length;
    });
    if (sw.oracleReplicaHours) {
      add("line", { x1: L, x2: W - R, y1: y(sw.oracleReplicaHours), y2: y(sw.oracleReplicaHours), stroke: "#000", "stroke-dasharray": "6 4" });
      add("text", { x: W - R, y: y(sw.oracleReplicaHours) - 4, "text-anchor": "end" }, "oracle");
    }
    table(document.getElementById("comparisons"),
      ["policy", "τU % at the HPA's cost", "cost at the HPA's τU", "share of the HPA→oracle gap closed %"],
      sw.comparisons.map((c) => [c.name, num(c.underAtReferenceCost, 2), num(c.costAtReferenceUnder, 1), num(c.oracleGapClosedPct, 1)]));
  }

  if (!data.autoscalers.length) {
    // A sweep: no single replay to draw beside the load.
    for (const id of ["replicas", "lanes"]) document.getElementById(id).hidden = true;
  }
  if (load.t.length) redraw();
  else document.getElementById("timeline").hidden = true;
})();
