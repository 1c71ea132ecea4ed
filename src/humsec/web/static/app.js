/* humsec dashboard — plain JavaScript and SVG, no external libraries (works offline).
 * Every number comes from the REST API (/api/v1); nothing is computed here beyond
 * drawing. Every chart has a table with the same numbers beside it. Data are inserted
 * with textContent only (never as HTML). */
"use strict";
(function () {
  const API = document.body.dataset.api || "/api/v1";
  const PAGE = document.body.dataset.page;
  const SVGNS = "http://www.w3.org/2000/svg";
  // ColorBrewer YlGnBu (7 classes): light = less secure, dark = more secure
  const PALETTE = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"];
  const NODATA = "#d4d8dd";
  const SEVERE_COLOR = "#9b1c1c";
  // Okabe-Ito: distinguishable with colour-vision deficiencies
  const SERIES = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c6d1f"];

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }
  function sv(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }
  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "style") e.style.cssText = v;  // CSSOM: allowed by the pages' Content-Security-Policy
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  const finite = (v) => v !== null && v !== undefined && Number.isFinite(Number(v));
  function fmt(v, nd = 1) { return finite(v) ? Number(v).toFixed(nd) : "–"; }
  function fmtValue(v) {
    if (!finite(v)) return "–";
    const a = Math.abs(v);
    if (a >= 1e6) return Math.round(v).toLocaleString("en");
    if (a >= 100) return Number(v).toFixed(0);
    return Number(v).toPrecision(3).replace(/\.?0+$/, "");
  }
  function interval(lo, hi, nd = 0) { return finite(lo) && finite(hi) ? `${fmt(lo, nd)}–${fmt(hi, nd)}` : "–"; }
  const sentence = (t) => t ? t.charAt(0).toUpperCase() + t.slice(1) : "";
  const split = (t) => (t || "").split("; ").filter(Boolean);
  // why a country is not ranked, without the rule (stated once beside the list)
  const shortReason = (r) => (r.reason || "").replace(/ \(the index needs [^)]*\)/, "");
  function howText(how) { return how === "missing" ? "no number" : (how || "–"); }

  class ApiError extends Error { constructor(status, message, body) { super(message); this.status = status; this.body = body; } }
  async function api(path, options) {
    let r;
    try { r = await fetch(API + path, Object.assign({ headers: { Accept: "application/json" } }, options || {})); }
    catch (e) { throw new ApiError(0, "the server did not answer", null); }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new ApiError(r.status, (body && typeof body.detail === "string" && body.detail) || `HTTP ${r.status}`, body);
    return body;
  }
  // what a web user reads when a call fails: the API's sentence when it is plain words,
  // never a server trace, a raw data structure or command-line advice
  const INTERNALS = /[{}[\]<>]|Traceback|\bhumsec [a-z]|--[a-z]|\bpython\b|\bNone\b|\bnan\b/;
  function plainError(err, what) {
    const status = err && err.status;
    if (!status) return `${what} could not be loaded: the server did not answer. Try again in a moment.`;
    if (status >= 500) return `${what} could not be loaded because of an error on the server (HTTP ${status}). Try again later.`;
    if (status === 404 && /^Not Found$/i.test(err.message || "")) return `${what} are not available in this installation.`;
    const msg = String((err && err.message) || "");
    if (!msg || INTERNALS.test(msg) || /^HTTP \d+$/.test(msg)) return `${what} could not be computed with the current data.`;
    return `${what}: ${msg.replace(/\s*\.?$/, ".").replace(/^./, (c) => c.toUpperCase())}`;
  }
  function body(id) { return document.querySelector(`#${id} .body`); }
  function fill(id, ...nodes) { const b = body(id); if (b) b.replaceChildren(...nodes.flat()); }
  function note(text, cls = "note") { return el("p", { class: cls, text }); }
  function failed(id, err, what) {
    fill(id, note(plainError(err, what), err && (!err.status || err.status >= 500) ? "error" : "note"));
  }
  // a not-ranked country (404 with the reason): one plain sentence for a panel
  function notRankedNote(err, what) {
    const nr = err && err.body && err.body.not_ranked;
    if (!nr) return null;
    return note(`${nr.name} is not ranked in ${err.body.year}, so there are no ${what}.`);
  }

  // sortable, accessible table: columns [{key, label, num, nd, render(row)}]
  function table(columns, rows, opts = {}) {
    const tbl = el("table", {});
    if (opts.caption) tbl.append(el("caption", { text: opts.caption }));
    const thead = el("thead"), tr = el("tr");
    const tbody = el("tbody");
    let sortKey = null, asc = true;
    const draw = () => {
      let r = rows.slice();
      if (sortKey !== null) {
        const c = columns.find((x) => x.key === sortKey);
        r.sort((a, b) => {
          const va = c.sortValue ? c.sortValue(a) : a[c.key], vb = c.sortValue ? c.sortValue(b) : b[c.key];
          const na = va === null || va === undefined, nb = vb === null || vb === undefined;
          if (na || nb) return na - nb;
          return (va < vb ? -1 : va > vb ? 1 : 0) * (asc ? 1 : -1);
        });
      }
      tbody.replaceChildren(...r.map((row) => el("tr", {}, columns.map((c, i) => {
        const v = c.render ? c.render(row) : (c.num ? fmt(row[c.key], c.nd ?? 1) : (row[c.key] ?? "–"));
        return el(i === 0 && opts.rowHeader ? "th" : "td", { class: c.num ? "num" : null, scope: i === 0 && opts.rowHeader ? "row" : null }, v);
      }))));
    };
    for (const c of columns) {
      const th = el("th", { scope: "col", class: c.num ? "num" : null });
      if (opts.sortable) {
        const b = el("button", { type: "button", class: "sort", text: c.label, onclick: () => {
          asc = sortKey === c.key ? !asc : true; sortKey = c.key;
          for (const h of tr.children) h.removeAttribute("aria-sort");
          th.setAttribute("aria-sort", asc ? "ascending" : "descending");
          draw();
        } });
        th.append(b);
      } else th.textContent = c.label;
      tr.append(th);
    }
    thead.append(tr);
    tbl.append(thead, tbody);
    draw();
    return el("div", { class: "table-wrap" }, tbl);
  }
  function behind(columns, rows, caption) {  // the table behind a chart
    return el("details", {}, el("summary", { text: "Show the data as a table" }), table(columns, rows, { caption }));
  }

  // horizontal bar chart: items [{label, value, lo, hi, color}], groups of bars allowed via item.group
  function barChart(items, opts = {}) {
    const max = opts.max ?? 100, barH = opts.barH ?? 16, gap = opts.gap ?? 8, left = opts.left ?? 170, W = 640;
    const groupGap = opts.groupGap ?? 0;
    let y = 20, parts = [];
    const x = (v) => left + (W - left - 50) * Math.max(0, Math.min(max, v)) / max;
    // grid
    for (let t = 0; t <= max; t += max / 4) {
      parts.push(sv("line", { x1: x(t), x2: x(t), y1: 12, y2: 0, class: "gridline" }));
    }
    let prevGroup = null;
    const bars = [];
    for (const it of items) {
      if (it.group !== undefined && prevGroup !== null && it.group !== prevGroup) y += groupGap;
      if (it.group !== undefined && it.group !== prevGroup && opts.groupLabels) {
        bars.push(sv("text", { x: 4, y: y + barH - 3, "font-weight": "700", text: it.group }));
        y += barH + 2;
      }
      prevGroup = it.group;
      const g = sv("g", {});
      g.append(sv("text", { x: left - 6, y: y + barH - 4, "text-anchor": "end", text: it.label }));
      if (finite(it.value)) {
        g.append(sv("rect", { x: left, y, width: Math.max(1, x(it.value) - left), height: barH, fill: it.color || "#225ea8" },
          sv("title", { text: `${it.label}: ${fmt(it.value)}` })));
        g.append(sv("text", { x: x(it.value) + 4, y: y + barH - 4, text: fmt(it.value, 0) }));
        if (finite(it.lo) && finite(it.hi)) {
          g.append(sv("line", { x1: x(it.lo), x2: x(it.hi), y1: y + barH / 2, y2: y + barH / 2, stroke: "#1b1f24", "stroke-width": 1.5 }));
        }
      } else {
        g.append(sv("text", { x: left + 4, y: y + barH - 4, fill: "#4a5360", text: "no data" }));
      }
      bars.push(g);
      y += barH + gap;
    }
    const H = y + 18;
    const axis = sv("g", { class: "axis" });
    for (let t = 0; t <= max; t += max / 4) {
      axis.append(sv("line", { x1: x(t), x2: x(t), y1: 14, y2: H - 16, stroke: "#e3e8ee" }));
      axis.append(sv("text", { x: x(t), y: 11, "text-anchor": "middle", text: String(t) }));
    }
    return sv("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label || "bar chart" },
      axis, bars);
  }

  // line chart with uncertainty bands: series [{name, color, points:[{x, y, lo, hi}]}]
  function lineChart(series, opts = {}) {
    const W = 640, H = 300, L = 44, R = 16, T = 14, B = 34;
    const xs = series.flatMap((s) => s.points.map((p) => p.x));
    if (!xs.length) return note("No history to draw.");
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    const vals = series.flatMap((s) => s.points.flatMap((p) => [p.y, p.lo, p.hi])).filter(finite);
    let y0 = Math.max(0, Math.floor((Math.min(...vals) - 5) / 10) * 10), y1 = Math.min(100, Math.ceil((Math.max(...vals) + 5) / 10) * 10);
    if (y1 <= y0) { y0 = 0; y1 = 100; }
    const X = (v) => L + (W - L - R) * (v - x0) / (x1 - x0);
    const Y = (v) => T + (H - T - B) * (1 - (v - y0) / (y1 - y0));
    const g = sv("g", {});
    for (let t = y0; t <= y1; t += 10) {
      g.append(sv("line", { x1: L, x2: W - R, y1: Y(t), y2: Y(t), stroke: "#e3e8ee" }));
      g.append(sv("text", { x: L - 6, y: Y(t) + 4, "text-anchor": "end", text: String(t) }));
    }
    const step = Math.max(1, Math.ceil((x1 - x0) / 10));
    for (let t = Math.ceil(x0); t <= x1; t += step) {
      g.append(sv("text", { x: X(t), y: H - B + 16, "text-anchor": "middle", text: String(t) }));
    }
    g.append(sv("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#8a95a3" }));
    series.forEach((s, i) => {
      const color = s.color || SERIES[i % SERIES.length];
      const banded = s.points.filter((p) => finite(p.lo) && finite(p.hi));
      if (banded.length > 1) {
        const up = banded.map((p) => `${X(p.x)},${Y(p.hi)}`), down = banded.slice().reverse().map((p) => `${X(p.x)},${Y(p.lo)}`);
        g.append(sv("polygon", { points: up.concat(down).join(" "), fill: color, "fill-opacity": 0.18, stroke: "none" }));
      }
      const pts = s.points.filter((p) => finite(p.y));
      if (pts.length > 1) g.append(sv("polyline", { points: pts.map((p) => `${X(p.x)},${Y(p.y)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2.5 }));
      for (const p of pts) {
        g.append(sv("circle", { cx: X(p.x), cy: Y(p.y), r: 3.5, fill: color },
          sv("title", { text: `${s.name}, ${p.x}: ${fmt(p.y)}${finite(p.lo) ? ` (90% band ${interval(p.lo, p.hi, 1)})` : ""}` })));
      }
    });
    return sv("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label || "line chart" }, g);
  }

  function classes(values) {
    const v = values.filter(finite);
    if (!v.length) return { breaks: [], color: () => NODATA };
    let lo = Math.floor(Math.min(...v) / 5) * 5, hi = Math.ceil(Math.max(...v) / 5) * 5;
    if (hi === lo) hi = lo + 5;
    const n = PALETTE.length, w = Math.max(1, Math.ceil((hi - lo) / n));
    const breaks = PALETTE.map((c, i) => ({ color: c, from: lo + i * w, to: Math.min(100, lo + (i + 1) * w) }));
    const color = (x) => finite(x) ? PALETTE[Math.min(n - 1, Math.max(0, Math.floor((x - lo) / w)))] : NODATA;
    return { breaks, color };
  }

  // Equal Earth projection (Šavrič, Patterson & Jenny 2018)
  function equalEarth(lon, lat) {
    const A1 = 1.340264, A2 = -0.081106, A3 = 0.000893, A4 = 0.003796, M = Math.sqrt(3) / 2;
    const l = lon * Math.PI / 180, p = lat * Math.PI / 180;
    const th = Math.asin(M * Math.sin(p)), t2 = th * th, t6 = t2 * t2 * t2;
    const x = l * Math.cos(th) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)));
    const y = th * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
    return [x, -y];
  }

  // ------------------------------------------------------------------ shared: countries
  let countriesPromise = null;
  function countries() {
    if (!countriesPromise) countriesPromise = api("/countries").catch(() => []);
    return countriesPromise;
  }
  function resolveCountry(list, text) {
    const t = (text || "").trim();
    if (!t) return null;
    const up = t.toUpperCase();
    const m = t.match(/\(([A-Za-z]{3})\)\s*$/);
    if (m) return m[1].toUpperCase();
    if (list.some((c) => c.iso3 === up)) return up;
    const low = t.toLowerCase();
    const exact = list.find((c) => c.name.toLowerCase() === low);
    if (exact) return exact.iso3;
    const starts = list.filter((c) => c.name.toLowerCase().startsWith(low));
    return starts.length === 1 ? starts[0].iso3 : null;
  }
  function pickedCountry(list, text) {
    const t = (text || "").trim();
    const m = t.match(/\(([A-Za-z]{3})\)\s*$/);
    const code = m ? m[1].toUpperCase() : t.toUpperCase();
    return list.some((c) => c.iso3 === code) ? code : null;
  }
  async function setupGoto() {
    const form = document.getElementById("goto-form"), dl = document.getElementById("country-list");
    const list = await countries();
    dl.replaceChildren(...list.map((c) => el("option", { value: `${c.name} (${c.iso3})` })));
    // a choice from the list ("Kenya (KEN)") or a code goes straight to the page; any other
    // text goes to the server's search (/country?q=), which opens the one country it
    // means or lets the reader choose among several ("Korea")
    form.addEventListener("submit", (ev) => {
      const code = pickedCountry(list, document.getElementById("goto").value);
      if (code) { ev.preventDefault(); location.href = `/country/${code}`; }
    });
  }

  // ------------------------------------------------------------------ map page: years and data age
  // the year selector: "Latest data" (the most recent year that ranks countries), then
  // every year that ranks, newest first; ?year=2015 or ?year=latest in the address
  function yearOptions(sel, years) {
    const ranked = (years.ranked_years || []).slice().reverse();
    const latest = years.latest_year ?? ranked[0];
    const now = new Date().getFullYear();
    const opts = [];
    if (finite(latest)) {
      opts.push(el("option", { value: "latest", text: `Latest data: ${latest} (${ago(now - latest)})` }));
    }
    for (const y of ranked) opts.push(el("option", { value: y, text: y === years.default_year ? `${y} (default)` : String(y) }));
    sel.replaceChildren(...opts);
    const asked = new URLSearchParams(location.search).get("year");
    const ok = asked === "latest" ? finite(latest) : ranked.includes(Number(asked));
    sel.value = ok ? asked : String(years.default_year);
    return (choice) => choice === "latest" ? latest : Number(choice);
  }
  function ago(n) { return n <= 0 ? "this year" : `${n} year${n === 1 ? "" : "s"} ago`; }
  function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }
  function median(v) {
    const s = v.filter(finite).map(Number).sort((a, b) => a - b);
    if (!s.length) return NaN;
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }
  // "Data: release ...; median indicator age ...; oldest number ...; what the policy allows"
  async function dataAge(year, latestMode, years) {
    const box = document.getElementById("data-age");
    if (!box) return;
    const release = box.dataset.release;
    let cov;
    try { cov = await api(`/indices/hsi/coverage?year=${encodeURIComponent(year)}`); }
    catch (err) { box.textContent = plainError(err, "The age of the data"); return; }
    const rows = cov.indicators || [];
    const med = median(rows.map((r) => r.median_age));
    const oldest = Math.min(...rows.map((r) => r.oldest).filter(finite));
    const byAge = {};
    let windows = 0, windowYears = 0;
    for (const r of rows) {
      if (r.policy === "window_mean") { windows += 1; windowYears = r.max_age_allowed + 1; continue; }
      if (finite(r.max_age_allowed)) byAge[r.max_age_allowed] = (byAge[r.max_age_allowed] || 0) + 1;
    }
    const limits = Object.keys(byAge).map(Number).sort((a, b) => a - b)
      .map((a) => `${plural(a, "year")} (${plural(byAge[a], "indicator")})`);
    const parts = [];
    const now = new Date().getFullYear();
    if (latestMode) {
      const c = (years.coverage || []).find((x) => x.year === year);
      parts.push(`Latest data: ${year} is the most recent year in which the index ranks countries` +
        (c ? ` (${c.ranked} countries; ${fmt(100 * c.fresh_share, 0)}% of the indicators have a number from ${year - 1} or ${year} for most of them)` : "") +
        `, ${ago(now - year)}.` +
        (year === years.default_year ? " It is also the default year."
          : ` The default year, ${years.default_year}, is the latest with enough fresh data for most countries; this one rests on fewer or older numbers.`));
    }
    parts.push(`Data: ${release || "the current data"}. Numbers behind the ${year} index: median indicator age ${finite(med) ? plural(med, "year") : "unknown"}` +
      (finite(oldest) ? `; the oldest number used is from ${oldest} (${plural(year - oldest, "year")} before ${year})` : "") + ".");
    if (limits.length) {
      parts.push(`The index's missing-data policy allows numbers up to ${limits.slice(0, -1).join(", ")}${limits.length > 1 ? " or " : ""}${limits[limits.length - 1]} older than the year` +
        (windows ? `; ${plural(windows, "indicator")} ${windows === 1 ? "is a" : "are"} ${windowYears}-year mean${windows === 1 ? "" : "s"}.` : "."));
    }
    if (!latestMode && finite(years.latest_year) && years.latest_year > year) {
      parts.push(`Newer numbers: choose “Latest data” (${years.latest_year}).`);
    }
    box.textContent = parts.join(" ");
  }

  // ------------------------------------------------------------------ map page
  async function mapPage() {
    const measureSel = document.getElementById("measure"), yearSel = document.getElementById("year");
    const svg = document.getElementById("map"), legend = document.getElementById("legend");
    const summary = document.getElementById("map-summary"), tip = document.getElementById("tooltip");
    const dl = document.getElementById("dl-ranking");
    let geo, years, reg;
    try {
      [geo, years, reg] = await Promise.all([
        fetch("/web/world.geojson").then((r) => { if (!r.ok) throw new Error(`map outlines: HTTP ${r.status}`); return r.json(); }),
        api("/indices/hsi/years"), countries()]);
    } catch (err) { summary.textContent = plainError(err, "The map"); summary.className = "lead error"; return; }
    const yearOf = yearOptions(yearSel, years);

    // project once
    const shapes = [];
    let minx = Infinity, maxx = -Infinity, miny = Infinity, maxy = -Infinity;
    for (const f of geo.features) {
      if (f.id === "ATA") continue;
      const rings = [];
      for (const poly of f.geometry.coordinates) for (const ring of poly) {
        const pts = ring.map(([lon, lat]) => equalEarth(lon, lat));
        for (const [x, y] of pts) { minx = Math.min(minx, x); maxx = Math.max(maxx, x); miny = Math.min(miny, y); maxy = Math.max(maxy, y); }
        rings.push(pts);
      }
      shapes.push({ id: f.id, name: f.properties.name, rings });
    }
    const W = 1000, pad = 6, k = (W - 2 * pad) / (maxx - minx), H = Math.ceil((maxy - miny) * k + 2 * pad);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const P = ([x, y]) => `${((x - minx) * k + pad).toFixed(1)},${((y - miny) * k + pad).toFixed(1)}`;
    for (const s of shapes) s.d = s.rings.map((r) => "M" + r.map(P).join("L") + "Z").join("");
    const withShape = new Set(shapes.map((s) => s.id));
    const where = Object.fromEntries(reg.map((c) => [c.iso3, c]));

    function showTip(ev, text) {
      tip.textContent = text; tip.hidden = false;
      const r = ev.target.getBoundingClientRect ? ev.target.getBoundingClientRect() : null;
      const x = ev.clientX ?? (r ? r.left + r.width / 2 : 0), y = ev.clientY ?? (r ? r.top : 0);
      tip.style.left = `${Math.min(window.innerWidth - 260, x + 12)}px`; tip.style.top = `${Math.max(0, y - 36)}px`;
    }
    const hideTip = () => { tip.hidden = true; };

    let data = null;
    async function load() {
      summary.textContent = "Loading…";
      const choice = yearSel.value, year = yearOf(choice);
      const url = new URL(location.href);
      if (Number(choice) === years.default_year) url.searchParams.delete("year"); else url.searchParams.set("year", choice);
      history.replaceState(null, "", url.pathname + url.search + url.hash);
      try { data = await api(`/indices/hsi/ranking?year=${encodeURIComponent(year)}`); }
      catch (err) { summary.textContent = plainError(err, `The ranking for ${year}`); summary.className = "lead error"; return; }
      summary.className = "lead";
      dataAge(data.year, choice === "latest", years);
      const keep = measureSel.value || "hsi";
      measureSel.replaceChildren(el("option", { value: "hsi", text: data.title || "Human Security Index" }),
        ...data.dimensions.map((d) => el("option", { value: d.code, text: d.name })));
      measureSel.value = [...measureSel.options].some((o) => o.value === keep) ? keep : "hsi";
      dl.href = `${API}/indices/hsi/ranking?year=${encodeURIComponent(data.year)}&format=csv`;
      draw();
    }
    function draw() {
      const m = measureSel.value, label = measureSel.options[measureSel.selectedIndex].text;
      const key = m === "hsi" ? "score" : m;
      const by = Object.fromEntries(data.countries.map((c) => [c.unit, c]));
      const notRanked = data.not_ranked || [];
      const unranked = Object.fromEntries(notRanked.map((c) => [c.unit, c]));
      const cls = classes(data.countries.map((c) => c[key]));
      const nodes = [];
      for (const s of shapes) {
        const c = by[s.id];
        if (!c && unranked[s.id]) {  // a UN member state without a score: a link to why
          const u = unranked[s.id], text = `${u.name}: not ranked in ${data.year} — ${shortReason(u)}`;
          const a = sv("a", { href: `/country/${u.unit}`, "aria-label": text, "data-not-ranked": u.unit },
            sv("path", { d: s.d, class: "nodata" }));
          a.addEventListener("mousemove", (ev) => showTip(ev, text)); a.addEventListener("focus", (ev) => showTip(ev, text));
          a.addEventListener("mouseleave", hideTip); a.addEventListener("blur", hideTip);
          nodes.push(a);
          continue;
        }
        if (!c || !finite(c[key])) { nodes.push(sv("path", { d: s.d, class: "nodata", "aria-hidden": "true" })); continue; }
        const text = `${c.name}: ${label} ${fmt(c[key])}` + (m === "hsi" ? `, rank ${c.rank} of ${data.countries.length}` +
          (finite(c.rank_q05) ? ` (90% interval ${interval(c.rank_q05, c.rank_q95)})` : "") : "");
        const a = sv("a", { href: `/country/${c.unit}`, "aria-label": text, "data-unit": c.unit },
          sv("path", { d: s.d, fill: cls.color(c[key]) }));
        a.addEventListener("mousemove", (ev) => showTip(ev, text));
        a.addEventListener("focus", (ev) => showTip(ev, text));
        a.addEventListener("mouseleave", hideTip); a.addEventListener("blur", hideTip);
        nodes.push(a);
      }
      // scored countries too small for the outlines: a dot at the capital
      for (const c of data.countries) {
        if (withShape.has(c.unit) || !where[c.unit] || !finite(where[c.unit].lat) || !finite(c[key])) continue;
        const [x, y] = P(equalEarth(where[c.unit].lon, where[c.unit].lat)).split(",").map(Number);
        const text = `${c.name}: ${label} ${fmt(c[key])}`;
        const a = sv("a", { href: `/country/${c.unit}`, "aria-label": text, "data-unit": c.unit },
          sv("circle", { cx: x, cy: y, r: 3.2, fill: cls.color(c[key]) }));
        a.addEventListener("mousemove", (ev) => showTip(ev, text)); a.addEventListener("focus", (ev) => showTip(ev, text));
        a.addEventListener("mouseleave", hideTip); a.addEventListener("blur", hideTip);
        nodes.push(a);
      }
      svg.replaceChildren(sv("title", { text: `${label}, ${data.year}` }), ...nodes);
      legend.replaceChildren(el("span", { text: `${label}, ${data.year} (0–100; darker = more secure):` }),
        ...cls.breaks.map((b) => el("span", {}, el("span", { class: "sw", style: `background:${b.color}` }), `${fmt(b.from, 0)}–${fmt(b.to, 0)}`)),
        el("span", {}, el("span", { class: "sw", style: `background:${NODATA}` }), "no score or not ranked"));
      const sorted = data.countries.filter((c) => finite(c[key])).sort((a, b) => b[key] - a[key]);
      summary.textContent = `${label}, ${data.year}: ${sorted.length} countries scored` +
        (sorted.length ? `; highest ${sorted[0].name} (${fmt(sorted[0][key])}), lowest ${sorted[sorted.length - 1].name} (${fmt(sorted[sorted.length - 1][key])})` : "") +
        `. Rank intervals from ${data.runs} uncertainty runs.` +
        (notRanked.length ? ` ${notRanked.length} UN member state${notRanked.length === 1 ? " is" : "s are"} not ranked for lack of data (listed below the ranking).` : "");
      const dimName = Object.fromEntries(data.dimensions.map((d) => [d.code, d.name.replace(/ security$/, "")]));
      const cols = [
        { key: "rank", label: "Rank", num: true, nd: 0 },
        { key: "name", label: "Country", render: (r) => el("a", { href: `/country/${r.unit}`, text: r.name }) },
        { key: "score", label: "HSI", num: true },
        { key: "rank_q05", label: "Rank 90% interval", num: true, render: (r) => interval(r.rank_q05, r.rank_q95) },
        ...data.dimensions.map((d) => ({ key: d.code, label: d.name.replace(/ security$/, ""), num: true })),
        { key: "severe", label: "Severe threats", render: (r) => (r.severe || "").split(", ").filter(Boolean).map((d) => dimName[d] || d).join(", ") },
      ];
      document.getElementById("ranking-table").replaceChildren(table(cols, data.countries, {
        caption: `${data.title}, ${data.year}: ranking of ${data.countries.length} countries (select a column heading to sort)`,
        sortable: true }));
      const nrBox = document.getElementById("not-ranked-table");
      if (nrBox) {
        document.getElementById("not-ranked-intro").textContent = notRanked.length
          ? `${notRanked.length} UN member state${notRanked.length === 1 ? " has" : "s have"} no ${data.title || "index"} score for ${data.year}. ` +
            `The index ranks a country only when at least ${notRanked[0].needed} of its indicators have a recent enough number, with at least one in every dimension. Each country is listed with what it lacks.`
          : `Every UN member state is ranked in ${data.year}.`;
        nrBox.replaceChildren(notRanked.length ? table([
          { key: "name", label: "Country", render: (r) => el("a", { href: `/country/${r.unit}`, text: r.name }) },
          { key: "reason", label: "Why it is not ranked", render: (r) => sentence(shortReason(r)) },
          { key: "available", label: "Indicators with data", num: true, render: (r) => `${r.available} (${r.needed} needed)` },
          { key: "missing_indicator_names", label: "Missing indicators",
            render: (r) => r.available ? split(r.missing_indicator_names).join(", ") : "all of them" }],
        notRanked, { caption: `Not ranked in ${data.year}` }) : "");
      }
    }
    measureSel.addEventListener("change", draw);
    yearSel.addEventListener("change", load);
    watchlist();
    await load();
  }

  async function watchlist(top = 20) {
    if (!document.getElementById("watchlist")) return;
    try {
      const r = await api("/watchlist");
      const rows = r.countries.slice(0, top).map((c) => Object.assign({}, c, { pct: 100 * c.probability }));
      fill("watchlist", note(`${r.n_countries} countries forecast for ${r.window} with the data of ${r.data_year}; ` +
        `${r.n_warnings} with a warning (relative risk at or above the threshold). The ${rows.length} most likely:`),
        table([
          { key: "rank", label: "Rank", num: true, nd: 0 },
          { key: "name", label: "Country", render: (c) => el("a", { href: `/country/${c.unit}`, text: c.name }) },
          { key: "pct", label: "Probability (%)", num: true, nd: 0 },
          { key: "relative_risk", label: "Relative risk", num: true, nd: 2 },
          { key: "status", label: "Now" },
          { key: "drivers", label: "Main drivers", render: (c) => sentence(c.drivers.slice(0, 2).join("; ")) || "–" }],
        rows, { caption: `Conflict watch list for ${r.window}`, sortable: true }));
    } catch (err) { failed("watchlist", err, "Forecasts"); }
  }

  // ------------------------------------------------------------------ country page
  async function countryPage() {
    const iso3 = document.body.dataset.iso3;
    const headline = document.getElementById("headline");
    const q = `/countries/${iso3}`;
    const severeBelow = Number(document.body.dataset.severe || 25);
    const tasks = [];
    let a = null, nr = null;
    try {
      a = await api(`${q}/assessment`);
      const iv = finite(a.rank_interval[0]) ? ` (90% interval ${interval(a.rank_interval[0], a.rank_interval[1])})` : "";
      const severe = a.dimensions.filter((d) => d.severe);
      headline.textContent = `Human Security Index ${fmt(a.score)} out of 100 in ${a.year}: rank ${fmt(a.rank, 0)} of ${a.n_ranked}${iv}. ` +
        `Least secure in ${a.threats.map((t) => `${t.name.toLowerCase()} (${fmt(t.score, 0)})`).join(", ")}.` +
        (severe.length ? ` Severe threat${severe.length === 1 ? "" : "s"} (below ${fmt(severeBelow, 0)}): ${severe.map((d) => `${d.name.toLowerCase()} (${fmt(d.score, 1)})`).join(", ")}.` : "") +
        ` Data coverage ${fmt(a.coverage * 100, 0)}%.`;
      profile(a); threats(a); indicators(a);
    } catch (err) {
      nr = err && err.body && err.body.not_ranked ? Object.assign({ year: err.body.year }, err.body.not_ranked) : null;
      if (nr) notRanked(nr);
      else {
        headline.textContent = plainError(err, "The assessment"); headline.className = "lead error";
        for (const id of ["profile", "threats", "indicators"]) fill(id, note("No assessment for this country."));
        for (const id of ["dl-pdf", "dl-html"]) { const x = document.getElementById(id); if (x) x.closest("li").remove(); }
      }
      for (const id of ["dl-csv", "dl-json"]) { const x = document.getElementById(id); if (x) x.closest("li").remove(); }
    }
    if (nr) {
      const why = `${nr.name} is not ranked in ${nr.year}, so there are no`;
      fill("trends", note(`${why} index trends.`)); document.querySelector("#trends .controls").remove();
      fill("spill", note(`${why} scores to compare with its neighbours.`));
      fill("peers", note(`${why} scores to find peers with.`));
      tasks.push(groups(q), alerts(q), commitments());
    } else tasks.push(trends(q), groups(q), alerts(q), spill(), peers(q), commitments());
    await Promise.allSettled(tasks);

    function notRanked(r) {
      const missing = split(r.missing_indicator_names);
      headline.textContent = `${r.name} is not ranked in the Human Security Index for ${r.year}: ` +
        (r.available ? `${shortReason(r)}.` : "there are no numbers for it.");
      fill("profile", note(`No dimension scores: the index ranks a country only with numbers for at least ${r.needed} of its indicators, ` +
        `at least one in every dimension. ${r.name} has numbers for ${r.available}.`));
      fill("threats", note("No ranking of threats without an index score. The indicators it does have are in the country's brief."));
      fill("indicators", r.available
        ? [el("p", { text: `${missing.length} indicator${missing.length === 1 ? " has" : "s have"} no recent enough number for ${r.name}:` }),
          el("ul", { class: "missing" }, missing.map((m) => el("li", { text: m })))]
        : note(`There are no numbers for ${r.name} for any of the index's indicators.`));
    }

    function profile(a) {
      const items = a.dimensions.map((d) => ({ label: d.name.replace(/ security$/, "") + (d.severe ? " (severe)" : ""),
        value: d.score, color: d.severe ? SEVERE_COLOR : null }));
      const anySevere = a.dimensions.some((d) => d.severe);
      fill("profile", barChart(items, { label: `Dimension scores of ${a.name}, ${a.year}` }),
        note("Scores 0–100 (higher = more secure), goalposts fixed across countries and years." +
          (anySevere ? ` Red: severe — a dimension scoring below ${fmt(severeBelow, 0)}, whatever the overall index.` : "")),
        behind([{ key: "name", label: "Dimension" }, { key: "score", label: "Score", num: true },
          { key: "severe", label: "Severe", render: (r) => r.severe ? `yes (below ${fmt(severeBelow, 0)})` : "no" },
          { key: "rank", label: "Rank", num: true, nd: 0 },
          { key: "rank_q05", label: "Rank 90% interval", render: (r) => interval(r.rank_q05, r.rank_q95) },
          { key: "available", label: "Indicators with data", render: (r) => `${r.available} of ${r.indicators}` }],
        a.dimensions, `Dimension scores of ${a.name}, ${a.year}`));
    }
    function threats(a) {
      fill("threats",
        el("h3", { text: "Weakest dimensions" }),
        el("ol", {}, a.threats.map((t) => el("li", { text: `${t.name}: score ${fmt(t.score, 0)}, rank ${fmt(t.rank, 0)} of ${a.n_ranked}` }))),
        el("h3", { text: "Weakest indicators" }),
        table([{ key: "name", label: "Indicator" }, { key: "value", label: "Value", num: true, render: (r) => fmtValue(r.value) },
          { key: "unit", label: "Unit" }, { key: "observed", label: "Year", num: true, nd: 0 }, { key: "score", label: "Score", num: true }],
        a.threat_indicators, { caption: "Lowest normalised scores (0–100)" }));
    }
    function indicators(a) {
      const dimName = Object.fromEntries(a.dimensions.map((d) => [d.dimension, d.name.replace(/ security$/, "")]));
      fill("indicators", table([
        { key: "name", label: "Indicator" }, { key: "dimension", label: "Dimension", render: (r) => dimName[r.dimension] || r.dimension },
        { key: "value", label: "Value", num: true, render: (r) => fmtValue(r.value) }, { key: "unit", label: "Unit" },
        { key: "observed", label: "Year observed", num: true, nd: 0 },
        { key: "age", label: "Age (years)", num: true, nd: 0 },
        { key: "how", label: "How", render: (r) => howText(r.how) }, { key: "score", label: "Score", num: true },
        { key: "source", label: "Source", render: (r) => `${r.source}${r.edition ? ` (${r.edition})` : ""}` },
        { key: "licence", label: "Licence" }], a.indicators,
      { caption: `${a.indicators.length} indicators of the index for ${a.name}: the latest number at or before ${a.year}, its year and age`, sortable: true }));
    }
    async function trends(q) {
      const sel = document.getElementById("trend-node");
      try {
        const t = await api(`${q}/trends`);
        const nodes = Object.keys(t.node_names);
        sel.replaceChildren(...nodes.map((n) => el("option", { value: n, text: t.node_names[n] })));
        const draw = () => {
          const n = sel.value;
          const pts = t.series.filter((p) => p.node === n).map((p) => ({ x: p.year, y: p.score, lo: p.score_q05, hi: p.score_q95 }));
          const dt = t.dimension_trends.find((d) => d.node === n);
          const name = t.node_names[n];
          fill("trends", lineChart([{ name, points: pts, color: SERIES[0] }], { label: `${name} of ${iso3}, ${t.first_year}–${t.year}, with 90% uncertainty band` }),
            note(`Shaded: 5th–95th percentile of the score over the uncertainty runs on the index's own scale ` +
              `(of ${t.band_runs} runs per year; runs with percentile-rank normalisation count in the rank intervals only).` +
              (dt && dt.progress !== "insufficient_data" ? ` Since ${dt.base_year}: ${dt.arrow} ${dt.progress_label.toLowerCase()}.` : "")),
            behind([{ key: "x", label: "Year" }, { key: "y", label: "Score", num: true },
              { key: "lo", label: "5th percentile", num: true }, { key: "hi", label: "95th percentile", num: true }], pts, `${name}: history`),
            el("h3", { text: "Progress of the index and its dimensions" }),
            table([{ key: "name", label: "Score" }, { key: "arrow", label: "Trend", render: (r) => `${r.arrow} ${r.trend.replace(/_/g, " ")}` },
              { key: "progress_label", label: "Progress (Open SDG rule)" },
              { key: "base_value", label: "Base", num: true }, { key: "latest_value", label: "Latest", num: true },
              { key: "base_year", label: "Period", render: (r) => finite(r.base_year) ? `${r.base_year}–${r.latest_year}` : "–" }],
            t.dimension_trends, { caption: "Trend arrows (SDR method) and progress status" }));
        };
        sel.onchange = draw;
        draw();
      } catch (err) { failed("trends", err, "Trends"); }
    }
    async function groups(q) {
      try {
        const g = await api(`${q}/groups`);
        const parts = [];
        const lb = g.left_behind;
        if (lb && lb.summary.length) parts.push(note(lb.summary.join(" ")));
        if (lb && lb.rows.length) {
          parts.push(table([{ key: "group", label: "Group" }, { key: "name", label: "Indicator" },
            { key: "year", label: "Year", num: true, nd: 0 }, { key: "comparison", label: "Compared" },
            { key: "focal_value", label: "Focal", num: true }, { key: "reference_value", label: "Reference", num: true },
            { key: "value", label: "Value", num: true },
            { key: "parity", label: "Parity index (F/M)", num: true, nd: 2 }, { key: "ratio", label: "Ratio", num: true, nd: 2 },
            { key: "behind", label: "Behind" }],
          lb.rows, { caption: `Groups, ${lb.year} or earlier. Parity index = female value / male value; "Behind" is direction-aware: where lower is better (homicide, mortality) the group with the higher value is behind` }));
        } else if (g.gaps.length) {
          parts.push(table([{ key: "comparison", label: "Groups" }, { key: "indicator", label: "Indicator" },
            { key: "year", label: "Year", num: true, nd: 0 }, { key: "focal_value", label: "Focal", num: true },
            { key: "reference_value", label: "Reference", num: true }, { key: "ratio", label: "Ratio (focal/reference)", num: true, nd: 2 },
            { key: "behind", label: "Behind" }],
          g.gaps, { caption: "Gaps between groups (behind is direction-aware)" }));
        } else parts.push(note("No indicators broken down by sex, age, disability, migrant status or area for this country."));
        if (lb && lb.missing.length) {
          parts.push(table([{ key: "group", label: "Group" }, { key: "name", label: "Indicator" }, { key: "reason", label: "Why not shown" }],
            lb.missing, { caption: "What the release cannot show for this country" }));
        }
        const fbRows = lb ? lb.furthest_behind : g.furthest_behind;
        if (fbRows.length) {
          // indicator names, not codes: from the rows shown above (else the code, with _ as spaces)
          const names = Object.fromEntries(((lb && lb.rows) || []).concat((lb && lb.missing) || []).map((r) => [r.indicator, r.name.replace(/ \(.*\)$/, "")]));
          const indName = (c) => names[c] || String(c || "–").replace(/_/g, " ");
          parts.push(table([
            { key: "rank", label: "Rank", num: true, nd: 0 },
            { key: "label", label: "Group", render: (r) => sentence(r.label || String(r.population_group || "").replace(/_/g, " ")) },
            { key: "mean_shortfall", label: "Mean shortfall (0–1)", num: true, nd: 2 },
            { key: "n_indicators", label: "Indicators compared", num: true, nd: 0 },
            { key: "worst_indicator", label: "Widest gap", render: (r) => indName(r.worst_indicator) },
            { key: "worst_value", label: "Its value", num: true, render: (r) => fmtValue(r.worst_value) },
            { key: "best_group_value", label: "Best-off group", num: true, render: (r) => fmtValue(r.best_group_value) },
            { key: "years", label: "Years" }],
          fbRows, { caption: "Furthest behind: mean shortfall from the best-off group on 0–1 scores (0 = not behind)" }));
        }
        if (g.demography) {
          const rows = Object.entries(g.demography).filter(([k]) => !["unit", "year"].includes(k)).map(([k, v]) => ({ measure: k.replace(/_/g, " "), value: v }));
          parts.push(table([{ key: "measure", label: "Measure" }, { key: "value", label: "Value", num: true, render: (r) => fmtValue(r.value) }],
            rows, { caption: `Demography of vulnerability, ${g.demography.year} (UN WPP 2024)` }));
        }
        fill("groups", parts);
      } catch (err) { failed("groups", err, "Group data"); }
    }
    async function alerts(q) {
      try {
        const r = await api(`${q}/alerts`);
        if (!r.alerts.length) { fill("alerts", note(`No alert in ${r.year} (${r.rules.length} rules checked).`)); return; }
        fill("alerts", el("ul", {}, r.alerts.map((x) => el("li", {},
          el("span", { class: `badge sev-${x.severity}`, text: x.severity }), ` ${x.title}: ${x.reason}`))));
      } catch (err) { failed("alerts", err, "Alerts"); }
    }
    async function spill() {
      try {
        const s = await api(`/spill/${iso3}`);
        const names = s.node_names || {};
        const items = [];
        for (const r of s.exposure) {
          const label = (names[r.threat] || r.threat).replace(/ security$/, "");
          items.push({ group: label, label: "own", value: r.own, color: SERIES[0] });
          items.push({ group: label, label: "neighbours", value: r.neighbours, color: SERIES[1] });
        }
        const evidence = s.evidence.length ? el("ul", {}, s.evidence.map((e) => el("li", { text: e }))) : note("No rising threat shared with neighbours.");
        fill("spill", barChart(items, { label: `Own scores and neighbours' mean score per dimension, ${s.year}`, groupLabels: true, barH: 12, gap: 3, groupGap: 6, left: 120 }),
          el("p", { class: "note" }, el("span", { class: "sw", style: `background:${SERIES[0]}` }), " own score; ", el("span", { class: "sw", style: `background:${SERIES[1]}` }), ` neighbours' mean (${s.graph}).`),
          behind([{ key: "threat", label: "Dimension", render: (r) => names[r.threat] || r.threat }, { key: "own", label: "Own", num: true },
            { key: "neighbours", label: "Neighbours", num: true },
            { key: "worst_neighbour", label: "Worst neighbour", render: (r) => r.worst_neighbour ? `${(s.names || {})[r.worst_neighbour] || r.worst_neighbour} (${fmt(r.worst_score)})` : "–" },
            { key: "gap", label: "Gap", num: true }], s.exposure, `Exposure to neighbours, ${s.year}`),
          el("h3", { text: `Rising threats shared with neighbours since ${s.base_year}` }), evidence);
      } catch (err) { const nr = notRankedNote(err, "scores to compare with its neighbours"); if (nr) fill("spill", nr); else failed("spill", err, "Spill-overs"); }
    }
    async function peers(q) {
      try {
        const p = await api(`${q}/peers`);
        fill("peers",
          table([{ key: "name", label: "Country", render: (r) => el("a", { href: `/country/${r.unit}`, text: r.name }) },
            { key: "distance", label: "Distance", num: true, nd: 2 }], p.similar, { caption: `Most similar dimension profiles, ${p.year}` }),
          el("p", { text: `${p.threat_name}: ${iso3} changed by ${finite(p.unit_change) ? (p.unit_change >= 0 ? "+" : "") + fmt(p.unit_change) : "–"} points since ${p.base_year}.` }),
          table([{ key: "name", label: "Country", render: (r) => el("a", { href: `/country/${r.unit}`, text: r.name }) },
            { key: "before", label: String(p.base_year), num: true }, { key: "after", label: String(p.year), num: true },
            { key: "change", label: "Change", num: true }], p.positive_deviants,
          { caption: `Positive deviants on ${p.threat_name}: similar in ${p.base_year}, improved most` }));
      } catch (err) { const nr = notRankedNote(err, "scores to find peers with"); if (nr) fill("peers", nr); else failed("peers", err, "Peers"); }
    }
    async function commitments() {
      const token = sessionStorage.getItem("humsec-token");
      const form = () => {
        const input = el("input", { id: "token", type: "password", autocomplete: "off", size: 30 });
        return el("form", { class: "controls", onsubmit: (ev) => { ev.preventDefault(); sessionStorage.setItem("humsec-token", input.value.trim()); commitments(); } },
          el("label", { for: "token", text: "API token (viewer role)" }), input, el("button", { type: "submit", text: "Show commitments" }));
      };
      if (!token) { fill("commitments", note("Commitments are read with an API token (kept in this browser tab only)."), form()); return; }
      try {
        const list = await api(`/commitments?unit=${iso3}`, { headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
        if (!list.length) { fill("commitments", note("No commitment with a target in this country.")); return; }
        const rows = list.flatMap((c) => (c.status || []).filter((s) => s.unit === iso3).map((s) => ({ title: c.value.title, ...s })));
        fill("commitments", table([{ key: "title", label: "Commitment" }, { key: "indicator", label: "Indicator" },
          { key: "label", label: "Status", render: (r) => el("span", { class: `st-${r.status}`, title: r.note || "", text: r.label }) },
          { key: "latest_value", label: "Latest", num: true, render: (r) => fmtValue(r.latest_value) },
          { key: "target_value", label: "Target", num: true, render: (r) => fmtValue(r.target_value) }, { key: "deadline", label: "Deadline" }],
        rows, { caption: "Commitments and the status of their targets" }));
      } catch (err) {
        if (err.status === 401 || err.status === 403) {
          sessionStorage.removeItem("humsec-token");
          fill("commitments", note(err.status === 401 ? "The token was not accepted (unknown or missing). Ask the observatory's administrator for a token with the viewer role."
            : "This token may not read commitments: it needs the viewer role or higher.", "error"), form());
        }
        else failed("commitments", err, "Commitments");
      }
    }
  }

  // ------------------------------------------------------------------ compare page
  async function comparePage() {
    const params = new URLSearchParams(location.search);
    let chosen = (params.get("units") || "KEN,UGA,TZA,RWA").split(",").map((s) => s.trim().toUpperCase()).filter((s) => /^[A-Z]{3}$/.test(s)).slice(0, 8);
    const list = await countries();
    const form = document.getElementById("compare-form"), input = document.getElementById("compare-add");
    const chips = document.getElementById("chosen"), fig = document.querySelector("#compare-figure .body");
    let data;
    try { data = await api("/indices/hsi/ranking"); }
    catch (err) { fig.replaceChildren(note(plainError(err, "The ranking"), "error")); return; }
    const by = Object.fromEntries(data.countries.map((c) => [c.unit, c]));
    const nameOf = (u) => (by[u] && by[u].name) || (list.find((c) => c.iso3 === u) || {}).name || u;
    function draw() {
      history.replaceState(null, "", `/compare?units=${chosen.join(",")}`);
      chips.replaceChildren(...chosen.map((u, i) => el("li", {},
        el("span", { class: "dot", style: `background:${SERIES[i % SERIES.length]}` }), nameOf(u),
        el("button", { type: "button", "aria-label": `Remove ${nameOf(u)}`, text: "×", onclick: () => { chosen = chosen.filter((x) => x !== u); draw(); } }))));
      const dl = document.getElementById("dl-compare");
      dl.href = `${API}/indices/hsi/ranking?format=csv&year=${data.year}` + chosen.map((u) => `&unit=${u}`).join("");
      const rows = chosen.map((u) => by[u]).filter(Boolean);
      const missing = chosen.filter((u) => !by[u]);
      const items = [];
      for (const d of [{ code: "score", name: "Human Security Index" }, ...data.dimensions]) {
        chosen.forEach((u, i) => { if (by[u]) items.push({ group: d.name.replace(/ security$/, ""), label: nameOf(u), value: by[u][d.code], color: SERIES[i % SERIES.length] }); });
      }
      fig.replaceChildren(rows.length ? barChart(items, { label: `Scores of ${rows.map((r) => r.name).join(", ")}, ${data.year}`, groupLabels: true, barH: 11, gap: 2, groupGap: 8, left: 150 })
        : note("Choose at least one country with a score."),
      missing.length ? note(`No ${data.year} score for: ${missing.map(nameOf).join(", ")}.`) : "");
      document.getElementById("compare-table").replaceChildren(table([
        { key: "name", label: "Country", render: (r) => el("a", { href: `/country/${r.unit}`, text: r.name }) },
        { key: "score", label: "HSI", num: true }, { key: "rank", label: "Rank", num: true, nd: 0 },
        { key: "rank_q05", label: "Rank 90% interval", render: (r) => interval(r.rank_q05, r.rank_q95) },
        ...data.dimensions.map((d) => ({ key: d.code, label: d.name.replace(/ security$/, ""), num: true }))],
      rows, { caption: `Scores in ${data.year} (0–100, higher = more secure)`, sortable: true }));
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const code = resolveCountry(list, input.value);
      if (code && !chosen.includes(code) && chosen.length < 8) { chosen.push(code); input.value = ""; draw(); }
      else input.setCustomValidity(code ? "Already chosen (at most 8)" : "Unknown country"), input.reportValidity(), input.setCustomValidity("");
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupGoto();
    if (PAGE === "map") mapPage();
    else if (PAGE === "country") countryPage();
    else if (PAGE === "compare") comparePage();
  });
})();
