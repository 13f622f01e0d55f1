// stackscope HTML report: builds the paths, tables and search from the
// JSON in #data. Every string from the analysis goes in through
// textContent, never as markup.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }
  // Every size this script writes is a need (a frame, a depth, a bound):
  // rounded up, as the text output writes it (size.js).
  const bytes = formatSize;
  function fnLink(name, local) {
    if (!local) return el("span", { class: "fn", text: name });
    return el("a", { class: "fn", href: "#fn=" + encodeURIComponent(name), text: name });
  }
  const localNames = new Set(data.functions.map(f => f.name));

  // A source location, "file.c:12": a link to the file when the page was
  // made inside the source tree (data.links), else text.
  function srcNode(src) {
    if (!src) return el("span", { class: "src" });
    const colon = src.lastIndexOf(":");
    const line = colon > 0 ? src.slice(colon + 1) : "";
    const file = /^\d+$/.test(line) ? src.slice(0, colon) : src;
    const href = Object.prototype.hasOwnProperty.call(data.links, file) ? data.links[file] : "";
    if (!href) return el("span", { class: "src", text: src });
    return el("a", { class: "src", href: href + (file !== src ? "#L" + line : ""), text: src });
  }

  // Worst paths: nested <details>, one per step, each bar placed at the
  // depth where its frame starts.
  function renderEntry(e, i) {
    const box = el("div", { class: "entry", id: "entry-" + i });
    const head = el("h3", {}, el("span", { class: "fn", text: e.name }), " ",
      el("span", { class: "kind", text: "(" + e.kind + ")" }), " ",
      el("span", { class: e.bounded ? "good" : "bad", text: e.bounded ? bytes(e.bound) + " worst case" : "NOT BOUNDED (at least " + bytes(e.bound) + ")" }));
    // The verdict line says more than the heading only when it counts
    // reasons or names what the bound assumes.
    if (e.verdict !== "bounded") box.append(head, el("div", { class: "muted", text: e.verdict }));
    else box.append(head);
    if (e.path.length) {
      const total = Math.max(e.bound, ...e.path.map(s => s.depth), 1);
      const biggest = Math.max(...e.path.map(s => s.frame));
      const path = el("div", { class: "path" });
      let parent = path;
      e.path.forEach((s, k) => {
        const d = el("details", { open: "" });
        if (k === e.path.length - 1) d.className = "leaf";
        const bar = el("div", { class: "bar" + (s.kind !== "static" ? " unknown" : "") + (s.frame === biggest && s.frame > 0 ? " big" : "") });
        bar.style.left = (100 * (s.depth - s.frame) / total) + "%";
        bar.style.width = (100 * s.frame / total) + "%";
        bar.title = s.fn + ": frame " + bytes(s.frame) + ", depth " + bytes(s.depth);
        const name = el("span", { class: "name", title: s.fn + (s.src ? " (" + s.src + ")" : "") });
        name.style.setProperty("--lvl", String(k));
        if (s.lib && s.fn.endsWith(" (" + s.lib + ")")) {
          // A library's function: its name, then the library, quieter.
          name.append(el("span", { class: "fn", text: s.fn.slice(0, -(s.lib.length + 3)) }), el("span", { class: "lib", text: " (" + s.lib + ")" }));
        } else name.append(fnLink(s.fn, s.local && localNames.has(s.fn)));
        if (s.tail) name.append(el("span", { class: "muted", text: " (tail call)" }));
        const frame = s.kind === "static" ? bytes(s.frame) : s.kind + " ≥ " + bytes(s.frame);
        d.append(el("summary", {}, name, el("span", { class: "num", text: frame }), el("span", { class: "num muted", text: bytes(s.depth) }),
          el("div", { class: "track", title: s.src || "" }, bar)));
        parent.append(d);
        parent = d;
      });
      const scale = e.bound > 0 ? "; bars scaled to " + bytes(total) : "; it uses no stack of its own";
      box.append(el("div", { class: "muted", text: (e.bounded ? "worst path" : "deepest known path") + ": function, frame, depth" + scale }), path);
    }
    if (!e.bounded && e.reasons.length) box.append(reasonTable("why not bounded", e.reasons));
    // What a bound rests on; an entry without a bound has worse problems.
    if (e.bounded && e.assumptions.length) box.append(reasonTable("the bound assumes", e.assumptions));
    return box;
  }

  function reasonTable(title, rows) {
    const wrap = el("div", { class: "reasons" }, el("h4", { text: title + " (" + rows.length + ")" }));
    const tbody = el("tbody");
    const table = el("table", { class: "fixed" }, el("colgroup", {}, el("col", { class: "kind" }), el("col", { class: "fn" }), el("col"), el("col", { class: "src" })),
      el("thead", {}, el("tr", {}, el("th", { text: "Kind" }), el("th", { text: "Function" }),
      el("th", { text: "Detail" }), el("th", { text: "Source" }))), tbody);
    const show = n => {
      tbody.textContent = "";
      rows.slice(0, n).forEach(r => {
        const fn = el("td", {});
        if (r.lib) {
          const base = r.fn.endsWith(" (" + r.lib + ")") ? r.fn.slice(0, -(r.lib.length + 3)) : r.fn;
          fn.append(el("span", { class: "fn", text: base }), " ", el("span", { class: "lib", text: "(" + r.lib + ")" }));
        } else fn.append(fnLink(r.fn, localNames.has(r.fn)));
        tbody.append(el("tr", {}, el("td", { class: "kind", text: r.kind }), fn, el("td", { text: r.detail }), el("td", { class: "src" }, srcNode(r.src))));
      });
    };
    show(12);
    wrap.append(table);
    if (rows.length > 12) {
      const b = el("button", { type: "button", text: "show all " + rows.length });
      b.onclick = () => { show(rows.length); b.remove(); };
      wrap.append(b);
    }
    return wrap;
  }

  const entries = document.getElementById("entries");
  data.entries.forEach((e, i) => entries.append(renderEntry(e, i)));
  if (!data.entries.length) entries.append(el("p", { class: "muted", text: "no entry points" }));

  // Threads found in the code, and threads of a run.
  function simpleTable(cols, rows, cls) {
    const t = el("table", {}, el("thead", {}, el("tr", {}, ...cols.map(c => el("th", { class: c[2] || "", text: c[0] })))));
    const tb = el("tbody");
    rows.forEach(r => tb.append(el("tr", { class: cls ? cls(r) : "" }, ...cols.map(c => el("td", { class: c[2] || "", text: String(r[c[1]] ?? "") })))));
    t.append(tb);
    return t;
  }
  const th = document.getElementById("threads");
  if (data.threads.length) {
    th.append(el("h3", { text: "created in the code" }), simpleTable([["Entry", "entry"], ["Created by", "created"], ["Stack", "size", "num"],
      ["Needs", "need", "num"], ["Verdict", "verdict"], ["Source", "src"]], data.threads, r => r.status === "overflow" ? "bad" : r.status === "ok" ? "good" : ""));
  } else th.append(el("p", { class: "muted", text: "no thread or task creation found in the code" }));
  if (data.run.length) {
    document.getElementById("run-threads").append(el("h3", { text: "measured in a run" }), simpleTable([["TID", "tid", "num"], ["Kind", "kind"],
      ["Stack", "size", "num"], ["Peak", "peak", "num"], ["Headroom", "headroom", "num"], ["Ended", "ended"], ["Program", "program"]], data.run,
      r => r.ended.startsWith("crash") ? "bad" : ""));
  }

  // A firmware run's stacks, each measured peak beside its static bound,
  // and the deepest measured path beside the static worst path, outermost
  // frame first, each function linked to its row.
  if (data.fwrun.length) {
    const box = document.getElementById("fw-stacks");
    box.append(el("h3", { text: "measured in a firmware run" }), simpleTable([["Stack", "name"], ["Kind", "kind"], ["Peak", "peak", "num"],
      ["Size", "size", "num"], ["Headroom", "headroom", "num"], ["Static bound", "bound", "num"], ["Check", "check"]], data.fwrun,
      r => r.bad ? "bad" : r.check === "bound holds" ? "good" : ""));
    const cell = (name, cls) => {
      const td = el("td", { class: cls || "" });
      if (name) td.append(fnLink(name, localNames.has(name)));
      return td;
    };
    data.fwrun.forEach(s => {
      const div = el("div", { class: "fw-stack", "data-stack": s.name });
      s.notes.forEach(n => div.append(el("p", { class: "muted", text: s.name + " stack: " + n })));
      if (s.deepest || s.path.length) {
        div.append(el("h4", { text: s.name + " stack: " + (s.deepest || "the static worst path (no measured path: run with --deepest)") }));
        const tb = el("tbody");
        s.path.forEach(p => tb.append(el("tr", {}, cell(p.m, "fn measured"), el("td", { class: "num", text: p.frame || "" }),
          el("td", {}, srcNode(p.src)), cell(p.s, "fn static"))));
        div.append(el("table", { class: "deepest" }, el("thead", {}, el("tr", {}, el("th", { text: "Measured path" }), el("th", { class: "num", text: "Frame" }),
          el("th", { text: "Source" }), el("th", { text: "Static worst path" }))), tb));
      }
      box.append(div);
    });
  }

  // Callers and callees (calls.go): a number below data.functions.length
  // is a row of the table, else one of data.others (a library's function,
  // an external, an indirect-call set listed once in #sets).
  const nFuncs = data.functions.length, nRefs = nFuncs + data.others.length;
  // The data lists a function's callees, and only those callers that are
  // no row: the rows that call it come from their callees.
  const rowCallers = data.functions.map(() => []);
  data.functions.forEach((f, i) => {
    f.i = i;
    f.callees = f.callees || [];
    f.callers = f.callers || [];
    f.callees.forEach(r => { if (r < nFuncs) rowCallers[r].push(i); });
  });
  const setIds = new Map(); // index in data.others -> the set's row id
  data.others.forEach((o, k) => { if (o.set) setIds.set(k, "set-" + setIds.size); });
  // A set's members as a bitmap over the references, from its own list or
  // from the larger set it is written against (base, minus, plus).
  const setBits = new Map();
  const words = (nRefs + 31) >>> 5;
  const has = (bits, r) => (bits[r >>> 5] >>> (r & 31)) & 1;
  function bitsOf(k) {
    let bits = setBits.get(k);
    if (bits) return bits;
    const o = data.others[k];
    if (o.base !== undefined) {
      bits = bitsOf(o.base).slice();
      (o.minus || []).forEach(r => { bits[r >>> 5] &= ~(1 << (r & 31)); });
      (o.plus || []).forEach(r => { bits[r >>> 5] |= 1 << (r & 31); });
    } else {
      bits = new Uint32Array(words);
      (o.members || []).forEach(r => { bits[r >>> 5] |= 1 << (r & 31); });
    }
    setBits.set(k, bits);
    return bits;
  }
  function membersOf(k) {
    const bits = bitsOf(k), out = [];
    for (let r = 0; r < nRefs; r++) if (has(bits, r)) out.push(r);
    return out;
  }
  // The sets a function belongs to: callers the row's data leaves out.
  function setsOf(r) {
    const out = [];
    setIds.forEach((id, k) => { if (has(bitsOf(k), r)) out.push(nFuncs + k); });
    return out;
  }
  function refItem(r) {
    if (r < nFuncs) {
      const f = data.functions[r];
      return el("li", {}, fnLink(f.name, true), f.src ? " " : null, f.src ? srcNode(f.src) : null);
    }
    const k = r - nFuncs, o = data.others[k];
    if (o.set) return el("li", {}, el("a", { class: "set", href: "#" + setIds.get(k), text: o.name }),
      el("span", { class: "muted", text: " " + setMethod(o) }));
    return el("li", {}, el("span", { class: "fn other", text: o.name }));
  }
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  function setMethod(o) { return (o.assumed ? "assumed, " : "") + "by " + (o.method || "?"); }
  // A list of references; past 20, the rest behind a <details> of its
  // own, built when first opened (a set's list has thousands).
  function refList(title, refs) {
    const box = el("div", { class: "reflist" }, el("h5", { text: title + " (" + refs.length + ")" }));
    if (!refs.length) return box;
    const first = el("ul");
    refs.slice(0, 20).forEach(r => first.append(refItem(r)));
    box.append(first);
    if (refs.length > 20) box.append(lazyDetails("and " + (refs.length - 20) + " more", () => {
      const rest = el("ul");
      refs.slice(20).forEach(r => rest.append(refItem(r)));
      return rest;
    }));
    return box;
  }
  // A <details> whose content is built on the first click of its summary.
  function lazyDetails(title, build) {
    const summary = el("summary", { text: title }), d = el("details", {}, summary);
    summary.addEventListener("click", () => { if (d.childElementCount === 1) d.append(build()); });
    return d;
  }
  function callsCell(f) {
    const callers = rowCallers[f.i].concat(f.callers, setsOf(f.i));
    if (!callers.length && !f.callees.length) return el("span", { class: "muted", text: "none" });
    return el("details", { class: "calls" }, el("summary", { text: plural(callers.length, "caller") + ", " + plural(f.callees.length, "callee") }),
      refList("called by", callers), refList("calls", f.callees));
  }
  // Indirect-call sets, each once: how it was found, its size, who calls
  // through it, its members.
  const setsBox = document.getElementById("sets");
  if (setIds.size) {
    const tb = el("tbody");
    setIds.forEach((id, k) => {
      const o = data.others[k];
      tb.append(el("tr", { id: id }, el("td", { class: "fn", text: o.name }), el("td", { text: setMethod(o) }),
        el("td", { class: "num", text: String(o.size) }), el("td", {}, refList("called from", o.callers || [])),
        el("td", {}, lazyDetails(plural(o.size, "function"), () => refList("may call", membersOf(k))))));
    });
    setsBox.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Set" }), el("th", { text: "Found" }),
      el("th", { class: "num", text: "Functions" }), el("th", { text: "Calls through it" }), el("th", { text: "Members" }))), tb));
  } else setsBox.append(el("p", { class: "muted", text: "no call through a pointer is resolved to a set of functions" }));

  // Functions: sortable, searchable, shown a page at a time (a big
  // program has tens of thousands).
  const tbody = document.querySelector("#functions tbody");
  const search = document.getElementById("search");
  const count = document.getElementById("count");
  const more = document.getElementById("more");
  let sortKey = "frame", sortDir = -1, limit = 200, exact = null;
  function rows() {
    const q = search.value.trim().toLowerCase();
    let list = data.functions;
    if (exact !== null) list = list.filter(f => f.name === exact);
    else if (q) list = list.filter(f => f.name.toLowerCase().includes(q) || (f.src || "").toLowerCase().includes(q) || f.addr === q);
    const key = sortKey;
    return list.slice().sort((a, b) => {
      const x = a[key] ?? "", y = b[key] ?? "";
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * sortDir;
    });
  }
  function renderFunctions() {
    const list = rows();
    tbody.textContent = "";
    list.slice(0, limit).forEach(f => {
      const frame = f.kind === "static" ? bytes(f.frame) : f.kind + " ≥ " + bytes(f.frame);
      const below = !f.analysed ? "" : (f.bounded ? "" : "≥ ") + bytes(f.bound);
      const tr = el("tr", { id: "fn-" + f.name }, el("td", { class: "fn", text: f.name }), el("td", { class: "num", text: frame + (f.rz ? " (+" + bytes(f.rz) + " red zone)" : "") }),
        el("td", { text: f.kind }), el("td", { class: "num", text: below }), el("td", { class: "src" }, srcNode(f.src)), el("td", { class: "src", text: f.addr }),
        el("td", { class: "calls" }, callsCell(f)));
      if (exact !== null) tr.className = "highlight";
      tbody.append(tr);
    });
    count.textContent = list.length + " of " + data.functions.length + " functions" + (list.length > limit ? ", first " + limit + " shown" : "");
    more.style.display = list.length > limit ? "" : "none";
  }
  document.querySelectorAll("#functions th[data-key]").forEach(h => h.addEventListener("click", () => {
    const k = h.dataset.key;
    sortDir = sortKey === k ? -sortDir : (k === "name" || k === "src" || k === "addr" || k === "kind" ? 1 : -1);
    sortKey = k;
    document.querySelectorAll("#functions th").forEach(o => o.classList.remove("asc", "desc"));
    h.classList.add(sortDir > 0 ? "asc" : "desc");
    renderFunctions();
  }));
  search.addEventListener("input", () => { exact = null; limit = 200; renderFunctions(); });
  more.addEventListener("click", () => { limit += 1000; renderFunctions(); });
  // A link to a function (#fn=NAME) shows its row.
  function followHash() {
    const m = location.hash.match(/^#fn=(.*)$/);
    if (!m) return;
    exact = decodeURIComponent(m[1]);
    search.value = exact;
    renderFunctions();
    document.getElementById("functions-section").scrollIntoView();
  }
  window.addEventListener("hashchange", followHash);
  renderFunctions();
  followHash();
})();
