/**
 * The sample answers shown in README.md and docs/*.md are the demo model's real answers. Each sits between
 * `<!-- sample: NAME -->` and `<!-- /sample -->` as a ```text block, right after the command it answers.
 *
 *   node scripts/docs-samples.ts [URL]   asks a running service (default http://localhost:8080: `npm start`, which
 *                                        serves models/demo) every sample's request and writes the answers in
 *
 * test/docs/samples.test.ts asks its own demo service the same requests and compares with what the docs show
 * (same text, numbers within NUMBER_TOLERANCE), so a sample cannot drift from what the service answers.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** Numbers are shown rounded to 4 decimals; a fresh answer may differ by float noise and one rounding step. */
export const NUMBER_TOLERANCE = 2e-4;

interface Sample {
  name: string;
  /** The request, as the command next to the sample sends it. */
  request: (url: string) => Promise<Response>;
  /** Top-level properties shown as `{...}` (long records the sample is not about). */
  cut?: string[];
}

const file = (name: string): Blob => new Blob([readFileSync(join(ROOT, 'examples', name))]);

function form(fields: [string, string | Blob, string?][]): FormData {
  const body = new FormData();
  for (const [name, value, filename] of fields) {
    if (typeof value === 'string') body.append(name, value);
    else body.append(name, value, filename);
  }
  return body;
}

const post = (url: string, body: FormData | string): Promise<Response> =>
  fetch(url, { method: 'POST', body, ...(typeof body === 'string' ? { headers: { 'content-type': 'application/json' } } : {}) });

export const SAMPLES: Sample[] = [
  {
    name: 'readme-classify',
    request: (url) =>
      post(
        `${url}/classify`,
        form([
          ['image', file('chest-xray.png'), 'chest-xray.png'],
          ['prompt_set', 'modality'],
        ]),
      ),
    cut: ['preprocessing'],
  },
  {
    name: 'readme-classify-dicom',
    request: (url) =>
      post(
        `${url}/classify`,
        form([
          ['image', file('ct.dcm'), 'ct.dcm'],
          ['window', 'ct-lung'],
          ['labels', 'chest CT'],
          ['labels', 'brain MRI'],
          ['labels', 'retinal fundus photograph'],
        ]),
      ),
    cut: ['preprocessing'],
  },
  {
    name: 'readme-embed-text',
    request: (url) => post(`${url}/embed/text`, JSON.stringify({ texts: ['chest x-ray showing consolidation', 'brain MRI'] })),
  },
  {
    name: 'api-embed-text',
    request: (url) =>
      post(`${url}/embed/text`, JSON.stringify({ texts: ['chest x-ray showing consolidation', 'brain MRI'], model: 'unimed-demo' })),
  },
  {
    name: 'api-classify-json',
    request: (url) =>
      post(
        `${url}/classify`,
        JSON.stringify({
          image: readFileSync(join(ROOT, 'examples/chest-xray.png')).toString('base64'),
          labels: ['xray', { name: 'fundus', text: 'retinal fundus' }],
        }),
      ),
    cut: ['preprocessing'],
  },
];

const round = (n: number): number => Number(n.toFixed(4));

/** A value on one line: numbers rounded, a long vector as its first four numbers and "...". */
function compact(value: unknown): string {
  if (typeof value === 'number') return String(round(value));
  if (Array.isArray(value)) {
    if (value.length > 6 && value.every((v) => typeof v === 'number')) return `[${value.slice(0, 4).map(compact).join(',')},...]`;
    return `[${value.map(compact).join(',')}]`;
  }
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${compact(v)}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** The answer as the docs show it: one property a line, each element of an array of records on its own line. */
export function render(body: unknown, cut: string[] = []): string {
  const entries = Object.entries(body as Record<string, unknown>).map(([key, value]) => {
    if (cut.includes(key)) return `${JSON.stringify(key)}:${Array.isArray(value) ? '[...]' : '{...}'}`;
    if (Array.isArray(value) && value.some((v) => typeof v === 'object' || Array.isArray(v)))
      return `${JSON.stringify(key)}:[\n  ${value.map(compact).join(',\n  ')}]`;
    return `${JSON.stringify(key)}:${compact(value)}`;
  });
  return `{${entries.join(',\n ')}}`;
}

/** Every sample's answer from the service at `url`, rendered, by name. */
export async function answers(url: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sample of SAMPLES) {
    const res = await sample.request(url);
    if (!res.ok) throw new Error(`${sample.name}: ${res.status} ${await res.text()}`);
    out.set(sample.name, render(await res.json(), sample.cut));
  }
  return out;
}

const MARKED = /<!-- sample: ([a-z0-9-]+) -->\n```text\n([\s\S]*?)\n```\n<!-- \/sample -->/g;

/** The pages that may hold samples: README.md and docs/*.md, relative to the repository root. */
export function pages(): string[] {
  return [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
}

/** The samples a page shows: name and text. */
export function samplesIn(text: string): { name: string; text: string }[] {
  return [...text.matchAll(MARKED)].map((m) => ({ name: m[1]!, text: m[2]! }));
}

/** Where two renderings differ (undefined: the same text, numbers within NUMBER_TOLERANCE). */
export function difference(shown: string, fresh: string): string | undefined {
  const numbers = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi;
  if (shown.replace(numbers, '#') !== fresh.replace(numbers, '#')) return `the text differs:\n${shown}\nanswered:\n${fresh}`;
  const a = shown.match(numbers) ?? [];
  const b = fresh.match(numbers) ?? [];
  for (let i = 0; i < a.length; i++)
    if (Math.abs(Number(a[i]) - Number(b[i])) > NUMBER_TOLERANCE) return `number ${i + 1}: shown ${a[i]}, answered ${b[i]}`;
  return undefined;
}

if (import.meta.filename === process.argv[1]) {
  const url = process.argv[2] ?? 'http://localhost:8080';
  const fresh = await answers(url);
  for (const page of pages()) {
    const path = join(ROOT, page);
    const text = readFileSync(path, 'utf8');
    const updated = text.replace(MARKED, (whole, name: string) => {
      const answer = fresh.get(name);
      if (answer === undefined) throw new Error(`${page}: no sample named ${name} in scripts/docs-samples.ts`);
      return `<!-- sample: ${name} -->\n\`\`\`text\n${answer}\n\`\`\`\n<!-- /sample -->`;
    });
    if (updated !== text) {
      writeFileSync(path, updated);
      process.stdout.write(`${page}: ${samplesIn(updated).length} sample(s) written\n`);
    }
  }
}
