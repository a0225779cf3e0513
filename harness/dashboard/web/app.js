// tickflow dashboard: renders the server's snapshots (server-sent events,
// one per sample) and posts fault actions. No dependencies, works offline.
"use strict";

const $ = (sel) => document.querySelector(sel);
let state = null;

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function num(n) { return Number(n ?? 0).toLocaleString("en-US"); }
function rate(r) { return r >= 100 ? num(Math.round(r)) : (Math.round(r * 10) / 10).toString(); }
function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0; n = Number(n || 0);
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}
function clock(t) { return new Date(t).toLocaleTimeString("en-GB", { hour12: false }); }
// setHTML replaces an element's content only when it changed, so buttons
// are not swapped under the pointer between two samples.
function setHTML(el, html) { if (el && el._html !== html) { el.innerHTML = html; el._html = html; } }
function idOf(s) { return String(s).replace(/[^A-Za-z0-9_.-]/g, "_"); }

function connect() {
  const es = new EventSource("api/events");
  es.addEventListener("state", (ev) => {
    $("#conn").textContent = "live";
    $("#conn").className = "pill up";
    try { render(JSON.parse(ev.data)); } catch (e) { console.error(e); }
  });
  es.onerror = () => { $("#conn").textContent = "reconnecting…"; $("#conn").className = "pill down"; };
}

function render(s) {
  state = s;
  const w = s.world;
  const errs = s.errors || [];
  $("#errors").hidden = errs.length === 0;
  setHTML($("#errors"), errs.map(esc).join("<br>"));
  const boot = w ? (w.bootstrap.length > 2 ? `${w.bootstrap[0]} (+${w.bootstrap.length - 1} brokers)` : w.bootstrap.join(",")) : "";
  $("#worldinfo").textContent = w ? `Kafka ${boot} · S3 ${w.s3_endpoint}/${w.bucket} · sampled in ${w.sample_ms.toFixed(0)} ms` : "no world running";
  $("#worldinfo").title = w ? w.bootstrap.join(",") : "";
  renderRun(s.run);
  renderBrokers(w);
  renderGroups(w);
  renderTopics(w);
  renderLake(w);
  renderVerify(s.verify);
  renderFaults(w);
  renderEvents(s.events || []);
  fillSelects(w);
}

function renderRun(r) {
  $("#run-panel").hidden = !r;
  if (!r) return;
  let h = `<div class="kv"><div><span>${esc(r.kind)}</span><b id="run-name">${esc(r.name)}</b></div>`;
  if (r.iterations > 1) h += `<div><span>iteration</span>${r.iteration + 1} of ${r.iterations}</div>`;
  if (r.seed) h += `<div><span>seed</span>${esc(r.seed)}</div>`;
  h += `<div><span>phase</span><b id="run-phase">${esc(r.phase)}</b></div>`;
  if (r.detail) h += `<div>${esc(r.detail)}</div>`;
  h += "</div>";
  if (r.checks && r.checks.length) {
    h += `<ul class="checks">` + r.checks.map((c) => {
      const mark = c.state === "pass" ? `<span class="ok">✔</span>` : c.state === "fail" ? `<span class="bad">✘</span>` : `<span class="muted">…</span>`;
      return `<li>${mark} ${esc(c.name)} ${c.detail ? `<span class="muted">— ${esc(c.detail)}</span>` : ""}</li>`;
    }).join("") + "</ul>";
  }
  if (r.finished && r.finished.length) {
    h += `<div class="muted">finished: ` + r.finished.map((f) => `<span class="${f.status === "pass" ? "ok" : "bad"}">${esc(f.name)} ${esc(f.status)}</span>`).join(" · ") + "</div>";
  }
  setHTML($("#run"), h);
}

function renderBrokers(w) {
  const rows = (w ? w.brokers : []).map((b) => {
    const st = b.up ? `<span class="pill up state">up</span>` : `<span class="pill down state">down</span>`;
    const act = b.up
      ? `<button type="button" class="danger" data-stop="${b.id}" ${b.controller ? 'disabled title="the controller cannot be stopped (kfake cannot elect a new one)"' : ""}>stop broker</button>`
      : `<button type="button" data-restart="${b.id}">restart broker</button>`;
    return `<tr id="broker-${b.id}"><td>${b.id}${b.controller ? ` <span class="pill" title="controller">ctrl</span>` : ""}</td><td>${esc(b.addr)}</td><td>${st}</td><td class="num">${b.leaders}</td><td>${act}</td></tr>`;
  });
  setHTML($("#brokers tbody"), rows.join("") || `<tr><td colspan="5" class="muted">no world</td></tr>`);
}

