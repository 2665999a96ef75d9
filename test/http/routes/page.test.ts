// The page at GET / without a browser (test/integration/page-browser.test.ts drives it in Chromium): served with
// its Content-Security-Policy, every asset it loads served by the service itself, nothing from another origin,
// open without an API key, answered while the service starts; its controls match the API it calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { parse } from 'yaml';
import { PAGE_ASSETS, PAGE_CSP, pageRoutes } from '../../../src/http/routes/page.ts';
import { Metrics } from '../../../src/metrics.ts';
import { ROOT, testConfig } from '../../helpers/common.ts';
import { listen } from '../../helpers/http.ts';

// No registry: the service while it is starting. The page needs no model.
const { app, url } = await listen(testConfig(), undefined, new Metrics({ defaultMetrics: false }));
t.teardown(() => app.close());

const html = readFileSync(join(ROOT, 'page/index.html'), 'utf8');
const script = readFileSync(join(ROOT, 'page/page.js'), 'utf8');
const style = readFileSync(join(ROOT, 'page/page.css'), 'utf8');

/** The CSP as directive -> sources. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0] !== '')
      .map(([name, ...sources]) => [name!, sources]),
  );
}

t.test('GET / is the page, with a CSP that allows only this origin (and blob:/data: images)', async (t) => {
  const res = await fetch(url + '/');
  t.equal(res.status, 200, 'answered while the service starts (no model needed)');
  t.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  t.equal(await res.text(), html, 'page/index.html as written');
  const csp = directives(res.headers.get('content-security-policy') ?? '');
  t.same(csp.get('default-src'), ["'self'"], 'scripts, styles, fetches: this origin only');
  t.same(csp.get('img-src'), ["'self'", 'blob:', 'data:'], 'images: this origin, and the preview as a blob: URL');
  t.same(csp.get('object-src'), ["'none'"]);
  t.same(csp.get('base-uri'), ["'none'"]);
  t.same(csp.get('frame-ancestors'), ["'none'"]);
  for (const [name, sources] of csp) {
    for (const source of sources)
      t.ok(["'self'", "'none'", 'blob:', 'data:'].includes(source), `${name} ${source}: nothing else (no inline code, no other host)`);
  }
  t.equal(res.headers.get('x-content-type-options'), 'nosniff');
  t.equal(res.headers.get('referrer-policy'), 'no-referrer');
});

t.test('every asset the page loads is served here, with its type and the same CSP', async (t) => {
  const referenced = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  t.same(
    referenced.filter((r) => !r.startsWith('data:')).sort(),
    ['/docs', '/page/page.css', '/page/page.js'],
    'the stylesheet, the script and a link to /docs',
  );
  for (const asset of PAGE_ASSETS) {
    const res = await fetch(url + asset.url);
    t.equal(res.status, 200, `${asset.url} served`);
    t.equal(res.headers.get('content-type'), asset.type, `${asset.url}: ${asset.type}`);
    t.equal(res.headers.get('content-security-policy'), PAGE_CSP, `${asset.url}: the page's CSP`);
    t.equal(
      Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ROOT, 'page', asset.file))),
      true,
      `${asset.url} is page/${asset.file}`,
    );
  }
  t.equal((await fetch(url + '/page/nope.js')).status, 404, 'nothing else under /page/');
});

t.test('the page names no other origin and uses no inline script or style', (t) => {
  for (const [name, text] of [
    ['index.html', html],
    ['page.js', script],
    ['page.css', style],
  ] as const) {
    t.notMatch(text, /(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, `${name}: no URL of another host`);
    t.notMatch(text, /@import|url\(/, `${name}: no CSS import or url()`);
  }
  t.notMatch(html, /<script(?![^>]*\ssrc=)/, 'every script is a file (the CSP refuses inline scripts)');
  t.notMatch(html, /\sstyle=|<style|\son[a-z]+=/i, 'no style attribute, style element or inline event handler');
  t.notMatch(script, /localStorage|sessionStorage|indexedDB|document\.cookie/, 'the API key is kept in page memory only');
  t.end();
});

t.test('the page routes are public (open without an API key)', async (t) => {
  const bare = Fastify();
  const configs: { route: string; public: unknown }[] = [];
  bare.addHook('onRoute', (route) => {
    configs.push({ route: `${String(route.method)} ${route.url}`, public: (route.config as { public?: unknown } | undefined)?.public });
  });
  await bare.register(pageRoutes);
  await bare.ready();
  t.same(
    configs.map((c) => c.route).sort(),
    PAGE_ASSETS.flatMap((a) => [`GET ${a.url}`, `HEAD ${a.url}`]).sort(),
    "every page URL is a route (GET, and Fastify's HEAD)",
  );
  for (const c of configs) t.equal(c.public, true, `${c.route}: config.public`);
  await bare.close();
});

t.test('with API keys configured, the page and its assets answer without one', async (t) => {
  const guarded = await listen(
    testConfig({ API_KEYS: 'page:page-test-key-0123456789abcdef' }),
    undefined,
    new Metrics({ defaultMetrics: false }),
  );
  t.teardown(() => guarded.app.close());
  t.equal((await fetch(guarded.url + '/models')).status, 401, 'the API needs a key');
  for (const asset of PAGE_ASSETS) t.equal((await fetch(guarded.url + asset.url)).status, 200, `${asset.url}: open`);
});

t.test("the page's controls match the API it calls", (t) => {
  const spec = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as { components: { schemas: { WindowPreset: { enum: string[] } } } };
  const select = /<select id="window"[^>]*>([\s\S]*?)<\/select>/.exec(html)?.[1] ?? '';
  const presets = [...select.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1]).filter((v) => v !== '');
  t.same(presets, spec.components.schemas.WindowPreset.enum, "the window presets are the API's");
  // Each error.field the page places has a control and an error box next to it.
  const table = /const FIELD_CONTROLS = \{([\s\S]*?)\};/.exec(script)?.[1] ?? '';
  const controls = [...new Set([...table.matchAll(/:\s*'([a-z_-]+)'/g)].map((m) => m[1]!)), 'api-key'];
  t.ok(controls.length >= 10, 'the field table was read');
  for (const id of controls) {
    t.match(html, new RegExp(`\\sid="${id}"`), `#${id} exists`);
    t.match(html, new RegExp(`\\sid="${id}-error"`), `#${id}-error exists`);
    t.match(html, new RegExp(`<label for="${id}"`), `#${id} has a label`);
    t.match(html, new RegExp(`id="${id}"[^>]*aria-describedby="[^"]*${id}-error`), `#${id} is described by its error`);
  }
  t.end();
});
