'use strict';
/**
 * The part both benchmark reports share: render vega-lite charts to SVG (no browser) into
 * docs/img/, and write a Markdown page's generated section between its BEGIN/END markers,
 * keeping the hand-written text around them.
 */
const fs = require('node:fs');
const path = require('node:path');

async function renderSvg(vegaLiteSpec) {
  // vega and vega-lite are ESM-only with top-level await: import(), not require().
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const { spec } = vl.compile(vegaLiteSpec);
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/**
 * Writes `charts` ({file, spec}) to `<docsDir>/img/` and `generated` between the markers of
 * `<docsDir>/<page>` (a new page gets `title`). Returns the files written.
 */
async function writeGeneratedPage({ docsDir, page, title, begin, end, charts, generated }) {
  const img = path.join(docsDir, 'img');
  fs.mkdirSync(img, { recursive: true });
  const written = [];
  for (const chart of charts) {
    const file = path.join(img, chart.file);
    fs.writeFileSync(file, `${await renderSvg(chart.spec)}\n`);
    written.push(file);
  }
  const file = path.join(docsDir, page);
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `# ${title}\n\n${begin}\n${end}\n`;
  if (!text.includes(begin) || !text.includes(end)) text = `${text.trimEnd()}\n\n${begin}\n${end}\n`;
  text = text.slice(0, text.indexOf(begin)) + `${begin}\n${generated}\n${end}` + text.slice(text.indexOf(end) + end.length);
  fs.writeFileSync(file, text);
  written.push(file);
  return written;
}

module.exports = { renderSvg, writeGeneratedPage };