function chart(history) {
  const W = 600, H = 90, P = 4;
  if (!history || history.length < 2) return `<svg class="chart" viewBox="0 0 ${W} ${H}"><text x="8" y="16">collecting…</text></svg>`;
  const t0 = history[0].t, t1 = history[history.length - 1].t;
  const maxLag = Math.max(1, ...history.map((p) => p.lag));
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * P);
  const y = (l) => H - P - (l / maxLag) * (H - 2 * P - 12);
  const pts = history.map((p) => `${x(p.t).toFixed(1)},${y(p.lag).toFixed(1)}`);
  const area = `M${x(t0).toFixed(1)},${H - P} L${pts.join(" L")} L${x(t1).toFixed(1)},${H - P} Z`;
  const secs = Math.round((t1 - t0) / 1000);
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none"><path class="area" d="${area}"/><polyline class="line" points="${pts.join(" ")}"/>` +
    `<text x="6" y="12">max ${num(maxLag)}</text><text x="${W - 6}" y="12" text-anchor="end">last ${secs}s</text></svg>`;
}

function renderGroups(w) {
  const gs = w ? w.groups : [];
  if (!gs.length) { setHTML($("#groups"), `<p class="muted">no consumer group yet</p>`); return; }
  setHTML($("#groups"), gs.map((g) => {
    const trend = g.trend === "falling" ? `<span class="ok">↓ falling</span>` : g.trend === "rising" ? `<span class="warn">↑ rising</span>` : g.trend ? `<span class="muted">→ flat</span>` : "";
    const parts = g.offsets.map((o) => `<tr class="${o.nothing_committed ? "uncommitted" : ""}"><td>${esc(o.topic)}/${o.partition}</td><td class="num">${o.nothing_committed ? `<span class="warn">nothing committed</span>` : num(o.committed)}</td><td class="num">${num(o.start)}</td><td class="num">${num(o.end)}</td><td class="num">${o.lag < 0 ? "?" : num(o.lag)}</td></tr>`).join("");
    const lag = g.lag < 0 ? "?" : num(g.lag);
    const unc = g.uncommitted ? `<span class="warn uncommitted">nothing committed on ${g.uncommitted} of ${g.offsets.length} partition${g.offsets.length === 1 ? "" : "s"}</span>` : "";
    const note = g.note || g.error ? `<div class="muted note">${esc(g.error || g.note)}</div>` : "";
    return `<div class="group" id="group-${idOf(g.group)}"><div class="head"><b>${esc(g.group)}</b><span class="pill">${esc(g.state)}</span><span>${g.members} member${g.members === 1 ? "" : "s"}</span>` +
      `<span>lag <span class="lag" data-lag="${g.lag}" data-uncommitted="${g.uncommitted}">${lag}</span></span>${unc}${trend}</div>${note}${chart(g.history)}` +
      `<details><summary>per partition</summary><table><thead><tr><th>partition</th><th class="num">committed</th><th class="num">log start</th><th class="num">end</th><th class="num">lag</th></tr></thead><tbody>${parts}</tbody></table></details></div>`;
  }).join(""));
}

function renderTopics(w) {
  const ts = w ? w.topics : [];
  setHTML($("#topics"), ts.map((t) => {
    const parts = t.partitions.map((p) => `<div class="part" id="part-${idOf(t.name)}-${p.partition}"><b>p${p.partition}</b> leader <b>${p.leader}</b> · ${num(p.start)}–${num(p.end)} · ${rate(p.rate)}/s</div>`).join("");
    return `<div class="topic" id="topic-${idOf(t.name)}"><div class="kv"><div><b>${esc(t.name)}</b></div><div><span>partitions</span>${t.partitions.length}</div><div><span>records</span><span class="records">${num(t.records)}</span></div><div><span>rate</span>${rate(t.rate)} records/s</div></div><div class="parts">${parts}</div></div>`;
  }).join("") || `<p class="muted">no topics</p>`);
}

