// scalepilot's dashboard: the controller's own state, pushed as server-sent
// events from /api/events (falling back to polling /api/state), drawn as
// plain DOM and SVG. Everything is built with textContent: no reason text,
// metric name or target name is ever read as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457"];

// What tests and curious users can read: the state as last received.
const dashboard = (window.dashboard = { targets: new Map(), header: null, updates: 0, seq: 0 });
const open = new Map(); // target key -> Set of decision times whose details are open

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

function actionText(a) {
  if (typeof a === "string") return a;
  if (a.written) return `written ${a.written.from}→${a.written.to}`;
  if (a.refusedHpa !== undefined) return `refused: HPA ${a.refusedHpa}`;
  if (a.failed !== undefined) return `failed: ${a.failed}`;
  return JSON.stringify(a);
}

function percent(r) {
  return r === null || r === undefined ? "–" : `${Math.round(r * 100)} %`;
}

// Load (each metric's usage over target, %) on the left axis, ready and
// desired replicas on the right, over the recent ticks.
function chart(t) {
  const W = 560, H = 150, L = 34, R = 30, T = 8, B = 16;
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", "data-points": t.series.length });
  if (t.series.length === 0) return s;
  const t0 = t.series[0].t, t1 = Math.max(t.series[t.series.length - 1].t, t0 + 1);
  let maxRatio = 1.5;
  let maxReplicas = 1;
  for (const p of t.series) {
    for (const r of p.ratios) if (r !== null && r > maxRatio) maxRatio = r;
    maxReplicas = Math.max(maxReplicas, p.ready, p.current, p.desired);
  }
  maxRatio = Math.min(maxRatio * 1.1, 10);
  maxReplicas = Math.ceil(maxReplicas * 1.15);
  const x = (ms) => L + ((ms - t0) / (t1 - t0)) * (W - L - R);
  const yl = (r) => H - B - (Math.min(r, maxRatio) / maxRatio) * (H - T - B);
  const yr = (n) => H - B - (n / maxReplicas) * (H - T - B);
  s.append(svg("line", { x1: L, x2: W - R, y1: yl(1), y2: yl(1), stroke: "#999", "stroke-dasharray": "4 3" }));
  const label = (x0, y0, text, anchor) => {
    const e = svg("text", { x: x0, y: y0, "text-anchor": anchor });
    e.textContent = text;
    s.append(e);
  };
  label(L - 3, yl(1) + 3, "100%", "end");
  label(L - 3, yl(maxRatio) + 8, `${Math.round(maxRatio * 100)}%`, "end");
  label(W - R + 3, yr(maxReplicas) + 8, `${maxReplicas}`, "start");
  label(W - R + 3, yr(0), "0", "start");
  label(L, H - 3, time(t0), "start");
  label(W - R, H - 3, time(t1), "end");
  const names = t.metrics.map((m) => m.name);
  names.forEach((name, i) => {
    let d = "";
    let pen = "M";
    for (const p of t.series) {
      const r = p.ratios[i];
      if (r === null || r === undefined) { pen = "M"; continue; }
      d += `${pen}${x(p.t).toFixed(1)},${yl(r).toFixed(1)} `;
      pen = "L";
    }
    if (d) s.append(svg("path", { d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 1.5, "data-series": `load:${name}` }));
  });
  const steps = (key, attrs) => {
    let d = "";
    t.series.forEach((p, i) => {
      d += i === 0 ? `M${x(p.t).toFixed(1)},${yr(p[key]).toFixed(1)} ` : `H${x(p.t).toFixed(1)} V${yr(p[key]).toFixed(1)} `;
    });
    s.append(svg("path", Object.assign({ d, fill: "none", "data-series": key }, attrs)));
  };
  steps("ready", { stroke: "#2e7d32", "stroke-width": 2 });
  steps("desired", { stroke: "#222", "stroke-width": 1, "stroke-dasharray": "3 2" });
  return s;
}

function legend(t) {
  const l = el("div", { class: "legend" });
  t.metrics.forEach((m, i) => {
    const sw = el("i");
    sw.style.background = COLORS[i % COLORS.length];
    l.append(el("span", {}, sw, `${m.name} (% of target)`));
  });
  const ready = el("i");
  ready.style.background = "#2e7d32";
  const desired = el("i");
  desired.style.background = "#222";
  l.append(el("span", {}, ready, "ready replicas"), el("span", {}, desired, "desired"));
  return l;
}

function metricRow(m) {
  const bar = el("span", { class: m.ratio > 1 ? "bar over" : "bar" });
  const fill = el("span");
  const scale = 2; // the bar spans 0..200 %
  fill.style.width = `${Math.min((m.ratio || 0) / scale, 1) * 100}%`;
  const mark = el("i");
  mark.style.left = `${100 / scale}%`;
  bar.append(fill, mark);
  return el("tr", {}, el("td", {}, m.name), el("td", {}, m.value || "–"), el("td", {}, bar, " ", percent(m.ratio)), el("td", { class: "muted" }, m.error || ""));
}

