// The table "Environment variables" of docs/configuration.md is the one list of the service's environment variables
// (docs/deployment.md points to it): every variable that src/config.ts and src/config/*.ts read has a row, with a default and a meaning, and
// every row names a variable they read.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/common.ts';

/** Variable names the configuration code reads: `integer(env, 'NAME', ...)`, `list(env, 'NAME', ...)`,
 * `env.NAME` and `env['NAME']`. */
function variablesRead(): Set<string> {
  const files = [
    'src/config.ts',
    ...readdirSync(join(ROOT, 'src/config'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `src/config/${f}`),
  ];
  const names = new Set<string>();
  const gone = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/\(\s*env,\s*'([A-Z][A-Z0-9_]*)'|\benv\.([A-Z][A-Z0-9_]*)\b|\benv\['([A-Z][A-Z0-9_]*)'\]/g))
      names.add((m[1] ?? m[2] ?? m[3])!);
    // A variable read only to refuse it (`ConfigError('NAME is gone: ...')`) is no longer configuration.
    for (const m of text.matchAll(/ConfigError\('([A-Z][A-Z0-9_]*) is gone/g)) gone.add(m[1]!);
  }
  for (const name of gone) names.delete(name);
  return names;
}

const HEADING = '\n## Environment variables\n';

/** The rows of the table under docs/configuration.md's "## Environment variables": variable, default, meaning. */
function documented(): Map<string, { fallback: string; meaning: string }> {
  const page = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
  const start = page.indexOf(HEADING);
  if (start < 0) throw new Error(`docs/configuration.md has no "${HEADING.trim()}" section`);
  const section = page.slice(start, page.indexOf('\n## ', start + 1));
  const rows = new Map<string, { fallback: string; meaning: string }>();
  // A row may name several variables that go together: | `TLS_CERT_FILE`, `TLS_KEY_FILE` | ... |
  for (const m of section.matchAll(/^\| ((?:`[A-Z][A-Z0-9_]*`(?:, )?)+) \| (.*?) \| (.*) \|$/gm)) {
    for (const name of m[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) rows.set(name[1]!, { fallback: m[2]!.trim(), meaning: m[3]!.trim() });
  }
  return rows;
}

t.test("every environment variable the service reads is in docs/configuration.md's table, and nothing else", (t) => {
  const read = variablesRead();
  const rows = documented();
  t.ok(read.size >= 40, `the configuration reads ${read.size} variables`);
  for (const name of [...read].sort()) {
    const row = rows.get(name);
    t.ok(row, `${name} has a row`);
    if (row) t.ok(row.fallback !== '' && row.meaning !== '', `${name}: a default and a meaning`);
  }
  t.same(
    [...rows.keys()].filter((name) => !read.has(name)),
    [],
    'no row for a variable the service does not read',
  );
  t.end();
});