function renderLake(w) {
  if (!w) { setHTML($("#lake"), `<p class="muted">no world</p>`); return; }
  const l = w.lake;
  let h = `<div class="kv"><div><span>location</span><span id="lake-location">s3://${esc(w.bucket)}/${esc(l.location)}</span></div>` +
    `<div><span>objects</span><b id="lake-objects">${num(l.objects)}</b></div><div><span>rows</span><b id="lake-rows">${num(l.rows)}</b>${l.pending ? ` <span class="muted">(+${l.pending} objects not read yet)</span>` : ""}</div>` +
    `<div><span>bytes</span>${bytes(l.bytes)}</div><div><span>folders</span>${num(l.folder_count)}</div>` +
    `<div><span>object sizes</span>min ${bytes(l.sizes.min)} · median ${bytes(l.sizes.p50)} · p90 ${bytes(l.sizes.p90)} · max ${bytes(l.sizes.max)}</div></div>`;
  if (l.error) h += `<p class="bad">${esc(l.error)}</p>`;
  const maxRows = Math.max(1, ...l.folders.map((f) => f.rows));
  const folders = l.folders.map((f) => `<tr><td>dt=${esc(f.dt)}/hour=${esc(f.hour)}</td><td class="num">${num(f.objects)}</td><td class="num">${num(f.rows)}</td><td class="num">${bytes(f.bytes)}</td>` +
    `<td><svg width="120" height="10"><rect x="0" y="1" height="8" width="${(120 * f.rows / maxRows).toFixed(1)}" fill="#2b6cb0"/></svg></td></tr>`).join("");
  const newest = l.newest.map((o) => `<tr><td class="obj" title="${esc(o.key)}">${esc(o.key.split("/").slice(-1)[0])}</td><td class="num">${o.partition < 0 ? "" : o.partition}</td><td class="num">${o.end < 0 ? num(o.start) + "–?" : num(o.start) + "–" + num(o.end)}</td><td class="num">${o.rows < 0 ? "?" : num(o.rows)}</td><td class="num">${bytes(o.size)}</td><td>${clock(o.seen)}</td></tr>`).join("");
  h += `<div class="split"><div class="scroll"><h3>Rows per dt/hour folder${l.folder_count > l.folders.length ? ` (latest ${l.folders.length} of ${num(l.folder_count)})` : ""}</h3><table id="folders"><thead><tr><th>folder</th><th class="num">objects</th><th class="num">rows</th><th class="num">bytes</th><th></th></tr></thead><tbody>${folders || `<tr><td colspan="5" class="muted">${l.objects ? "no dt=…/hour=… folders" : esc(emptyLake(w))}</td></tr>`}</tbody></table></div>` +
    `<div class="scroll"><h3>Newest objects</h3><table><thead><tr><th>object</th><th class="num">partition</th><th class="num">offsets</th><th class="num">rows</th><th class="num">size</th><th>seen</th></tr></thead><tbody>${newest}</tbody></table></div></div>`;
  setHTML($("#lake"), h);
}

// emptyLake says where the bucket's objects are when the watched folder has
// none, so a lake under another prefix is not mistaken for no lake.
function emptyLake(w) {
  const others = (w.lake.prefixes || []).filter((p) => p.prefix && !w.lake.location.startsWith(p.prefix));
  if (!others.length) return `no objects under ${w.lake.location || "the bucket root"} yet`;
  return `no objects under ${w.lake.location} — the bucket has objects under ` +
    others.slice(0, 5).map((p) => `${p.prefix} (${num(p.objects)})`).join(", ") + (others.length > 5 ? ", …" : "") + ": choose a folder above";
}

function fillLakeSelect(w) {
  const sel = $("#lake-prefix");
  const ps = (w.lake.prefixes || []).filter((p) => p.prefix);
  const values = ["", ...ps.map((p) => p.prefix)];
  const labels = ["stock_ticks/ at the bucket root", ...ps.map((p) => `${p.prefix} (${num(p.objects)} objects)`)];
  if (!values.includes(w.prefix)) { values.push(w.prefix); labels.push(w.prefix); }
  setOptions(sel, values, labels);
  if (document.activeElement !== sel) sel.value = w.prefix;
}

