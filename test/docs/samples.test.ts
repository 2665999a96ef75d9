// The sample answers in README.md and docs/*.md (between `<!-- sample: NAME -->` markers) are what the demo model
// answers: the same requests (scripts/docs-samples.ts) against a real service on the demo model, compared with
// the docs' text, numbers within 2e-4. A sample that drifts fails here; `node scripts/docs-samples.ts` rewrites them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { answers, difference, pages, SAMPLES, samplesIn } from '../../scripts/docs-samples.ts';
import { loadRegistry, ROOT } from '../helpers/common.ts';
import { listen } from '../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry();
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const shown = pages().flatMap((page) => samplesIn(readFileSync(join(ROOT, page), 'utf8')).map((s) => ({ page, ...s })));

t.test('every sample is shown once in the docs, and every sample shown is one the script makes', (t) => {
  for (const sample of SAMPLES) t.equal(shown.filter((s) => s.name === sample.name).length, 1, `${sample.name}: shown once`);
  t.same(
    shown.filter((s) => !SAMPLES.some((sample) => sample.name === s.name)).map((s) => `${s.page}: ${s.name}`),
    [],
    'no marker names an unknown sample',
  );
  t.end();
});

t.test("the docs' samples are the demo model's answers", async (t) => {
  const fresh = await answers(url);
  for (const { page, name, text } of shown) {
    const answer = fresh.get(name);
    if (answer === undefined) continue;
    const problem = difference(text, answer);
    t.equal(problem, undefined, `${page} ${name}${problem === undefined ? '' : `: ${problem} (node scripts/docs-samples.ts rewrites it)`}`);
  }
});

t.test('the comparison catches a drifted number and a changed label', (t) => {
  const answer = '{"predictions":[{"label":"xray","probability":0.9999,"similarity":0.6887}]}';
  t.equal(difference(answer, answer.replace('0.6887', '0.6888')), undefined, 'one rounding step is within tolerance');
  t.match(difference(answer.replace('0.6887', '0.23'), answer), /shown 0\.23, answered 0\.6887/);
  t.match(difference(answer.replace('xray', 'mri'), answer), /the text differs/);
  t.end();
});
