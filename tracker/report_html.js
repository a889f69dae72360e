// report_html.js — draws a ksearch study report from the JSON embedded in the page
// (<script id="ks-data">): every plot is inline SVG made here, with hovering, a
// selected trial highlighted in every view, and a sortable, paged trials table.
// Plain JavaScript, no libraries, no network.  Embedded into the page by
// tracker/report_html_assets.c (regenerate it with tracker/embed_assets.sh).
'use strict';
(function () {
  const D = JSON.parse(document.getElementById('ks-data').textContent);
  const SVG = 'http://www.w3.org/2000/svg';
  const T = D.trials, N = T.number.length, P = D.params;
  const maximize = D.study.goal === 'maximize';
  const metric = D.study.metric;
  const plots = [];            // every plot: {svg, points, overlay, draw selection}
  let selected = -1;           // index of the selected trial, or -1

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, parent, text) {
    const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '—';
    if (typeof v !== 'number') return String(v);
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return Number(v.toPrecision(3)).toExponential().replace('e+', 'e');
    return String(Number(v.toPrecision(4)));
  }
  function fmtTime(s) {
    if (s === null || s === undefined) return '—';
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(2) + ' h';
  }
  function finite(v) { return typeof v === 'number' && Number.isFinite(v); }
  // [min, max] of the finite numbers of a (loops: arrays may be too long to spread)
  function extent(a) {
    let lo = Infinity, hi = -Infinity;
    for (const v of a) if (finite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    return lo <= hi ? [lo, hi] : [0, 1];
  }
  function section(id) { return document.getElementById(id); }
  function note(parent, text) { return el('p', {class: 'note'}, parent, text); }
  function caption(parent, text) { return el('p', {class: 'caption'}, parent, text); }
  const better = (a, b) => maximize ? a > b : a < b;

  // A colour for t in [0, 1] (viridis-like: dark purple → yellow).
  const STOPS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  function colour(t) {
    t = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(t)), f = t - i, a = STOPS[i], b = STOPS[i + 1];
    return 'rgb(' + [0, 1, 2].map(k => Math.round(a[k] + f * (b[k] - a[k]))).join(',') + ')';
  }
  const BUCKETS = 12;          // colour buckets: one SVG path each, not one per trial

  // Objective → [0, 1], 1 the best, over the trials that have one.
  const objs = T.objective.filter(finite);
  const [oMin, oMax] = extent(objs);
  const indexOf = new Map(T.number.map((n, i) => [n, i]));   // trial number → row
  function goodness(v) {
    if (!finite(v) || oMax === oMin) return 1;
    const t = (v - oMin) / (oMax - oMin);
    return maximize ? t : 1 - t;
  }
  function paramValue(p, i) { return T.params[p][i]; }
  function trialLabel(i) {
    const parts = ['trial ' + T.number[i] + ' (' + T.status[i] + ')',
      metric + ' ' + fmt(T.objective[i])];
    P.forEach((p, k) => parts.push(p.name + ' = ' + fmt(paramValue(k, i))));
    return parts.join('\n');
  }

  // ------------------------------------------------------------------ scales
  // A scale maps values to pixels: linear, log10, or categories spread evenly.
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const step0 = (hi - lo) / n, p = Math.pow(10, Math.floor(Math.log10(step0)));
    const m = step0 / p, step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function scale(kind, domain, r0, r1, integer) {
    const s = {kind: kind, r0: r0, r1: r1};
    if (kind === 'cat') {
      s.cats = domain;
      const n = domain.length;
      s.index = v => domain.findIndex(c => c === v);
      s.map = v => {
        const k = s.index(v);
        return k < 0 ? NaN : n === 1 ? (r0 + r1) / 2 : r0 + (r1 - r0) * (k + 0.5) / n;
      };
      s.ticks = () => domain.map((c, k) => [s.map(c), fmt(c)]);
      return s;
    }
    let lo = domain[0], hi = domain[1];
    if (kind === 'log') { lo = Math.log10(lo); hi = Math.log10(hi); }
    if (!(hi > lo)) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
    const f = kind === 'log' ? v => Math.log10(v) : v => v;
    // a parameter a trial does not have (inactive: null) has no place (null - lo would be -lo)
    s.map = v => typeof v === 'number' ? r0 + (r1 - r0) * (f(v) - lo) / (hi - lo) : NaN;
    s.invert = px => { const u = lo + (px - r0) / (r1 - r0) * (hi - lo); return kind === 'log' ? Math.pow(10, u) : u; };
    s.ticks = () => {
      if (kind === 'log') {
        const out = [];
        for (let e = Math.floor(lo); e <= Math.ceil(hi); e++)
          for (const m of (hi - lo < 2 ? [1, 2, 5] : [1])) {
            const v = m * Math.pow(10, e), u = Math.log10(v);
            if (u >= lo - 1e-9 && u <= hi + 1e-9 && (!integer || v >= 1)) out.push([s.map(v), fmt(v)]);
          }
        return out;
      }
      return niceTicks(lo, hi, 5).filter(v => !integer || v === Math.round(v)).map(v => [s.map(v), fmt(v)]);
    };
    return s;
  }
  // The scale of parameter k along [r0, r1] (log axes where the parameter is log-scaled).
  function paramScale(k, r0, r1) {
    const p = P[k];
    if (p.kind === 'choice') return scale('cat', p.choices, r0, r1);
    const [vlo, vhi] = extent(T.params[k]);
    const lo = p.declared ? Math.min(p.low, vlo) : vlo, hi = p.declared ? Math.max(p.high, vhi) : vhi;
    return scale(p.log && lo > 0 ? 'log' : 'lin', [lo, hi], r0, r1, p.kind === 'int');
  }
  function objectiveScale(r0, r1, vals) {
    const [lo, hi] = extent(vals || objs);
    const pad = (hi - lo) * 0.04 || Math.abs(hi) * 0.04 || 1;
    return scale('lin', [lo - pad, hi + pad], r0, r1);
  }

  // --------------------------------------------------------------- plot frame
  // A plot: an SVG with margins, axes, labels; marks counts what it drew.
  function plot(parent, opt) {
    const W = opt.width || 640, H = opt.height || 340;
    const m = Object.assign({l: 64, r: 16, t: 14, b: 46}, opt.margin || {});
    const svg = el('svg:svg', {viewBox: '0 0 ' + W + ' ' + H, class: 'plot', role: 'img',
      'aria-label': opt.title || ''}, parent);
    const p = {svg: svg, W: W, H: H, m: m, x0: m.l, x1: W - m.r, y0: H - m.b, y1: m.t,
      marks: 0, points: [], label: opt.label || trialLabel};
    p.g = el('svg:g', {}, svg);
    p.overlay = el('svg:g', {class: 'sel'}, svg);
    plots.push(p);
    return p;
  }
  function axes(p, xs, ys, xlabel, ylabel, noGrid) {
    const g = el('svg:g', {class: 'axis'}, p.g);
    el('svg:line', {x1: p.x0, x2: p.x1, y1: p.y0, y2: p.y0}, g);
    el('svg:line', {x1: p.x0, x2: p.x0, y1: p.y0, y2: p.y1}, g);
    if (xs) for (const [x, t] of xs.ticks()) {
      if (!(x >= p.x0 - 0.5 && x <= p.x1 + 0.5)) continue;
      el('svg:line', {x1: x, x2: x, y1: p.y0, y2: p.y0 + 4}, g);
      el('svg:text', {x: x, y: p.y0 + 16, 'text-anchor': 'middle'}, g, t);
    }
    if (ys) for (const [y, t] of ys.ticks()) {
      if (!(y <= p.y0 + 0.5 && y >= p.y1 - 0.5)) continue;
      el('svg:line', {x1: p.x0 - 4, x2: p.x0, y1: y, y2: y}, g);
      if (!noGrid) el('svg:line', {x1: p.x0, x2: p.x1, y1: y, y2: y, class: 'grid'}, g);
      el('svg:text', {x: p.x0 - 7, y: y + 4, 'text-anchor': 'end'}, g, t);
    }
    if (xlabel) el('svg:text', {x: (p.x0 + p.x1) / 2, y: p.H - 8, 'text-anchor': 'middle', class: 'label'}, g, xlabel);
    if (ylabel) el('svg:text', {x: 14, y: (p.y0 + p.y1) / 2, 'text-anchor': 'middle', class: 'label',
      transform: 'rotate(-90 14 ' + (p.y0 + p.y1) / 2 + ')'}, g, ylabel);
  }
  // Dots as one path per style (a zero-length segment with round caps is a dot).
  function dots(p, list, cls, extra) {
    if (!list.length) return;
    let d = '';
    for (const [x, y, i] of list) {
      if (!(finite(x) && finite(y))) continue;
      d += 'M' + x.toFixed(1) + ' ' + y.toFixed(1) + 'h0';
      p.points.push([x, y, i]);
      p.marks++;
    }
    if (d) el('svg:path', Object.assign({d: d, class: 'dots ' + cls}, extra || {}), p.g);
  }
  function finishPlot(p) { p.svg.setAttribute('data-marks', p.marks); }

  // -------------------------------------------------------- hover, selection
  const tip = el('div', {id: 'ks-tip', class: 'tip'}, document.body);
  function svgPoint(svg, ev) {
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const m = svg.getScreenCTM();
    return m ? pt.matrixTransform(m.inverse()) : pt;
  }
  function nearest(p, ev) {
    const q = svgPoint(p.svg, ev);
    let best = -1, bd = 100;   // within 10 px
    for (let k = 0; k < p.points.length; k++) {
      const dx = p.points[k][0] - q.x, dy = p.points[k][1] - q.y, dd = dx * dx + dy * dy;
      if (dd < bd) { bd = dd; best = k; }
    }
    return best < 0 ? null : p.points[best];
  }
  function hookPlot(p) {
    let pending = null;
    p.svg.addEventListener('mousemove', ev => {
      pending = ev;
      requestAnimationFrame(() => {
        if (!pending) return;
        const hit = nearest(p, pending);
        if (hit) {
          tip.textContent = p.label(hit[2]);
          tip.style.left = (pending.pageX + 14) + 'px';
          tip.style.top = (pending.pageY + 10) + 'px';
          tip.style.display = 'block';
        } else tip.style.display = 'none';
        pending = null;
      });
    });
    p.svg.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
    p.svg.addEventListener('click', ev => {
      const hit = nearest(p, ev);
      if (hit && typeof hit[2] === 'number' && hit[2] >= 0 && hit[2] < N) select(hit[2]);
    });
  }
  function select(i) {
    selected = selected === i ? -1 : i;
    for (const p of plots) {
      while (p.overlay.firstChild) p.overlay.removeChild(p.overlay.firstChild);
      if (selected >= 0 && p.highlight) p.highlight(selected);
    }
    const info = section('ks-selected');
    if (info) info.textContent = selected >= 0 ? 'selected: ' + trialLabel(selected).replace(/\n/g, ', ') : '';
    renderTable();
  }

  // ------------------------------------------------------------- history
  function drawHistory() {
    const s = section('history'), wrap = el('div', {class: 'pair'}, s);
    const withObj = [];
    for (let i = 0; i < N; i++) if (finite(T.objective[i])) withObj.push(i);
    if (!withObj.length) { note(s, 'No trial has an objective yet.'); return; }
    for (const byTime of [false, true]) {
      const p = plot(wrap, {width: 520, height: 330, margin: {t: 28}, title: 'optimization history'});
      const [, xhi] = extent(withObj.map(i => byTime ? T.end[i] : T.number[i]));
      const xs = scale('lin', [0, Math.max(xhi, 1)], p.x0 + 6, p.x1 - 6);
      const ys = objectiveScale(p.y0 - 6, p.y1 + 6);
      axes(p, xs, ys, byTime ? 'wall time since the study started (s)' : 'trial number',
        'objective: ' + metric);
      const at = i => [xs.map(byTime ? T.end[i] : T.number[i]), ys.map(T.objective[i]), i];
      dots(p, withObj.filter(i => T.status[i] !== 'complete').map(at), 'pruned');
      dots(p, withObj.filter(i => T.status[i] === 'complete').map(at), 'complete');
      // best so far over complete trials, in order of number or of end time
      const order = withObj.filter(i => T.status[i] === 'complete' && (!byTime || finite(T.end[i])))
        .sort((a, b) => byTime ? T.end[a] - T.end[b] : T.number[a] - T.number[b]);
      let best = null, d = '';
      for (const i of order) {
        if (best === null || better(T.objective[i], best)) {
          const [x, y] = at(i);
          d += (d ? 'H' + x.toFixed(1) + 'V' : 'M' + x.toFixed(1) + ' ') + y.toFixed(1);
          best = T.objective[i];
        }
      }
      if (d) {
        d += 'H' + (p.x1 - 6);
        el('svg:path', {d: d, class: 'best'}, p.g);
      }
      p.highlight = i => { if (finite(T.objective[i])) { const [x, y] = at(i); el('svg:circle', {cx: x, cy: y, r: 7}, p.overlay); } };
      legend(p, [['complete', 'complete'], ['pruned', 'pruned (stopped early)'], ['best', 'best so far']]);
      finishPlot(p);
      hookPlot(p);
    }
    const failed = T.status.filter(s2 => s2 === 'failed').length;
    caption(s, 'Every trial\'s objective (' + metric + ', ' + D.study.goal + ') by trial number and ' +
      'by the time it ended, with the best complete trial so far as a line. ' +
      (failed ? failed + ' failed trial' + (failed === 1 ? ' has' : 's have') + ' no objective and ' +
      'appear only in the table. ' : '') + 'Click a point to select its trial in every view.');
  }
  function legend(p, items) {
    const g = el('svg:g', {class: 'legend'}, p.g);
    let x = p.x1;
    for (let k = items.length - 1; k >= 0; k--) {
      const [cls, text] = items[k], w = 14 + text.length * 6.2;
      x -= w + 10;
      const y = p.y1 - 14;
      if (cls === 'best') el('svg:path', {d: 'M' + x + ' ' + y + 'h12', class: 'best'}, g);
      else el('svg:path', {d: 'M' + (x + 5) + ' ' + y + 'h0', class: 'dots ' + cls}, g);
      el('svg:text', {x: x + 15, y: y + 4}, g, text);
    }
  }

  // -------------------------------------------------- parallel coordinates
  function drawParallel() {
    const s = section('parallel');
    const rows = [];
    for (let i = 0; i < N; i++) if (finite(T.objective[i])) rows.push(i);
    if (!P.length) { note(s, 'This run has no search parameters (a ksearch fit run).'); return; }
    if (!rows.length) { note(s, 'No trial has an objective yet.'); return; }
    const n = P.length + 1, W = Math.max(640, 130 * n);
    const p = plot(s, {width: W, height: 380, margin: {l: 50, r: 50, t: 30, b: 30}, title: 'parallel coordinates'});
    const xs = k => p.x0 + (p.x1 - p.x0) * k / (n - 1);
    const sc = P.map((_, k) => paramScale(k, p.y0, p.y1));
    sc.push(objectiveScale(p.y0, p.y1));
    const yOf = (k, i) => k < P.length ? sc[k].map(paramValue(k, i)) : sc[k].map(T.objective[i]);
    const buckets = Array.from({length: BUCKETS}, () => '');
    const lineOf = i => {
      let d = '', pen = 'M';
      for (let k = 0; k < n; k++) {
        const y = yOf(k, i);
        if (!finite(y)) { pen = 'M'; continue; }
        d += pen + xs(k).toFixed(1) + ' ' + y.toFixed(1);
        pen = 'L';
      }
      return d;
    };
    // worst first, so that the best lines are drawn on top
    const good = new Float64Array(N);
    for (const i of rows) good[i] = goodness(T.objective[i]);
    rows.sort((a, b) => good[a] - good[b]);
    for (const i of rows) {
      const b = Math.min(BUCKETS - 1, Math.floor(good[i] * BUCKETS));
      buckets[b] += lineOf(i);
      p.marks++;
      p.points.push([xs(n - 1), yOf(n - 1, i), i]);
    }
    const op = rows.length > 2000 ? 0.15 : rows.length > 300 ? 0.35 : 0.7;
    buckets.forEach((d, b) => { if (d) el('svg:path', {d: d, class: 'pc', stroke: colour((b + 0.5) / BUCKETS), 'stroke-opacity': op}, p.g); });
    for (let k = 0; k < n; k++) {
      const g = el('svg:g', {class: 'axis'}, p.g), x = xs(k);
      el('svg:line', {x1: x, x2: x, y1: p.y0, y2: p.y1}, g);
      for (const [y, t] of sc[k].ticks()) {
        if (!(y <= p.y0 + 0.5 && y >= p.y1 - 0.5)) continue;
        el('svg:line', {x1: x - 3, x2: x + 3, y1: y, y2: y}, g);
        el('svg:text', {x: x + 5, y: y + 4, class: 'tick'}, g, t);
      }
      const name = k < P.length ? P[k].name + (P[k].log ? ' (log)' : '') : metric;
      el('svg:text', {x: x, y: p.y1 - 12, 'text-anchor': 'middle', class: 'label'}, g, name);
    }
    p.highlight = i => el('svg:path', {d: lineOf(i), class: 'pc-sel'}, p.overlay);
    finishPlot(p);
    hookPlot(p);
    caption(s, 'Each line is a trial with an objective: its value of every parameter and, on the ' +
      'last axis, its ' + metric + '; colour by objective (yellow the best). Axes of log-scaled ' +
      'parameters are logarithmic, choices are categorical. ' + rows.length + ' trials.');
  }

  // ------------------------------------------------------------ importance
  function drawImportance() {
    const s = section('importance'), I = D.importance;
    if (!I || !I.share) { note(s, 'Parameter importance is not available: ' + (I && I.reason ? I.reason : 'no data') + '.'); return; }
    const order = I.params.map((_, k) => k).sort((a, b) => I.share[b] - I.share[a]);
    const p = plot(s, {width: 640, height: 50 + 34 * order.length, margin: {l: 150, r: 60, t: 10, b: 40}, title: 'parameter importance'});
    const xs = scale('lin', [0, 1], p.x0, p.x1);
    axes(p, xs, null, 'share of the variance of the objective (fANOVA)', null);
    const band = (p.y0 - p.y1) / order.length;
    order.forEach((k, r) => {
      const y = p.y1 + r * band + band * 0.2, h = band * 0.6, w = xs.map(I.share[k]) - p.x0;
      el('svg:rect', {x: p.x0, y: y, width: Math.max(w, 0.5), height: h, class: 'bar'}, p.g);
      if (I.std && I.std[k] > 0) {
        const e = xs.map(Math.min(1, I.share[k] + I.std[k])), c = y + h / 2;
        el('svg:path', {d: 'M' + (p.x0 + w) + ' ' + c + 'H' + e + 'M' + e + ' ' + (c - 4) + 'v8', class: 'err'}, p.g);
      }
      el('svg:text', {x: p.x0 - 8, y: y + h / 2 + 4, 'text-anchor': 'end'}, p.g, I.params[k]);
      el('svg:text', {x: p.x0 + w + 6, y: y + h / 2 + 4}, p.g, (100 * I.share[k]).toFixed(1) + ' %');
      p.marks++;
    });
    finishPlot(p);
    caption(s, 'Functional ANOVA (Hutter, Hoos & Leyton-Brown, 2014) over a random forest of ' + I.trees +
      ' regression trees fitted to the ' + I.trials + ' complete trials (parameters → ' + metric +
      '), as Optuna\'s default importance evaluator computes it: each parameter\'s share of the ' +
      'variance its marginal explains, averaged over the trees and normalized to sum to 100 %; ' +
      'whiskers: one standard deviation over the trees. Log-scaled parameters are taken in log ' +
      'space. ' + (I.trials < 20 ? 'With so few trials, read it as a hint.' : ''));
  }

  // ---------------------------------------------------------------- slices
  function drawSlices() {
    const s = section('slices');
    if (!P.length) { note(s, 'This run has no search parameters (a ksearch fit run).'); return; }
    const rows = [];
    for (let i = 0; i < N; i++) if (finite(T.objective[i])) rows.push(i);
    if (!rows.length) { note(s, 'No trial has an objective yet.'); return; }
    const grid = el('div', {class: 'grid'}, s);
    P.forEach((prm, k) => {
      const box = el('div', {class: 'cell'}, grid);
      const p = plot(box, {width: 360, height: 260, margin: {l: 56, r: 10, t: 10, b: 42}, title: 'slice ' + prm.name});
      const xs = paramScale(k, p.x0 + 8, p.x1 - 8), ys = objectiveScale(p.y0 - 6, p.y1 + 6);
      axes(p, xs, ys, prm.name + (prm.log ? ' (log scale)' : ''), metric);
      const jitter = i => xs.kind === 'cat' ? ((T.number[i] * 7919) % 97 / 97 - 0.5) * Math.min(24, (p.x1 - p.x0) / prm.choices.length * 0.5) : 0;
      const byBucket = Array.from({length: 6}, () => []);
      for (const i of rows) {
        const x = xs.map(paramValue(k, i));
        if (!finite(x)) continue;
        byBucket[Math.min(5, Math.floor(6 * i / Math.max(1, N)))].push([x + jitter(i), ys.map(T.objective[i]), i]);
      }
      byBucket.forEach((list, b) => dots(p, list, 'slice', {stroke: colour(0.1 + 0.85 * b / 5)}));
      const M = D.importance && D.importance.marginal && D.importance.marginal[prm.name];
      if (M) {
        let d = '';
        M.x.forEach((v, q) => {
          const x = xs.map(v), y = ys.map(M.y[q]);
          if (finite(x) && finite(y)) d += (d ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
        });
        if (d) el('svg:path', {d: d, class: xs.kind === 'cat' ? 'marginal cat' : 'marginal'}, p.g);
      }
      p.highlight = i => { const x = xs.map(paramValue(k, i)); if (finite(x) && finite(T.objective[i])) el('svg:circle', {cx: x + jitter(i), cy: ys.map(T.objective[i]), r: 6}, p.overlay); };
      finishPlot(p);
      hookPlot(p);
    });
    caption(s, 'The objective against each parameter, one dot per trial with an objective ' +
      '(colour: trial number, dark the earliest). ' + (D.importance && D.importance.marginal
      ? 'The line is the random forest\'s marginal prediction: the mean over the other parameters.' : ''));
  }

  // --------------------------------------------------------------- contour
  function drawContour() {
    const s = section('contour'), C = D.importance && D.importance.contour;
    if (!C) { note(s, 'A contour needs two parameters with an importance: ' + (D.importance && D.importance.reason ? D.importance.reason : P.length < 2 ? 'this run has fewer than two parameters' : 'not available') + '.'); return; }
    const kx = P.findIndex(p => p.name === C.x_param), ky = P.findIndex(p => p.name === C.y_param);
    const p = plot(s, {width: 560, height: 420, margin: {l: 70, r: 90, t: 12, b: 46}, title: 'contour'});
    const xs = paramScale(kx, p.x0, p.x1), ys = paramScale(ky, p.y0, p.y1);
    let zlo = Infinity, zhi = -Infinity;
    for (const row of C.z) for (const v of row) { zlo = Math.min(zlo, v); zhi = Math.max(zhi, v); }
    const zt = v => { const t = zhi > zlo ? (v - zlo) / (zhi - zlo) : 1; return maximize ? t : 1 - t; };
    // cell edges halfway between grid points (in the axis's own scale)
    const edges = (sc, vals) => vals.map((v, q) => {
      const c = sc.map(v);
      const prev = q > 0 ? sc.map(vals[q - 1]) : null, next = q + 1 < vals.length ? sc.map(vals[q + 1]) : null;
      const a = prev === null ? (sc.kind === 'cat' ? c - Math.abs(next === null ? 20 : next - c) / 2 : (sc.r0)) : (prev + c) / 2;
      const b = next === null ? (sc.kind === 'cat' ? c + Math.abs(prev === null ? 20 : c - prev) / 2 : (sc.r1)) : (c + next) / 2;
      return [Math.min(a, b), Math.max(a, b)];
    });
    const ex = edges(xs, C.x), ey = edges(ys, C.y);
    const paths = Array.from({length: 24}, () => '');
    C.x.forEach((_, a) => C.y.forEach((_, b) => {
      const v = C.z[a][b], k = Math.min(23, Math.floor(zt(v) * 24));
      const [x0, x1] = ex[a], [y0, y1] = ey[b];
      paths[k] += 'M' + x0.toFixed(1) + ' ' + y0.toFixed(1) + 'H' + x1.toFixed(1) + 'V' + y1.toFixed(1) + 'H' + x0.toFixed(1) + 'z';
      p.marks++;
    }));
    paths.forEach((d, k) => { if (d) el('svg:path', {d: d, fill: colour((k + 0.5) / 24), class: 'cellfill'}, p.g); });
    axes(p, xs, ys, P[kx].name + (P[kx].log ? ' (log scale)' : ''), P[ky].name + (P[ky].log ? ' (log scale)' : ''), true);
    const pts = [];
    for (let i = 0; i < N; i++) {
      const x = xs.map(paramValue(kx, i)), y = ys.map(paramValue(ky, i));
      if (finite(x) && finite(y) && finite(T.objective[i])) pts.push([x, y, i]);
    }
    dots(p, pts, 'trialdot');
    // colour bar
    const bx = p.x1 + 20;
    for (let k = 0; k < 24; k++) el('svg:rect', {x: bx, y: p.y0 - (k + 1) * (p.y0 - p.y1) / 24, width: 14, height: (p.y0 - p.y1) / 24 + 0.5, fill: colour((k + 0.5) / 24)}, p.g);
    el('svg:text', {x: bx + 18, y: p.y1 + 10, class: 'tick'}, p.g, fmt(maximize ? zhi : zlo));
    el('svg:text', {x: bx + 18, y: p.y0, class: 'tick'}, p.g, fmt(maximize ? zlo : zhi));
    p.highlight = i => { const x = xs.map(paramValue(kx, i)), y = ys.map(paramValue(ky, i)); if (finite(x) && finite(y)) el('svg:circle', {cx: x, cy: y, r: 7}, p.overlay); };
    finishPlot(p);
    hookPlot(p);
    caption(s, 'The random forest\'s prediction of ' + metric + ' over the two most important ' +
      'parameters, ' + C.x_param + ' and ' + C.y_param + ' (the mean over the others; yellow the ' +
      'best), with every trial as a dot.');
  }

  // -------------------------------------------------------- learning curves
  function drawCurves() {
    const s = section('curves');
    const C = T.curve;
    let maxE = 0, vals = [];
    for (let i = 0; i < N; i++) {
      maxE = Math.max(maxE, C[i].length);
      for (const v of C[i]) if (finite(v)) vals.push(v);
    }
    if (!vals.length) { note(s, 'No epoch has a value of ' + metric + ' yet.'); return; }
    const p = plot(s, {width: 760, height: 380, title: 'learning curves'});
    const xs = scale('lin', [1, Math.max(2, maxE)], p.x0 + 6, p.x1 - 6);
    let lo = Infinity, hi = -Infinity;
    for (const v of vals) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const ys = objectiveScale(p.y0 - 6, p.y1 + 6, [lo, hi]);
    axes(p, xs, ys, 'epoch', metric);
    // Hyperband rungs: the budgets trials stopped at below the full one
    const full = D.study.max_epochs || maxE;
    const rungs = [...new Set(T.budget.filter((b, i) => T.status[i] === 'pruned' && b < full))].sort((a, b) => a - b);
    for (const r of rungs) {
      el('svg:line', {x1: xs.map(r), x2: xs.map(r), y1: p.y0, y2: p.y1, class: 'rung'}, p.g);
      el('svg:text', {x: xs.map(r) + 3, y: p.y1 + 10, class: 'tick'}, p.g, 'rung ' + r);
    }
    const top = [];
    for (let i = 0; i < N; i++) if (finite(T.objective[i])) top.push(i);
    top.sort((a, b) => maximize ? T.objective[b] - T.objective[a] : T.objective[a] - T.objective[b]);
    const top5 = top.slice(0, 5);
    const lineOf = i => {
      let d = '', pen = 'M';
      C[i].forEach((v, e) => {
        if (!finite(v)) { pen = 'M'; return; }
        d += pen + xs.map(e + 1).toFixed(1) + ' ' + ys.map(v).toFixed(1);
        pen = 'L';
      });
      return d;
    };
    let dAll = '', dPruned = '', ends = '';
    for (let i = 0; i < N; i++) {
      if (!C[i].length) continue;
      const d = lineOf(i);
      if (!d) continue;
      if (T.status[i] === 'pruned') dPruned += d; else dAll += d;
      p.marks++;
      const e = C[i].length - 1, v = C[i][e];
      if (finite(v)) {
        p.points.push([xs.map(e + 1), ys.map(v), i]);
        if (T.status[i] === 'pruned') { const x = xs.map(e + 1), y = ys.map(v); ends += 'M' + (x - 3) + ' ' + (y - 3) + 'l6 6m0 -6l-6 6'; }
      }
    }
    const op = N > 2000 ? 0.12 : N > 300 ? 0.3 : 0.6;
    if (dAll) el('svg:path', {d: dAll, class: 'curve', 'stroke-opacity': op}, p.g);
    if (dPruned) el('svg:path', {d: dPruned, class: 'curve pruned', 'stroke-opacity': op}, p.g);
    if (ends && N <= 3000) el('svg:path', {d: ends, class: 'cut'}, p.g);
    const TOP = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd'];
    top5.forEach((i, r) => {
      el('svg:path', {d: lineOf(i), class: 'curve top', style: 'stroke:' + TOP[r]}, p.g);
      el('svg:text', {x: p.x1 - 4, y: p.y0 - 12 - 14 * (top5.length - 1 - r), 'text-anchor': 'end', fill: TOP[r], class: 'tick'}, p.g,
        'trial ' + T.number[i] + ': ' + fmt(T.objective[i]));
    });
    p.highlight = i => el('svg:path', {d: lineOf(i), class: 'curve selc'}, p.overlay);
    finishPlot(p);
    hookPlot(p);
    caption(s, 'Every trial\'s ' + metric + ' by epoch: grey lines, dashed for pruned trials (a × ' +
      'where each was cut); the five best trials in colour. ' + (rungs.length ? 'Dotted lines: the ' +
      'Hyperband rungs (budgets ' + rungs.join(', ') + ' of ' + full + ' epochs).' : ''));
  }

  // --------------------------------------------------------------- timeline
  // How job k of trial row idx ended: a finished job of a trial that went on later is a
  // promoted rung; one whose trial was pruned afterwards, the rung it stopped at.
  function segClass(k, idx) {
    const G = D.segments, st = G.status[k];
    if (st !== 'complete' || idx < 0) return st;
    if (G.epochs[k] < T.epochs[idx]) return 'promoted';
    return T.status[idx] === 'pruned' ? 'pruned' : 'complete';
  }
  function drawTimeline() {
    const s = section('timeline'), G = D.segments;
    if (!G.trial.length) { note(s, 'No trial has run yet.'); return; }
    const workers = extent(G.worker)[1] + 1, end = Math.max(extent(G.end)[1], 0);
    const p = plot(s, {width: 760, height: 70 + 30 * workers, margin: {l: 80, r: 70, t: 10, b: 44}, title: 'timeline'});
    const xs = scale('lin', [0, Math.max(end, 1e-3)], p.x0, p.x1);
    axes(p, xs, null, 'wall time since the study started (s)', null);
    const lane = (p.y0 - p.y1) / workers;
    const byStatus = {}, busy = new Array(workers).fill(0);
    G.trial.forEach((t, k) => {
      const w = G.worker[k], x0 = xs.map(G.start[k]), x1 = Math.max(xs.map(G.end[k]), x0 + 0.8);
      const idx = indexOf.has(t) ? indexOf.get(t) : -1;
      const y = p.y1 + w * lane + lane * 0.15, h = lane * 0.7, st = segClass(k, idx);
      byStatus[st] = (byStatus[st] || '') + 'M' + x0.toFixed(1) + ' ' + y.toFixed(1) + 'H' + x1.toFixed(1) + 'v' + h.toFixed(1) + 'H' + x0.toFixed(1) + 'z';
      busy[w] += G.end[k] - G.start[k];
      p.points.push([(x0 + x1) / 2, y + h / 2, idx]);
      p.marks++;
      if (x1 - x0 > 26 && workers * G.trial.length < 4000)
        el('svg:text', {x: (x0 + x1) / 2, y: y + h / 2 + 4, 'text-anchor': 'middle', class: 'seglabel'}, p.g, String(t));
    });
    // (thousands of bars: no white edges, or the thin ones would show only their edges)
    for (const st in byStatus) el('svg:path', {d: byStatus[st], class: 'seg ' + st + (G.trial.length > 1000 ? ' dense' : '')}, p.g);
    for (let w = 0; w < workers; w++) {
      el('svg:text', {x: p.x0 - 8, y: p.y1 + (w + 0.5) * lane + 4, 'text-anchor': 'end'}, p.g, (G.recorded ? 'worker ' : 'slot ') + w);
      el('svg:text', {x: p.x1 + 6, y: p.y1 + (w + 0.5) * lane + 4, class: 'tick'}, p.g, (100 * busy[w] / Math.max(end, 1e-9)).toFixed(0) + ' % busy');
    }
    p.label = i => i >= 0 ? trialLabel(i) : '';
    p.highlight = i => {
      G.trial.forEach((t, k) => {
        if (t !== T.number[i]) return;
        const x0 = xs.map(G.start[k]), x1 = Math.max(xs.map(G.end[k]), x0 + 0.8), y = p.y1 + G.worker[k] * lane + lane * 0.1;
        el('svg:rect', {x: x0, y: y, width: x1 - x0, height: lane * 0.8}, p.overlay);
      });
    };
    finishPlot(p);
    hookPlot(p);
    const total = busy.reduce((a, b) => a + b, 0);
    caption(s, (G.recorded ? 'Which trial ran when, on which worker' : 'Reconstructed from the trials\' ' +
      'start and end times (this database did not record which worker ran what: lanes are ' +
      'slots, and a resumed or promoted trial shows as one bar from its first start to its last end)') +
      '; colour by how each job ended: green, the trial\'s last job; teal, a rung the trial was ' +
      'promoted from; grey, the rung where a pruned trial stopped; red, failed; amber, ' +
      'interrupted. Utilisation: ' + (100 * total / Math.max(end * workers, 1e-9)).toFixed(0) + ' % of ' +
      workers + ' × ' + fmtTime(end) + '.');
  }

  // ---------------------------------------------------------- trials table
  const M = D.metrics;
  const columns = [
    {name: 'trial', get: i => T.number[i]},
    {name: 'status', get: i => T.status[i]},
    {name: metric, get: i => T.objective[i], num: true, best: true},
  ].concat(P.map((p, k) => ({name: p.name, get: i => paramValue(k, i), num: p.kind !== 'choice'})))
    .concat([
      {name: 'best epoch', get: i => T.best_epoch[i] >= 0 ? T.best_epoch[i] + 1 : null, num: true},
      {name: 'epochs', get: i => T.epochs[i], num: true},
      {name: 'budget', get: i => T.budget[i], num: true},
      {name: 'duration', get: i => finite(T.start[i]) && finite(T.end[i]) ? T.end[i] - T.start[i] : null, num: true, time: true},
    ]).concat(M.names.map((n, k) => ({name: n, get: i => M.at_best[k][i], num: true, metric: true})))
    .concat([{name: 'error', get: i => T.error[String(T.number[i])] || ''}]);
  let sortCol = 2, sortDesc = maximize, page = 0, order = null;
  const PAGE = 100;
  function sortRows() {
    const c = columns[sortCol], idx = Array.from({length: N}, (_, i) => i);
    const keys = idx.map(i => { const v = c.get(i); return v === null || v === undefined || (typeof v === 'number' && !finite(v)) ? null : v; });
    idx.sort((a, b) => {
      const x = keys[a], y = keys[b];
      if (x === null || y === null) return x === null && y === null ? T.number[a] - T.number[b] : x === null ? 1 : -1;
      if (x === y) return T.number[a] - T.number[b];
      const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : 1;
      return sortDesc ? -r : r;
    });
    order = idx;
  }
  let table, tbody, pager;
  function renderTable() {
    if (!tbody) return;
    if (!order) sortRows();
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    const pages = Math.max(1, Math.ceil(N / PAGE));
    page = Math.min(page, pages - 1);
    for (const i of order.slice(page * PAGE, page * PAGE + PAGE)) {
      const tr = el('tr', {class: T.status[i] + (i === selected ? ' selected' : ''), 'data-trial': T.number[i]}, tbody);
      for (const c of columns) {
        const v = c.get(i);
        el('td', {class: c.num ? 'num' : c.name === 'error' ? 'err' : ''}, tr, c.time ? fmtTime(v) : fmt(v));
      }
      tr.addEventListener('click', () => select(i));
    }
    pager.textContent = '';
    const prev = el('button', {type: 'button'}, pager, '‹ previous');
    el('span', {}, pager, ' trials ' + (N ? page * PAGE + 1 : 0) + '–' + Math.min(N, page * PAGE + PAGE) + ' of ' + N + ' ');
    const next = el('button', {type: 'button'}, pager, 'next ›');
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    prev.addEventListener('click', () => { page--; renderTable(); });
    next.addEventListener('click', () => { page++; renderTable(); });
  }
  function drawTable() {
    const s = section('trials');
    if (!N) { note(s, 'The study has no trials yet.'); return; }
    pager = el('div', {class: 'pager'}, s);
    const wrap = el('div', {class: 'tablewrap'}, s);
    table = el('table', {class: 'trials'}, wrap);
    const tr = el('tr', {}, el('thead', {}, table));
    columns.forEach((c, k) => {
      const th = el('th', {class: c.num ? 'num' : '', title: 'sort by ' + c.name}, tr, c.name);
      th.addEventListener('click', () => {
        if (sortCol === k) sortDesc = !sortDesc; else { sortCol = k; sortDesc = c.best ? maximize : false; }
        order = null; page = 0;
        for (const h of tr.children) h.classList.remove('sorted');
        th.classList.add('sorted');
        renderTable();
      });
      if (k === sortCol) th.classList.add('sorted');
    });
    tbody = el('tbody', {}, table);
    renderTable();
    caption(s, 'Every trial, best first (click a header to sort by it, a row to select the trial). ' +
      'Metrics are the values at the trial\'s best epoch (epochs counted from 1, as Keras prints ' +
      'them); failed trials show why they failed.');
  }

  // -------------------------------------------------------------- ensembles
  function drawEnsembles() {
    const s = section('ensembles'), E = D.ensembles;
    if (!E.length) { note(s, 'No ensemble was built for this study (add an ensemble section, or run ksearch ensemble).'); return; }
    const names = [];
    for (const e of E) for (const part of ['validation', 'test']) for (const k in (e.record[part] || {})) {
      const n = part === 'test' ? 'test ' + k : 'val ' + k;
      if (!names.some(x => x[0] === n)) names.push([n, part, k]);
    }
    const t = el('table', {class: 'ens'}, s);
    const hr = el('tr', {}, el('thead', {}, t));
    for (const h of ['ensemble', 'average', 'members (trial: weight)'].concat(names.map(x => x[0]))) el('th', {}, hr, h);
    const body = el('tbody', {}, t);
    for (const e of E) {
      const r = el('tr', {}, body), rec = e.record;
      el('td', {}, r, e.name);
      el('td', {}, r, rec.average || '');
      el('td', {}, r, (rec.members || []).map((m, k) => m + ': ' + fmt(rec.weights ? rec.weights[k] : null)).join(', '));
      for (const [, part, k] of names) el('td', {class: 'num'}, r, fmt(rec[part] ? rec[part][k] : null));
    }
    // the best single trial: its validation metrics at its best epoch
    let best = -1;
    for (let i = 0; i < N; i++) if (T.status[i] === 'complete' && finite(T.objective[i]) && (best < 0 || better(T.objective[i], T.objective[best]))) best = i;
    if (best >= 0) {
      const r = el('tr', {class: 'single'}, body);
      el('td', {}, r, 'best single trial');
      el('td', {}, r, '—');
      el('td', {}, r, 'trial ' + T.number[best]);
      for (const [, part, k] of names) {
        const mk = M.names.indexOf(part === 'validation' ? (k.startsWith('val_') ? k : 'val_' + k) : '');
        el('td', {class: 'num'}, r, part === 'validation' && mk >= 0 ? fmt(M.at_best[mk][best]) : '—');
      }
    }
    caption(s, 'Each ensemble of the best trials: how its members\' outputs are averaged, their ' +
      'weights (fitted on the validation loss), and its validation and test metrics, beside the ' +
      'best single trial\'s validation metrics at its best epoch (its test metrics are not ' +
      'recorded in study.db).');
  }

  // One view per task, so that the page answers (scrolls, sorts) while the rest draws;
  // the study's summary is already there (written as HTML).
  const views = [drawHistory, drawParallel, drawImportance, drawSlices, drawContour, drawCurves,
    drawTimeline, drawTable, drawEnsembles];
  let next = 0;
  (function drawNext() {
    if (next < views.length) {
      views[next++]();
      setTimeout(drawNext, 0);
    } else {
      document.body.setAttribute('data-rendered', 'yes');
    }
  })();
})();
