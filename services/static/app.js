// The jobskills page: paste a posting, see keywords highlighted with types and groups,
// correct them and send the corrections to /feedback. Plain DOM, no external scripts
// (the page must work without network access).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { text: "", keywords: [] }; // keywords: {start, end, text, type, score, groups, keep, added}

async function postJSON(path, body) {
  // the key, when one was typed, goes with every call: a server with JOBSKILLS_API_KEY_SCOPE=all
  // needs it for predictions too, not only for /feedback
  const headers = {};
  const key = $("api-key").value;
  if (key) headers["X-API-Key"] = key;
  const resp = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    throw new Error(errorMessage(resp.status, data));
  }
  return data;
}

function errorMessage(status, data) {
  if (Array.isArray(data)) data = data[0];
  if (data && data.detail && data.detail.length) {
    return data.detail.map((d) => d.msg.replace(/^Value error, /, "")).join("; ");
  }
  if (data && data.error) return data.error;
  return `request failed with status ${status}`;
}

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

// "keyword-tagger:abc (fast tier, dev span.overall.f1 0.431)"
function modelText(info) {
  const m = info.model || {};
  const bits = [];
  if (m.tier) bits.push(`${m.tier} tier`);
  bits.push(m.score == null ? "no dev score" : `dev ${m.metric} ${m.score.toFixed(3)}`);
  if (m.quality === "below_floor") bits.push("LOW QUALITY");
  return `${info.tag} (${bits.join(", ")})`;
}

async function loadStatus() {
  try {
    const s = await postJSON("/status", {});
    const parts = [];
    const warnings = [];
    for (const [name, info] of [["keywords", s.keywords], ["groups", s.groups]]) {
      parts.push(info.ready ? `${name}: ${modelText(info)}` : `${name}: not available (${info.error})`);
      if (info.ready && info.model && info.model.quality === "below_floor") warnings.push(info.model.warning);
    }
    $("status").textContent = parts.join(" · ");
    $("quality").textContent = warnings.join(" ");
    $("quality").hidden = warnings.length === 0;
    $("key-label").hidden = !s.api_key_required;
    $("posting").maxLength = s.max_text_chars;
  } catch (e) {
    $("status").textContent = `status unavailable: ${e.message}`;
  }
}

async function analyze() {
  showError("");
  $("sent").textContent = "";
  const text = $("posting").value;
  if (!text.trim()) { showError("Paste a job posting first."); return; }
  $("busy").hidden = false;
  $("analyze").disabled = true;
  try {
    const data = await postJSON("/analyze", { text, level: Number($("level").value), top_k: 3 });
    state.text = text;
    state.keywords = data.keywords.map((k) => ({ ...k, keep: true, added: false }));
    state.occupations = data.occupations || [];
    state.skills = data.skills || [];
    render();
  } catch (e) {
    showError(e.message);
  } finally {
    $("busy").hidden = true;
    $("analyze").disabled = false;
  }
}

// Non-overlapping spans for highlighting (layers may overlap: the longer span wins the mark,
// every keyword still appears in the table).
function highlightSpans() {
  const sorted = state.keywords
    .map((k, i) => ({ ...k, index: i }))
    .sort((a, b) => a.start - b.start || (b.end - b.start) - (a.end - a.start));
  const out = [];
  let last = 0;
  for (const k of sorted) {
    if (k.start >= last) { out.push(k); last = k.end; }
  }
  return out;
}

// The decision first; ranked groups the model did not decide are marked as extras.
function groupText(k) {
  const decided = (k.groups || []).map((g) => `${g.label} (${g.code}, ${g.score.toFixed(2)})`);
  const extras = (k.ranked || []).filter((g) => !g.decided)
    .map((g) => `${g.label} (${g.code}, ${g.score.toFixed(2)})`);
  return decided.join("; ") + (extras.length ? ` | also ranked: ${extras.join("; ")}` : "");
}

// Table cell: the decided groups, then the ranked extras in a muted span marked as such.
function groupCell(k) {
  const cell = document.createElement("span");
  cell.className = "decided";
  cell.textContent = (k.groups || []).map((g) => `${g.label} (${g.code}, ${g.score.toFixed(2)})`).join("; ");
  const extras = (k.ranked || []).filter((g) => !g.decided);
  const wrap = document.createElement("span");
  wrap.appendChild(cell);
  if (extras.length) {
    const more = document.createElement("span");
    more.className = "extra muted";
    more.textContent = ` also ranked: ${extras.map((g) => `${g.label} (${g.score.toFixed(2)})`).join("; ")}`;
    wrap.appendChild(more);
  }
  return wrap;
}

// ESCO cell: the linked skill's label, a link to its ESCO page; a dash when unlinked.
function escoCell(k) {
  if (!k.esco) {
    const none = document.createElement("span");
    none.className = "muted esco-none";
    none.textContent = k.added ? "" : "not linked";
    return none;
  }
  const a = document.createElement("a");
  a.className = "esco";
  a.href = k.esco.uri;
  a.target = "_blank";
  a.rel = "noopener";
  a.textContent = k.esco.label;
  a.title = `${k.esco.uri} (link score ${k.esco.score.toFixed(2)})`;
  if (k.importance !== "essential") return a;
  const wrap = document.createElement("span");
  const badge = document.createElement("strong");
  badge.className = "essential";
  badge.textContent = " essential";
  badge.title = "essential for the posting's occupation (ESCO)";
  wrap.append(a, badge);
  return wrap;
}

