// Inline labels and templates (src/service/classes.ts) have one form: NFC-normalised, and refused (400 naming the
// field) when they hold zero-width or bidi control characters, so a look-alike label is not a second class.
// Real /classify requests on 127.0.0.1:0 with the demo model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEMO, loadRegistry } from '../helpers/common.ts';
import { type ClassifyBody, listen } from '../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry();
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const image = readFileSync(join(DEMO, 'golden_resized.png')).toString('base64');

async function classify(
  body: object,
): Promise<{ status: number; json: ClassifyBody & { error?: { code: string; message: string; field?: string } } }> {
  const res = await fetch(url + '/classify', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image, ...body }),
  });
  return { status: res.status, json: (await res.json()) as ClassifyBody & { error?: { code: string; message: string; field?: string } } };
}

t.test('zero-width and bidi control characters in a label or template: 400 naming the field', async (t) => {
  for (const control of ['\u200b', '\u200d', '\u200e', '\u202e', '\u2066', '\u2069', '\ufeff']) {
    const hex = control.codePointAt(0)!.toString(16);
    const label = await classify({ labels: ['pneumonia', `pneumonia${control}`] });
    t.equal(label.status, 400, `a label with U+${hex}`);
    t.match(label.json.error, { code: 'bad_request', field: 'labels', message: /label 1 holds a zero-width or bidirectional control/ });
    const named = await classify({ labels: ['pneumonia', { name: `effusion${control}`, text: 'effusion' }] });
    t.match(named.json.error, { field: 'labels' }, `a label name with U+${hex}`);
    const text = await classify({ labels: ['pneumonia', { name: 'effusion', text: `effu${control}sion` }] });
    t.match(text.json.error, { field: 'labels' }, `a label text with U+${hex}`);
    const template = await classify({ labels: ['pneumonia', 'effusion'], templates: ['a photo of {}', `a ${control}scan of {}`] });
    t.equal(template.status, 400, `a template with U+${hex}`);
    t.match(template.json.error, { code: 'bad_request', field: 'templates', message: /template 1 holds/ });
  }
});

t.test('labels and templates are NFC-normalised: composed and decomposed accents are one label', async (t) => {
  const composed = 'opacit\u00e9';
  const decomposed = 'opacite\u0301';
  const twice = await classify({ labels: [composed, decomposed] });
  t.equal(twice.status, 400, 'the same label twice once normalised');
  t.match(twice.json.error, { field: 'labels', message: /given twice/ });

  const nfc = await classify({ labels: [composed, 'effusion'], templates: ['r\u00e9sum\u00e9: {}'] });
  const nfd = await classify({ labels: [decomposed, 'effusion'], templates: ['re\u0301sume\u0301: {}'] });
  t.equal(nfc.status, 200);
  t.equal(nfd.status, 200);
  t.same(
    nfd.json.predictions.map((p) => p.label),
    nfc.json.predictions.map((p) => p.label),
    'the label comes back in its composed form',
  );
  t.ok(nfd.json.predictions.some((p) => p.label === composed));
  t.same(
    nfd.json.predictions.map((p) => p.similarity),
    nfc.json.predictions.map((p) => p.similarity),
    'decomposed label and template score as the composed ones',
  );
});

t.test('ASCII labels and templates are unchanged', async (t) => {
  const res = await classify({ labels: [' brain  MRI ', 'chest x-ray'], templates: ['a photo of {}'] });
  t.equal(res.status, 200);
  t.same(res.json.predictions.map((p) => p.label).sort(), [' brain  MRI ', 'chest x-ray']);
});
