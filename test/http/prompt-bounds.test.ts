// Classify prompts are bounded like any text: one `{}` per template, the filled prompt within MAX_CHARS_PER_TEXT.
// Real server on 127.0.0.1:0 with the demo model and the default limits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ClassifyBody } from '../helpers/http.ts';
import { DEMO, loadRegistry } from '../helpers/common.ts';
import { json, listen } from '../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry();
const max = config.limits.charsPerText;
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const image = readFileSync(join(DEMO, 'golden_resized.png')).toString('base64');
const classify = (labels: unknown[], templates: string[]) =>
  fetch(url + '/classify', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image, labels, templates }),
  });

t.test('a template with "{}" more than once is 400, before any text is filled or tokenized', async (t) => {
  // The case that held the event loop for 7.4 s: 2 labels of MAX_CHARS_PER_TEXT, one template of 2048 "{}".
  const labels = ['a'.repeat(max), 'b'.repeat(max)];
  const res = await classify(labels, ['{}'.repeat(2048)]);
  const body = await json(res);
  t.equal(res.status, 400);
  t.equal(body.error.code, 'bad_request');
  t.match(body.error.message, /template 0 must contain "\{\}" exactly once/);

  const twice = await classify(['ct', 'mri'], ['a {} image.', '{} and {}']);
  t.equal(twice.status, 400);
  t.match((await json(twice)).error.message, /template 1 must contain "\{\}" exactly once/);

  const form = new FormData();
  form.append('image', new Blob([readFileSync(join(DEMO, 'golden_resized.png'))]), 'scan.png');
  for (const label of ['ct', 'mri']) form.append('labels', label);
  form.append('templates', 'a {} {} image.');
  const viaForm = await fetch(url + '/classify', { method: 'POST', body: form });
  t.equal(viaForm.status, 400, 'the multipart form is held to the same rule');
  t.match((await json(viaForm)).error.message, /exactly once/);
});

t.test('a template without "{}" is 400', async (t) => {
  const res = await classify(['ct', 'mri'], ['a medical image.']);
  t.equal(res.status, 400);
  t.equal((await json(res)).error.code, 'bad_request');
});

t.test('the longest label in the longest template must stay within MAX_CHARS_PER_TEXT', async (t) => {
  const label = 'ct '.repeat(1300); // 3900 characters
  const fits = 'x'.repeat(max - label.length) + '{}'; // label + template - 2 = max
  const ok = await classify([label, 'mri'], ['a {} image.', fits]);
  t.equal(ok.status, 200, 'a prompt of exactly MAX_CHARS_PER_TEXT is accepted');
  t.equal((await json<ClassifyBody>(ok)).predictions.length, 2);

  const over = await classify(['mri', label], ['a {} image.', `y${fits}`]);
  const body = await json(over);
  t.equal(over.status, 413);
  t.equal(body.error.code, 'text_too_long');
  t.equal(body.error.message, `label 1 in template 1 makes a prompt longer than MAX_CHARS_PER_TEXT (${max} characters)`);
  t.notMatch(body.error.message, /ct ct/, 'the message names positions, not texts');

  // Characters are code points: an astral label counts one per character, as MAX_CHARS_PER_TEXT does.
  const astral = '\u{1F9E0}'.repeat(max - 2);
  const astralOk = await classify([astral, 'mri'], ['{}.!']);
  t.equal(astralOk.status, 200, 'max - 2 astral characters in a 4-character template fit');
  const astralOver = await classify([astral, 'mri'], ['{}.!?']);
  t.equal(astralOver.status, 413);
});