// The posting's ESCO occupation (the best of the top 3), when an occupation model is served.
function renderOccupation() {
  const occ = state.occupations || [];
  $("occupation").hidden = occ.length === 0;
  if (!occ.length) return;
  const top = occ[0];
  $("occupation-label").textContent = top.label;
  $("occupation-label").href = top.uri;
  $("occupation-label").title = `ISCO ${top.isco}, confidence ${top.score.toFixed(2)}`;
  // score is a calibrated confidence: the share of held-back queries right at that score
  $("occupation-confidence").textContent = `confidence ${Math.round(top.score * 100)} %`;
  const others = occ.slice(1).map((o) => `${o.label} (${Math.round(o.score * 100)} %)`).join(", ");
  $("occupation-more").textContent = `(ISCO ${top.isco}; ${top.essential.length} essential skills named` +
    `${others ? `; also: ${others}` : ""})`;
}

// The posting's ESCO skills (when a linker is served): named ones with their keywords, implied
// ones marked, with the sentence that implies them as the tooltip.
function renderSkills() {
  const skills = state.skills || [];
  $("skills-section").hidden = skills.length === 0;
  $("skills-count").textContent = skills.length ? `(${skills.length})` : "";
  const list = $("skills");
  list.textContent = "";
  for (const s of skills) {
    const li = document.createElement("li");
    li.className = s.implied ? "skill implied" : "skill";
    const a = document.createElement("a");
    a.href = s.uri;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = s.label;
    li.appendChild(a);
    const ev = (s.evidence || []).map((e) => e.text);
    const note = document.createElement("span");
    note.className = "muted";
    note.textContent = s.implied ? " implied" : ` (${[...new Set(ev)].join(", ")})`;
    li.title = `${s.implied ? "implied by" : "named by"}: ${ev.join(" | ")} — score ${s.score.toFixed(2)}`;
    li.appendChild(note);
    list.appendChild(li);
  }
}

function render() {
  $("result").hidden = false;
  renderOccupation();
  renderSkills();
  const box = $("highlighted");
  box.textContent = "";
  let pos = 0;
  for (const k of highlightSpans()) {
    if (k.start > pos) box.appendChild(document.createTextNode(state.text.slice(pos, k.start)));
    const mark = document.createElement("mark");
    mark.className = `kw kw-${k.type.toLowerCase()}` + (k.keep ? "" : " rejected");
    mark.dataset.type = k.type;
    mark.dataset.index = String(k.index);
    mark.textContent = state.text.slice(k.start, k.end);
    const groups = groupText(k);
    const esco = k.esco ? ` — ESCO: ${k.esco.label}` : "";
    mark.title = `${k.type}${k.added ? "" : ` ${k.score.toFixed(2)}`}${esco}${groups ? ` — ${groups}` : ""}`;
    box.appendChild(mark);
    pos = k.end;
  }
  if (pos < state.text.length) box.appendChild(document.createTextNode(state.text.slice(pos)));

  const tbody = $("keywords").querySelector("tbody");
  tbody.textContent = "";
  state.keywords.forEach((k, i) => {
    const tr = document.createElement("tr");
    tr.dataset.index = String(i);
    const keep = document.createElement("input");
    keep.type = "checkbox";
    keep.checked = k.keep;
    keep.setAttribute("aria-label", `keep ${k.text}`);
    keep.addEventListener("change", () => { k.keep = keep.checked; render(); });
    const type = document.createElement("select");
    for (const t of ["Skill", "Knowledge"]) {
      const o = document.createElement("option");
      o.value = t; o.textContent = t; o.selected = t === k.type;
      type.appendChild(o);
    }
    type.addEventListener("change", () => { k.type = type.value; render(); });
    const cells = [keep, k.text, type, k.added ? "added" : k.score.toFixed(2), escoCell(k), groupCell(k)];
    cells.forEach((c, j) => {
      const td = document.createElement("td");
      if (j === 4) td.className = "esco-cell";
      if (j === 5) td.className = "groups";
      if (typeof c === "string") td.textContent = c; else td.appendChild(c);
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  });
  $("count").textContent = `(${state.keywords.filter((k) => k.keep).length})`;
}

// Character offsets of the current selection inside the highlighted box (its text equals the posting).
function selectionOffsets() {
  const sel = window.getSelection();
  const box = $("highlighted");
  if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
  const range = sel.getRangeAt(0);
  if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return null;
  const pre = document.createRange();
  pre.selectNodeContents(box);
  pre.setEnd(range.startContainer, range.startOffset);
  let start = pre.toString().length;
  let end = start + range.toString().length;
  while (start < end && /\s/.test(state.text[start])) start++;
  while (end > start && /\s/.test(state.text[end - 1])) end--;
  return start < end ? { start, end } : null;
}

function addSelection(type) {
  showError("");
  const off = selectionOffsets();
  if (!off) { showError("Select some words in the highlighted text first."); return; }
  const exists = state.keywords.find((k) => k.start === off.start && k.end === off.end);
  if (exists) { exists.type = type; exists.keep = true; }
  else {
    state.keywords.push({ ...off, text: state.text.slice(off.start, off.end), type, score: 1, groups: [],
      keep: true, added: true });
  }
  render();
}

async function sendFeedback() {
  showError("");
  $("sent").textContent = "";
  const keywords = state.keywords.filter((k) => k.keep)
    .map((k) => ({ start: k.start, end: k.end, type: k.type, text: state.text.slice(k.start, k.end) }));
  try {
    const r = await postJSON("/feedback", { text: state.text, keywords, annotator: "web",
      note: $("note").value });
    $("sent").textContent = `Thank you: ${r.stored} correction record stored.`;
  } catch (e) {
    showError(e.message);
  }
}

$("analyze").addEventListener("click", analyze);
$("add-skill").addEventListener("click", () => addSelection("Skill"));
$("add-knowledge").addEventListener("click", () => addSelection("Knowledge"));
$("send").addEventListener("click", sendFeedback);
loadStatus();
