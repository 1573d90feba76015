// VideoNet results explorer: renders window.VIDEONET_EXPLORE (written by `videonet explore`).
// Every number shown is computed by the Python side (videonet_datasets.scoring / report);
// this page only filters, counts and pages through the questions.
"use strict";
(function () {
  const D = window.VIDEONET_EXPLORE;
  const S = D.strings, Q = D.q, A = D.answers, C = D.clips;
  const N = Q.qid.length, MODELS = D.models, PAGE = 25;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const pct = (v) => (v === null || v === undefined || v === "" ? "" : (100 * v).toFixed(1));
  const state = { page: 0, selection: null };

  // ------------------------------------------------------------------ helpers
  function option(value, label) { return `<option value="${esc(value)}">${esc(label)}</option>`; }
  function fill(select, items, anyLabel) {
    select.innerHTML = (anyLabel ? option(-1, anyLabel) : "") + items.map(([v, l]) => option(v, l)).join("");
  }
  function uniq(col) { return [...new Set(col)].sort((a, b) => S[a].localeCompare(S[b])); }
  function status(m, i) { const s = A[MODELS[m]].status[i]; return s < 0 ? null : S[s]; }
  function ok(m, i) { return A[MODELS[m]].ok[i]; }
  function outcome(m, i) {
    const o = ok(m, i);
    if (o === null) return "missing";
    if (o === 1) return "correct";
    return status(m, i) === "ok" ? "wrong" : "unparsed";
  }
  function disagree(i) {
    let seen = null;
    for (let m = 0; m < MODELS.length; m++) {
      const p = A[MODELS[m]].parsed[i];
      if (A[MODELS[m]].ok[i] === null) continue;
      if (seen === null) seen = p === null ? "\u2205" : p;
      else if (seen !== (p === null ? "\u2205" : p)) return true;
    }
    return false;
  }
  function optionAction(i, letter) {
    const opts = Q.options[i];
    if (!opts || letter === null) return null;
    const k = "ABCDEFGH".indexOf(letter);
    return k >= 0 && k < opts.length ? opts[k] : null;
  }
  function duration(i) { return C.duration[Q.clip[i]]; }

  // ------------------------------------------------------------------ filters
  function readFilters() {
    return {
      task: +$("f-task").value, category: +$("f-category").value, domain: +$("f-domain").value,
      action: +$("f-action").value, model: +$("f-model").value, outcome: $("f-outcome").value,
      minLen: $("f-minlen").value === "" ? null : +$("f-minlen").value,
      maxLen: $("f-maxlen").value === "" ? null : +$("f-maxlen").value,
      disagree: $("f-disagree").checked, search: $("f-search").value.trim().toLowerCase(),
    };
  }
  function matches(f, i) {
    if (state.selection && !state.selection.has(i)) return false;
    if (f.task >= 0 && Q.task[i] !== f.task) return false;
    if (f.category >= 0 && Q.category[i] !== f.category) return false;
    if (f.domain >= 0 && Q.domain[i] !== f.domain) return false;
    if (f.action >= 0 && Q.action[i] !== f.action && Q.clipAction[i] !== f.action) return false;
    if (f.minLen !== null || f.maxLen !== null) {
      const d = duration(i);
      if (d === null) return false;
      if (f.minLen !== null && d < f.minLen) return false;
      if (f.maxLen !== null && d > f.maxLen) return false;
    }
    if (f.outcome !== "all") {
      if (f.model >= 0) { if (outcome(f.model, i) !== f.outcome) return false; }
      else {
        let any = false;
        for (let m = 0; m < MODELS.length && !any; m++) any = outcome(m, i) === f.outcome;
        if (!any) return false;
      }
    }
    if (f.disagree && !disagree(i)) return false;
    if (f.search) {
      const hay = (Q.qid[i] + "\n" + S[Q.action[i]] + "\n" + S[Q.clipAction[i]]).toLowerCase();
      if (!hay.includes(f.search)) return false;
    }
    return true;
  }
  let current = [];
  function applyFilters(keepPage) {
    const f = readFilters();
    current = [];
    for (let i = 0; i < N; i++) if (matches(f, i)) current.push(i);
    if (!keepPage) state.page = 0;
    renderList();
  }

  // ------------------------------------------------------------------ question list
  function media(clip, cls, label) {
    const href = C.href[clip], poster = C.poster[clip];
    const title = esc(C.id[clip] + (C.duration[clip] !== null ? ` (${C.duration[clip]} s)` : ""));
    if (!href) return `<div class="clip ${cls} missing" title="${title}">no video<br>${esc(C.id[clip])}</div>`;
    const img = poster ? `<img src="${esc(poster)}" alt="${title}" loading="lazy">` : `<span>${esc(C.id[clip])}</span>`;
    return `<div class="clip ${cls}" data-href="${esc(href)}" title="${title} - click to play">${img}` +
      `<span class="play">&#9654;</span><span class="label">${esc(label)}</span></div>`;
  }
  function answerCell(m, i) {
    const a = A[MODELS[m]];
    if (a.ok[i] === null) return `<td class="missing">not answered</td>`;
    const o = outcome(m, i), parsed = a.parsed[i];
    let said = parsed === null ? "\u2014" : parsed;
    const act = optionAction(i, parsed);
    if (act !== null) said += ` (${S[act]})`;
    const off = a.official[i] === 1 ? "correct" : a.official[i] === 0 ? "wrong" : "unparsable";
    return `<td class="${o}"><div class="raw">${esc(S[a.raw[i]]) || "<em>(empty)</em>"}</div>` +
      `<div class="parsed">parsed: <b>${esc(said)}</b> <span class="rule">rule: ${esc(S[a.rule[i]] || "-")}` +
      `, status: ${esc(S[a.status[i]])}</span></div><div class="verdict">${o}; official: ${off}</div></td>`;
  }
  function renderRow(i) {
    const binary = D.taskBinary[Q.task[i]];
    const gold = binary ? Q.gold[i] : `${Q.gold[i]} (${S[optionAction(i, Q.gold[i])]})`;
    const ex = Q.examples[i].map((c, k) => media(c, "example", `example ${k + 1}`)).join("");
    const neg = binary && Q.negType[i] !== null && S[Q.negType[i]] ? ` &middot; ${esc(S[Q.negType[i]])}` : "";
    const opts = binary ? "" : `<div class="options">${Q.options[i].map((o, k) => `${"ABCD"[k]}. ${esc(S[o])}`).join(" &middot; ")}</div>`;
    return `<article class="q" data-i="${i}"><div class="media">${ex}${media(Q.clip[i], "test", D.taskMiddleFrame[Q.task[i]] ? "test clip (model saw its middle frame)" : "test clip")}</div>` +
      `<div class="body"><div class="head"><code>${esc(Q.qid[i])}</code> &middot; ${esc(D.tasks[Q.task[i]])} &middot; ` +
      `${esc(S[Q.category[i]])} &rsaquo; ${esc(S[Q.domain[i]])}${neg}</div>` +
      `<div class="asked">asked: <b>${esc(S[Q.action[i]])}</b>; clip shows: <b>${esc(S[Q.clipAction[i]])}</b>; answer: <b>${esc(gold)}</b></div>${opts}` +
      `<details><summary>prompt as sent</summary><pre>${esc(D.prompts[Q.prompt[i]])}</pre></details>` +
      `<table class="answers"><tr>${MODELS.map((m) => `<th>${esc(m)}</th>`).join("")}</tr>` +
      `<tr>${MODELS.map((_, m) => answerCell(m, i)).join("")}</tr></table></div></article>`;
  }
  function renderList() {
    const pages = Math.max(1, Math.ceil(current.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * PAGE;
    $("count").textContent = `${current.length} of ${N} questions`;
    $("page").textContent = `page ${state.page + 1} / ${pages}`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    $("list").innerHTML = current.slice(start, start + PAGE).map(renderRow).join("");
  }
  function play(el) {
    const v = document.createElement("video");
    v.src = el.dataset.href; v.controls = true; v.autoplay = true; v.muted = true; v.playsInline = true;
    el.replaceWith(v);
    v.play().catch(() => {});
  }

  // ------------------------------------------------------------------ confusions
  function confusionQuestions(task, domain, model, test) {
    const out = [];
    for (let i = 0; i < N; i++) {
      if (Q.task[i] !== task || (domain >= 0 && Q.domain[i] !== domain)) continue;
      if (A[MODELS[model]].ok[i] === null) continue;
      if (test(i)) out.push(i);
    }
    return out;
  }
  function hardSet() {
    const s = new Set();
    for (const [d, a, n] of D.hardPairs) s.add(`${d}|${a}|${n}`);
    return s;
  }
  const HARD = hardSet();
  function renderConfusions() {
    const task = +$("c-task").value, domain = +$("c-domain").value, model = +$("c-model").value;
    const box = $("c-matrix");
    if (task < 0 || model < 0) { box.innerHTML = "<p>No task.</p>"; return; }
    const binary = D.taskBinary[task], a = A[MODELS[model]];
    const rows = confusionQuestions(task, domain, model, () => true);
    const cell = (n, key, cls) => n ? `<td class="cell ${cls}" data-key="${esc(key)}">${n}</td>` : `<td class="${cls}"></td>`;
    cellSets.clear();
    const put = (key, i) => { if (!cellSets.has(key)) cellSets.set(key, []); cellSets.get(key).push(i); };
    if (!binary) {
      $("c-hint").textContent = "Rows: the clip's action; columns: the action the model chose. Diagonal = correct; " +
        "\u2605 = a hard negative of the row's action. Click a cell to list its questions.";
      const actions = new Set(), chosen = new Set();
      for (const i of rows) {
        actions.add(Q.clipAction[i]);
        const c = optionAction(i, a.parsed[i]);
        const key = c === null ? "unparsed" : c;
        chosen.add(key);
        put(`${Q.clipAction[i]}|${key}`, i);
      }
      const rowsA = [...actions].sort((x, y) => S[x].localeCompare(S[y]));
      const cols = [...new Set([...rowsA, ...[...chosen].filter((c) => c !== "unparsed")])].sort((x, y) => S[x].localeCompare(S[y]));
      if (chosen.has("unparsed")) cols.push("unparsed");
      let html = `<table class="matrix"><tr><th>clip's action \\ chosen</th>${cols.map((c) => `<th>${c === "unparsed" ? "<i>unparsed</i>" : esc(S[c])}</th>`).join("")}</tr>`;
      const domOf = new Map();
      for (const i of rows) domOf.set(Q.clipAction[i], Q.domain[i]);
      for (const r of rowsA) {
        html += `<tr><th>${esc(S[r])}</th>`;
        for (const c of cols) {
          const key = `${r}|${c}`, n = (cellSets.get(key) || []).length;
          const hard = c !== "unparsed" && HARD.has(`${domOf.get(r)}|${r}|${c}`);
          html += cell(n, key, (c === r ? "diag" : c === "unparsed" ? "unp" : "off") + (hard ? " hard" : ""));
        }
        html += "</tr>";
      }
      box.innerHTML = html + "</table>";
    } else {
      $("c-hint").textContent = "Per asked action: positive clips answered 'no', negative clips answered 'yes' " +
        "(hard or random negatives), unparsed answers. Click a count to list its questions.";
      const acts = new Set();
      for (const i of rows) {
        acts.add(Q.action[i]);
        const o = outcome(model, i), pos = Q.gold[i] === "yes";
        put(`${Q.action[i]}|all`, i);
        if (o === "wrong") put(`${Q.action[i]}|${pos ? "fn" : "fp"}`, i);
        if (o === "unparsed") put(`${Q.action[i]}|unp`, i);
      }
      const sorted = [...acts].sort((x, y) => S[x].localeCompare(S[y]));
      let html = `<table class="matrix"><tr><th>asked action</th><th>questions</th><th>positive errors (said no)</th>` +
        `<th>negative errors (said yes)</th><th>unparsed</th></tr>`;
      for (const r of sorted) {
        const n = (k) => (cellSets.get(`${r}|${k}`) || []).length;
        html += `<tr><th>${esc(S[r])}</th>${cell(n("all"), `${r}|all`, "diag")}${cell(n("fn"), `${r}|fn`, "off")}` +
          `${cell(n("fp"), `${r}|fp`, "off")}${cell(n("unp"), `${r}|unp`, "unp")}</tr>`;
      }
      box.innerHTML = html + "</table>";
    }
  }
  const cellSets = new Map();
  function openCell(key) {
    const items = cellSets.get(key) || [];
    const task = +$("c-task").value, model = +$("c-model").value;
    const [r, c] = key.split("|");
    const what = D.taskBinary[task] ? `${S[+r]}: ${{ all: "all", fn: "positive errors", fp: "negative errors", unp: "unparsed" }[c]}`
      : `${S[+r]} \u2192 ${c === "unparsed" ? "unparsed" : S[+c]}`;
    resetFilters(false);
    $("f-task").value = task;
    state.selection = new Set(items);
    $("selection-label").textContent = `Confusion cell (${MODELS[model]}, ${D.tasks[task]}): ${what} - ${items.length} question(s)`;
    $("selection").hidden = false;
    showTab("questions");
    applyFilters();
  }

  // ------------------------------------------------------------------ tables, comparison, export
  function renderTable(t) {
    const cellText = (v) => (typeof v === "number" && !Number.isInteger(v) ? pct(v) : (v === null ? "" : esc(v)));
    return `<h3>${esc(t.title)}</h3>${t.note ? `<p class="hint">${esc(t.note)}</p>` : ""}<table class="report" data-name="${esc(t.name)}">` +
      `<tr>${t.headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>` +
      t.rows.map((r) => `<tr>${r.map((v) => `<td>${cellText(v)}</td>`).join("")}</tr>`).join("") + "</table>";
  }
  function renderTables() {
    const conv = $("t-conv").value;
    $("t-tables").innerHTML = renderTable(D.tables.summary) + D.tables[conv].map(renderTable).join("");
  }
  function renderCompare() {
    const a = +$("p-a").value, b = +$("p-b").value, task = $("p-task").value;
    const box = $("p-table");
    if (a === b || a < 0 || b < 0) { box.innerHTML = "<p>Pick two different runs.</p>"; return; }
    const [lo, hi, sign] = a < b ? [a, b, 1] : [b, a, -1];
    const cmp = D.comparisons.find((c) => c.a === MODELS[lo] && c.b === MODELS[hi] && c.task === task);
    if (!cmp) { box.innerHTML = "<p>These runs share no questions of this task.</p>"; return; }
    const fmt = (v) => (v === null ? "" : (100 * v).toFixed(1));
    let html = `<table class="report compare"><tr><th>Category</th><th>Domain</th><th>${esc(MODELS[a])}</th><th>${esc(MODELS[b])}</th>` +
      `<th>\u0394 (A \u2212 B)</th><th>\u00b1 SE</th><th>questions</th><th>actions</th><th>differ</th></tr>`;
    for (const r of cmp.rows) {
      const [va, vb] = sign > 0 ? [r.a, r.b] : [r.b, r.a];
      const d = sign * r.delta;
      html += `<tr class="${r.category ? (r.domain ? "domain" : "category") : "overall"}"><td>${esc(r.category || "all")}</td><td>${esc(r.domain)}</td>` +
        `<td>${fmt(va)}</td><td>${fmt(vb)}</td><td class="delta">${d >= 0 ? "+" : ""}${fmt(d)}</td><td>${r.se === null ? "n/a" : fmt(r.se)}</td>` +
        `<td>${r.n}</td><td>${r.clusters}</td><td><a href="#" class="differ" data-cat="${esc(r.category)}" data-dom="${esc(r.domain)}">${r.differ}</a></td></tr>`;
    }
    box.innerHTML = html + "</table>";
  }
  function openDiffer(cat, dom) {
    const a = +$("p-a").value, b = +$("p-b").value, task = D.tasks.indexOf($("p-task").value);
    const items = [];
    for (let i = 0; i < N; i++) {
      if (Q.task[i] !== task) continue;
      if (cat && S[Q.category[i]] !== cat) continue;
      if (dom && S[Q.domain[i]] !== dom) continue;
      const oa = ok(a, i), ob = ok(b, i);
      if (oa !== null && ob !== null && oa !== ob) items.push(i);
    }
    resetFilters(false);
    $("f-task").value = task;
    state.selection = new Set(items);
    $("selection-label").textContent = `${MODELS[a]} vs ${MODELS[b]} (${D.tasks[task]}${dom ? ", " + dom : cat ? ", " + cat : ""}): ` +
      `one right, the other wrong - ${items.length} question(s)`;
    $("selection").hidden = false;
    showTab("questions");
    applyFilters();
  }
  function renderExport() {
    $("x-links").innerHTML = "<h3>Leaderboard</h3><ul>" +
      D.meta.exports.map((p) => `<li><a href="${esc(p)}">${esc(p)}</a></li>`).join("") + "</ul>" +
      "<p class=\"hint\">leaderboard/ is a Hugging Face dataset folder (README.md declares its config).</p>";
    $("notes").innerHTML = D.notes.length ? D.notes.map((n) => `<li>${esc(n)}</li>`).join("") : "<li>none</li>";
  }

  // ------------------------------------------------------------------ wiring
  function showTab(name) {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === name));
    document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  }
  function resetFilters(apply) {
    for (const id of ["f-task", "f-category", "f-domain", "f-action", "f-model"]) $(id).value = -1;
    $("f-outcome").value = "all"; $("f-minlen").value = ""; $("f-maxlen").value = "";
    $("f-disagree").checked = false; $("f-search").value = "";
    state.selection = null; $("selection").hidden = true;
    if (apply) applyFilters();
  }
  function init() {
    const taskItems = D.tasks.map((t, i) => [i, t]);
    const modelItems = MODELS.map((m, i) => [i, m]);
    fill($("f-task"), taskItems, "all tasks");
    fill($("f-category"), uniq(Q.category).map((i) => [i, S[i]]), "all categories");
    fill($("f-domain"), uniq(Q.domain).map((i) => [i, S[i]]), "all domains");
    fill($("f-action"), uniq(Q.action.concat(Q.clipAction)).map((i) => [i, S[i]]), "all actions");
    fill($("f-model"), modelItems, "any model");
    fill($("c-task"), taskItems);
    // One domain at a time: the options of a question never leave its domain.
    fill($("c-domain"), uniq(Q.domain).map((i) => [i, S[i]]));
    fill($("c-model"), modelItems);
    fill($("p-a"), modelItems); fill($("p-b"), modelItems);
    if (MODELS.length > 1) $("p-b").value = 1;
    fill($("p-task"), D.tasks.map((t) => [t, t]));
    $("meta").textContent = `${MODELS.length} model(s), ${D.tasks.length} task(s), ${N} questions - ${D.meta.generated}`;
    $("tabs").addEventListener("click", (e) => { if (e.target.dataset.tab) showTab(e.target.dataset.tab); });
    $("filters").addEventListener("change", () => applyFilters());
    $("f-search").addEventListener("input", () => applyFilters());
    $("f-reset").addEventListener("click", () => resetFilters(true));
    $("selection-clear").addEventListener("click", () => { state.selection = null; $("selection").hidden = true; applyFilters(); });
    $("prev").addEventListener("click", () => { state.page--; renderList(); });
    $("next").addEventListener("click", () => { state.page++; renderList(); });
    $("list").addEventListener("click", (e) => { const el = e.target.closest(".clip[data-href]"); if (el) play(el); });
    for (const id of ["c-task", "c-domain", "c-model"]) $(id).addEventListener("change", renderConfusions);
    $("c-matrix").addEventListener("click", (e) => { const el = e.target.closest("td.cell"); if (el) openCell(el.dataset.key); });
    $("t-conv").addEventListener("change", renderTables);
    for (const id of ["p-a", "p-b", "p-task"]) $(id).addEventListener("change", renderCompare);
    $("p-table").addEventListener("click", (e) => {
      const el = e.target.closest("a.differ"); if (!el) return;
      e.preventDefault(); openDiffer(el.dataset.cat, el.dataset.dom);
    });
    applyFilters(); renderConfusions(); renderTables(); renderCompare(); renderExport();
    document.body.dataset.ready = "1";
  }
  init();
})();