function decisionItem(key, d) {
  const opened = open.get(key) || new Set();
  const details = el("details", { "data-t": d.t });
  details.open = opened.has(d.t);
  details.addEventListener("toggle", () => {
    const set = open.get(key) || new Set();
    if (details.open) set.add(d.t); else set.delete(d.t);
    open.set(key, set);
  });
  details.append(el("summary", {}, `${time(d.t)}  ${d.from} → ${d.to}  ${actionText(d.action)}  (${d.reason || "no step changed the count"})`));
  const rows = d.steps.map((s) => el("tr", {}, el("td", {}, s.step), el("td", {}, s.replicas), el("td", {}, s.reason), el("td", { class: "msg" }, s.message)));
  details.append(el("table", { class: "steps" }, el("tbody", {}, ...rows)));
  return details;
}

function card(t) {
  const badges = [];
  if (t.paused) badges.push(el("span", { class: "badge warn" }, "paused"));
  if (t.hpaConflict) badges.push(el("span", { class: "badge warn" }, `HPA ${t.hpaConflict} also scales it`));
  if (t.action && t.action.failed !== undefined) badges.push(el("span", { class: "badge warn" }, "write failed"));
  if (t.forecast) {
    const f = t.forecast;
    badges.push(el("span", { class: f.gated ? "badge" : "badge trusted", title: `MAPE ${f.mapePercent ?? "–"} %, loss ratio ${f.lossRatio ?? "–"}` },
      f.gated ? `forecast ${f.value.toFixed(1)} gated` : `forecast ${f.value.toFixed(1)} trusted`));
  }
  const c = el("article", { class: "target", id: `target-${t.key}`, "data-key": t.key },
    el("h3", {}, el("span", { class: "name" }, t.key), el("span", { class: "muted" }, t.kind), ...badges),
    el("div", { class: "replicas" },
      "ready ", el("b", { class: "ready" }, t.ready),
      " · current ", el("b", { class: "current" }, t.current),
      " → desired ", el("b", { class: "desired" }, t.desired),
      el("span", { class: "muted" }, `  (min ${t.minReplicas}, max ${t.maxReplicas}; ${actionText(t.action)})`)),
    el("table", { class: "metrics" }, el("tbody", {}, ...t.metrics.map(metricRow))),
    chart(t), legend(t));
  const list = el("div", { class: "decisions" }, el("h4", {}, "Last decisions (newest first; click for the reason chain)"));
  for (const d of [...t.decisions].reverse()) list.append(decisionItem(t.key, d));
  c.append(list);
  return c;
}

function renderHeader(h) {
  document.getElementById("identity").textContent = h.identity;
  const role = document.getElementById("role");
  role.textContent = h.role === "standby" ? "standby (decides, does not write)" : h.role;
  role.className = `badge ${h.role}`;
  const body = document.querySelector("#lag tbody");
  body.replaceChildren(...h.lag.map((l) => el("tr", {}, el("td", {}, l.topic), el("td", {}, l.partition), el("td", {}, l.messages))));
  document.getElementById("no-lag").hidden = h.lag.length > 0;
}

function apply(u) {
  dashboard.header = u;
  dashboard.seq = u.seq;
  dashboard.updates += 1;
  renderHeader(u);
  const box = document.getElementById("targets");
  if (u.keys) {
    const keep = new Set(u.keys);
    for (const k of [...dashboard.targets.keys()]) {
      if (!keep.has(k)) {
        dashboard.targets.delete(k);
        open.delete(k);
        const gone = document.getElementById(`target-${k}`);
        if (gone) gone.remove();
      }
    }
  }
  for (const t of u.targets) {
    dashboard.targets.set(t.key, t);
    const fresh = card(t);
    const old = document.getElementById(`target-${t.key}`);
    if (old) old.replaceWith(fresh);
    else {
      const after = [...box.children].find((e) => e.dataset.key > t.key);
      box.insertBefore(fresh, after || null);
    }
  }
  document.getElementById("no-targets").hidden = dashboard.targets.size > 0;
  document.getElementById("count").textContent = `(${dashboard.targets.size})`;
}

function connect() {
  const status = document.getElementById("connection");
  if (!window.EventSource) return poll();
  const es = new EventSource("api/events");
  es.addEventListener("update", (e) => {
    status.textContent = `live, updated ${new Date().toLocaleTimeString()}`;
    apply(JSON.parse(e.data));
  });
  es.onerror = () => { status.textContent = "disconnected; reconnecting…"; };
}

async function poll() {
  const status = document.getElementById("connection");
  for (;;) {
    try {
      const r = await fetch(`api/state?since=${dashboard.seq}`);
      apply(await r.json());
      status.textContent = `polling, updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      status.textContent = "disconnected; retrying…";
    }
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

connect();
