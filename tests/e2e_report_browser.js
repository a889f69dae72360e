// e2e_report_browser.js — opens ksearch reports in headless Chromium (playwright-core) and
// checks each: no JavaScript error, no request to anything but the file itself, every
// view there, every plot drawn with data (a view without data must say why), the
// trials table sortable; takes screenshots.  Used by tests/e2e_report.sh.
//   node e2e_report_browser.js PLAYWRIGHT_DIR CHROMIUM SHOT_DIR NAME=REPORT.html:PLOTS ...
// PLOTS: the views that must hold a plot with data (comma-separated), e.g.
// history,parallel,importance.  Prints one "ok NAME …" or "FAILED NAME: why" per check,
// and "timing NAME render_ms sort_ms" for each report.
'use strict';
const fs = require('fs'), os = require('os'), path = require('path');
const [pwDir, chromium, shotDir, ...specs] = process.argv.slice(2);
const { chromium: browserType } = require(path.join(pwDir, 'node_modules', 'playwright-core'));
const VIEWS = ['study', 'history', 'parallel', 'importance', 'slices', 'contour', 'curves',
  'timeline', 'trials', 'ensembles'];
let failures = 0;
function ok(name, what) { console.log('ok ' + name + ': ' + what); }
function fail(name, what) { failures++; console.log('FAILED ' + name + ': ' + what); }

async function check(context, name, file, plots) {
  const page = await context.newPage();
  const errors = [], requests = [];
  page.on('pageerror', e => errors.push('page error: ' + e.message));
  page.on('console', m => { if (m.type() === 'error') errors.push('console error: ' + m.text()); });
  page.on('request', r => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
  page.on('requestfailed', r => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
  const t0 = Date.now();
  await page.goto('file://' + path.resolve(file));
  await page.waitForSelector('body[data-rendered=yes]', {timeout: 120000});
  const renderMs = Date.now() - t0;
  // every view, with its heading; plots with data, or a note saying why not
  const views = await page.evaluate(ids => ids.map(id => {
    const s = document.getElementById(id);
    if (!s) return {id: id, missing: true};
    const svgs = [...s.querySelectorAll('svg.plot')];
    return {id: id, heading: !!s.querySelector('h2'), plots: svgs.length,
      empty: svgs.filter(x => !(Number(x.getAttribute('data-marks')) > 0)).length,
      notes: s.querySelectorAll('.note').length, rows: s.querySelectorAll('tbody tr').length,
      text: s.textContent.length};
  }), VIEWS);
  for (const v of views) {
    if (v.missing || !v.heading) { fail(name, 'view ' + v.id + ' is missing'); continue; }
    if (v.empty) fail(name, 'view ' + v.id + ' has ' + v.empty + ' empty plot(s)');
    if (plots.includes(v.id) && !(v.plots > 0 && v.empty === 0))
      fail(name, 'view ' + v.id + ' has no plot with data');
    if (!v.plots && !v.notes && !v.rows && v.id !== 'study')
      fail(name, 'view ' + v.id + ' shows neither a plot, a table nor why not');
  }
  if (!views.some(v => v.id === 'trials' && v.rows > 0)) fail(name, 'the trials table has no rows');
  // sorting the table answers quickly (click "trial", then the objective back)
  const firstRow = () => page.$eval('#trials tbody tr', r => r.getAttribute('data-trial'));
  const before = await firstRow();
  const t1 = Date.now();
  await page.click('#trials th:nth-child(1)');
  const sorted = await firstRow();
  const sortMs = Date.now() - t1;
  if (sorted !== '0') fail(name, 'sorting by trial number shows trial ' + sorted + ' first');
  await page.click('#trials th:nth-child(3)');
  if (await firstRow() !== before) fail(name, 'sorting by the objective again changed the order');
  // hovering a plot shows a trial, clicking selects it everywhere
  const hist = await page.$('#history svg.plot');
  if (hist) {
    await hist.scrollIntoViewIfNeeded();
    const box = await hist.boundingBox();
    const pts = await page.evaluate(() => {
      const s = document.querySelector('#history svg.plot');
      const p = s.querySelector('path.dots');
      if (!p) return null;
      const m = /M([0-9.]+) ([0-9.]+)/.exec(p.getAttribute('d'));
      const vb = s.viewBox.baseVal;
      return m ? [Number(m[1]) / vb.width, Number(m[2]) / vb.height] : null;
    });
    if (pts) {
      await page.mouse.move(box.x + pts[0] * box.width, box.y + pts[1] * box.height);
      const shown = await page.waitForFunction(() => {
        const t = document.getElementById('ks-tip');
        return t.style.display === 'block' && /^trial \d+/.test(t.textContent);
      }, null, {timeout: 10000}).then(() => true, () => false);
      if (!shown) fail(name, 'hovering a point shows no trial');
      await page.mouse.click(box.x + pts[0] * box.width, box.y + pts[1] * box.height);
      const sel = await page.$eval('#ks-selected', e => e.textContent);
      if (!/^selected: trial \d+/.test(sel)) fail(name, 'clicking a point selects no trial');
      const marked = await page.$$eval('g.sel', g => g.filter(x => x.childElementCount > 0).length);
      if (marked < 3) fail(name, 'the selected trial is highlighted in ' + marked + ' plots');
      // a second click clears it (the screenshots show the report as it opens)
      await page.mouse.click(box.x + pts[0] * box.width, box.y + pts[1] * box.height);
      await page.mouse.move(0, 0);
    }
  }
  if (errors.length) fail(name, errors.join('; '));
  if (requests.length) fail(name, 'requests to ' + requests.join(', '));
  fs.mkdirSync(shotDir, {recursive: true});
  await page.screenshot({path: path.join(shotDir, name + '.png'), fullPage: true});
  for (const id of ['history', 'parallel', 'importance', 'curves', 'timeline']) {
    const e = await page.$('#' + id);
    if (e) await e.screenshot({path: path.join(shotDir, name + '-' + id + '.png')});
  }
  console.log('timing ' + name + ' render_ms ' + renderMs + ' sort_ms ' + sortMs);
  await page.close();
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ks_report_chromium.'));
  const context = await browserType.launchPersistentContext(profile, {
    executablePath: chromium, headless: true, viewport: {width: 1000, height: 800},
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // anything but the file itself is refused (and counted by the request handler)
  await context.route('**/*', r => r.request().url().startsWith('file://') ? r.continue() : r.abort());
  for (const spec of specs) {
    const eq = spec.indexOf('='), colon = spec.lastIndexOf(':');
    const name = spec.slice(0, eq), file = spec.slice(eq + 1, colon);
    const plots = spec.slice(colon + 1).split(',').filter(Boolean);
    const before = failures;
    try { await check(context, name, file, plots); } catch (e) { fail(name, String(e)); }
    if (failures === before) ok(name, VIEWS.length + ' views, plots with data, no error, no request');
  }
  await context.close();
  fs.rmSync(profile, {recursive: true, force: true});
  process.exit(failures ? 1 : 0);
})().catch(e => { console.log('FAILED: ' + e); process.exit(1); });