async function chooseLake(prefix) {
  $("#lake-status").textContent = "switching…";
  try {
    const j = await post("api/lake", { prefix });
    $("#lake-status").textContent = `watching ${j.location || "the bucket root"}`;
  } catch (e) {
    $("#lake-status").textContent = "error: " + e.message;
  }
}

function renderVerify(v) {
  const el = $("#verify");
  if (!v) { setHTML(el, `not run yet: press "re-run check"`); el.className = "muted"; return; }
  el.className = "";
  if (v.running) { setHTML(el, `<span class="muted">checking…</span>`); return; }
  let h = `<div class="kv"><div><span>at</span>${clock(v.started)} (${v.seconds.toFixed(2)} s)</div>`;
  if (v.error) {
    setHTML(el, h + `<div id="verify-verdict" class="bad">could not check: ${esc(v.error)}</div></div>`);
    return;
  }
  const verdict = v.ok ? (v.rules.length ? `<b class="warn">OK with warnings</b>` : `<b class="ok">OK</b>`) : `<b class="bad">FAILED</b>`;
  h += `<div id="verify-verdict">${verdict}</div><div><span>rows</span>${num(v.rows)} (${num(v.distinct)} distinct, ${num(v.duplicates)} duplicates)</div><div><span>objects</span>${num(v.objects)}</div><div><span>crawler tables</span>${v.tables}</div>` +
    `<div><span>rules violated</span><b id="verify-rules">${v.rules.length ? v.rules.map(esc).join(", ") : "none"}</b></div></div>`;
  if (v.violations.length) {
    h += `<div class="scroll"><table><thead><tr><th>rule</th><th>severity</th><th>where</th><th>problem</th><th>fix</th></tr></thead><tbody>` +
      v.violations.map((x) => `<tr><td>${esc(x.rule)} ${esc(x.name)}</td><td class="${x.severity === "error" ? "bad" : "warn"}">${esc(x.severity)}</td><td>${esc(x.key)}</td><td>${esc(x.message)}</td><td>${esc(x.fix)}</td></tr>`).join("") +
      `</tbody></table></div>`;
  }
  setHTML(el, h);
}

function renderFaults(w) {
  const fs = w ? w.faults : [];
  setHTML($("#active-faults"), fs.length ? "active: " + fs.map((f) => `<b>${esc(f.kind)}</b> ${esc(f.desc)} (${num(f.hits)} requests)`).join(" · ") : "no fault active");
  const rows = (w ? w.s3 : []).map((o) => `<tr><td>${esc(o.op)}</td><td class="num">${num(o.requests)}</td><td class="num">${num(o.errors)}</td><td class="num">${num(o.injected)}</td></tr>`);
  setHTML($("#s3 tbody"), rows.join("") || `<tr><td colspan="4" class="muted">no S3 requests yet</td></tr>`);
}

function renderEvents(evs) {
  setHTML($("#events"), evs.slice().reverse().map((e) =>
    `<li><time>${clock(e.time)}</time><b>${esc(e.action)}</b> ${esc(e.detail)}${e.ok ? "" : ` <span class="bad">failed: ${esc(e.error)}</span>`}</li>`).join(""));
}

