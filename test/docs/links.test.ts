// The links of README.md and docs/*.md lead somewhere: every relative link names a file of the repository, and
// every `#anchor` (on its own, or after a page) names a heading of that page, as GitHub makes heading anchors
// (lower case, punctuation dropped, spaces to hyphens). README's quick answers ("Use my own model", "API keys",
// "Kubernetes", "Python") are links to headings, so a renamed heading fails here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/common.ts';

const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Markdown without its fenced code blocks (a `](` inside code is no link). */
function prose(text: string): string {
  return text.replace(/^\s*```[\s\S]*?^\s*```\s*$/gm, '');
}

/** GitHub's anchors for a page's headings (a repeated heading gets -1, -2, ...). */
function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(readFileSync(join(ROOT, page), 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

t.test('every relative link and anchor of README.md and docs/*.md resolves', (t) => {
  let checked = 0;
  for (const page of PAGES) {
    for (const m of prose(readFileSync(join(ROOT, page), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? page : normalize(join(dirname(page), path));
      checked++;
      if (!existsSync(join(ROOT, file))) {
        t.fail(`${page}: ${target}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined) t.ok(anchors(file).has(anchor), `${page}: ${target}: a heading of ${file}`);
    }
  }
  t.ok(checked > 50, `${checked} links checked`);
  t.end();
});

t.test("README's quick answers are one click from a heading", (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const [answer, link] of [
    ['Use my own model', 'docs/models.md#use-your-own-model'],
    ['API keys', 'docs/security.md#api-keys'],
    ['Kubernetes', 'docs/deployment.md#kubernetes'],
    ['Python', 'docs/clients.md#python'],
  ] as const)
    t.ok(readme.includes(`**${answer}**`) && readme.includes(`](${link})`), `${answer}: ${link}`);
  t.ok(readme.split('\n').length <= 250, `README.md is ${readme.split('\n').length} lines (at most 250)`);
  t.end();
});
