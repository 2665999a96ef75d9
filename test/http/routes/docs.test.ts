// /docs (Swagger UI, src/http/routes/docs.ts) is served with a Content-Security-Policy as tight as the page's: no
// https: wildcard, no image from validator.swagger.io, no inline script, and the page asks for no validator.
import t from 'tap';
import { DOCS_CSP } from '../../../src/http/routes/docs.ts';
import { Metrics } from '../../../src/metrics.ts';
import { testConfig } from '../../helpers/common.ts';
import { listen } from '../../helpers/http.ts';

// No registry: the documentation needs no model.
const { app, url } = await listen(testConfig(), undefined, new Metrics({ defaultMetrics: false }));
t.teardown(() => app.close());

t.test('/docs and its files carry the tight Content-Security-Policy', async (t) => {
  for (const path of ['/docs', '/docs/static/index.html', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui.css']) {
    const res = await fetch(url + path);
    t.equal(res.status, 200, path);
    const csp = res.headers.get('content-security-policy') ?? '';
    t.equal(csp, DOCS_CSP, `${path}: the service's policy`);
    t.notMatch(csp, /https:|validator\.swagger\.io|unsafe-inline|unsafe-eval/, `${path}: no https: wildcard, validator or unsafe source`);
    await res.arrayBuffer();
  }
  t.match(DOCS_CSP, /(^|; )img-src 'self' data:(;|$)/);
  t.match(DOCS_CSP, /(^|; )frame-ancestors 'none'(;|$)/);
});

t.test('the page loads only its own scripts and asks for no validator', async (t) => {
  const html = await (await fetch(url + '/docs/static/index.html')).text();
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script (script-src is self only)');
  t.notMatch(html, /\b(src|href)="(https?:)?\/\//, 'nothing from another origin');
  const init = await (await fetch(url + '/docs/static/swagger-initializer.js')).text();
  t.match(init, /validatorUrl: null/, 'validatorUrl none: no validator badge image');
});