// fillSelects keeps the form choices in step with the world without
// resetting what the user picked.
function setOptions(sel, values, labels) {
  const key = values.join("\u0000");
  if (sel._key === key) return;
  const keep = sel.value;
  sel.innerHTML = values.map((v, i) => `<option value="${esc(v)}">${esc(labels ? labels[i] : v)}</option>`).join("");
  sel._key = key;
  if (values.includes(keep)) sel.value = keep;
}
function fillSelects(w) {
  if (!w) return;
  const topics = w.topics.map((t) => t.name);
  setOptions($("#msg-topic"), topics);
  setOptions($("#ml-topic"), topics);
  const parts = (name) => { const t = w.topics.find((x) => x.name === name); return t ? t.partitions.map((p) => String(p.partition)) : []; };
  setOptions($("#msg-partition"), ["all", ...parts($("#msg-topic").value)]);
  setOptions($("#ml-partition"), parts($("#ml-topic").value));
  setOptions($("#ml-broker"), w.brokers.filter((b) => b.up).map((b) => String(b.id)));
  fillLakeSelect(w);
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
async function fault(body) {
  try { await post("api/faults", body); } catch (e) { /* the event log shows it */ }
}

async function browse(ev) {
  ev && ev.preventDefault();
  const q = new URLSearchParams({ topic: $("#msg-topic").value, partition: $("#msg-partition").value });
  const mode = $("#msg-mode").value, from = $("#msg-from").value.trim();
  if (mode === "offset" && from) q.set("offset", from);
  if (mode === "time" && from) q.set("time", from);
  const key = $("#msg-key").value;
  if (key) q.set("key", key);
  const limit = $("#msg-limit").value.trim();
  if (limit) q.set("limit", limit);
  $("#msg-status").textContent = "reading…";
  try {
    const r = await fetch("api/messages?" + q);
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || r.statusText);
    const rows = j.messages.map((m) => `<tr class="msg" data-partition="${m.partition}" data-offset="${m.offset}"><td>${m.partition}</td><td>${m.offset}</td><td>${esc(new Date(m.time).toISOString())}</td><td class="key">${esc(m.key)}</td>` +
      `<td class="value">${m.value_encoding === "base64" ? "<i>base64</i> " : ""}${esc(m.value)}${m.truncated ? ` <i>… ${num(m.value_bytes)} bytes</i>` : ""}</td>` +
      `<td class="headers">${m.headers.map((h) => `${esc(h.key)}=${esc(h.value)}`).join("<br>")}</td></tr>`);
    $("#messages tbody").innerHTML = rows.join("");
    $("#messages").hidden = false;
    const next = Object.entries(j.next).map(([p, o]) => `${p}:${o}`).join(" ");
    $("#msg-status").textContent = `${j.messages.length} record(s) of ${j.topic}, ${num(j.scanned)} scanned${j.more ? `; more after ${next}` : ""}${j.note ? "; " + j.note : ""}`;
  } catch (e) {
    $("#msg-status").textContent = "error: " + e.message;
    $("#messages").hidden = true;
  }
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button");
  if (!b) return;
  if (b.dataset.stop !== undefined) fault({ action: "stop-broker", broker: Number(b.dataset.stop) });
  else if (b.dataset.restart !== undefined) fault({ action: "restart-broker", broker: Number(b.dataset.restart) });
  else if (b.id === "ml-go") fault({ action: "move-leader", topic: $("#ml-topic").value, partition: Number($("#ml-partition").value), broker: Number($("#ml-broker").value) });
  else if (b.id === "shuffle") fault({ action: "shuffle-leaders" });
  else if (b.id === "s3e-on") fault({ action: "s3-errors", on: true, op: $("#s3e-op").value, share: Number($("#s3e-share").value) });
  else if (b.id === "s3e-off") fault({ action: "s3-errors", on: false });
  else if (b.id === "s3l-on") fault({ action: "s3-latency", on: true, op: $("#s3l-op").value, latency_ms: Number($("#s3l-ms").value) });
  else if (b.id === "s3l-off") fault({ action: "s3-latency", on: false });
  else if (b.id === "ke-on") fault({ action: "kafka-errors", on: true, api: $("#ke-api").value, error: $("#ke-err").value });
  else if (b.id === "ke-off") fault({ action: "kafka-errors", on: false });
  else if (b.id === "kl-on") fault({ action: "kafka-latency", on: true, api: $("#kl-api").value, latency_ms: Number($("#kl-ms").value) });
  else if (b.id === "kl-off") fault({ action: "kafka-latency", on: false });
  else if (b.id === "verify-btn") {
    b.disabled = true;
    setHTML($("#verify"), `<span class="muted">checking…</span>`);
    post("api/verify", {}).catch(() => {}).finally(() => { b.disabled = false; });
  }
});
document.addEventListener("change", (ev) => {
  if (ev.target.id === "msg-topic" || ev.target.id === "ml-topic") fillSelects(state && state.world);
  if (ev.target.id === "lake-prefix") { $("#lake-custom").value = ""; chooseLake(ev.target.value); }
});
$("#msg-form").addEventListener("submit", browse);
$("#lake-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const custom = $("#lake-custom").value.trim();
  chooseLake(custom || $("#lake-prefix").value);
});
connect();
