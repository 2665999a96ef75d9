/**
 * The Dockerfiles as the tests read them: the images' USER, their instructions by stage, the project's lint rules
 * and the HEALTHCHECK (test/integration/deploy-manifests.test.ts, test/deploy/image-runtime.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './common.ts';

/** The image each Dockerfile builds, as its header comment says. */
export const DOCKERFILES: Record<string, string> = {
  'unimed-serve:cpu': 'docker/Dockerfile',
  'unimed-serve:gpu': 'docker/Dockerfile.gpu',
};

/** The argument of the final stage's last USER instruction, or undefined when that stage has none (root). */
export function finalUser(text: string): string | undefined {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const lastFrom = instructions.findLastIndex((line) => /^FROM\s/i.test(line));
  const user = instructions.slice(lastFrom + 1).findLast((line) => /^USER\s/i.test(line));
  return user?.replace(/^USER\s+/i, '').trim();
}

/** The numeric uid:gid an image runs as; fails the test (and returns undefined) on anything else. */
export function imageUser(t: Test, dockerfile: string): { uid: number; gid: number } | undefined {
  const user = finalUser(readFileSync(join(ROOT, dockerfile), 'utf8'));
  const m = /^(\d+):(\d+)$/.exec(user ?? '');
  if (!m) {
    t.fail(`${dockerfile}: the final stage's USER must be a numeric uid:gid, not ${user === undefined ? 'missing (root)' : `"${user}"`}`);
    return undefined;
  }
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** One instruction of a Dockerfile, continuation lines joined, with the index of the stage it belongs to. */
export interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

export function instructions(text: string): Instruction[] {
  let stage = -1;
  return text
    .replace(/\\\r?\n(\s*#[^\n]*\n)*/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
      if (/^FROM$/i.test(keyword)) stage++;
      return { keyword: keyword.toUpperCase(), args, stage };
    });
}

/** `${NAME}` and `$NAME` replaced by the default of a global ARG (those before the first FROM). */
function resolveArgs(text: string, list: Instruction[]): string {
  const defaults = new Map(
    list
      .filter((i) => i.keyword === 'ARG' && i.stage === -1)
      .map((i) => {
        const [name = '', value = ''] = i.args.split('=', 2);
        return [name.trim(), value.trim()] as const;
      }),
  );
  return text.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => defaults.get(name) ?? whole);
}

/** Build tools that must not be in a runtime image: downloaders and compilers. */
const BUILD_TOOLS = ['curl', 'wget', 'gcc', 'g++', 'make', 'build-essential', 'cc'];

/**
 * The project's rules for its Dockerfiles (hadolint's most important ones, written as a check, plus this
 * repository's): each returns a problem as text; an empty list is a pass.
 */
export function dockerfileProblems(text: string): string[] {
  const list = instructions(text);
  const problems: string[] = [];
  const stages = list.filter((i) => i.keyword === 'FROM');
  const stageNames = new Set(stages.map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1]?.toLowerCase()).filter((n) => n !== undefined));
  const last = stages.length - 1;
  for (const from of stages) {
    const image = resolveArgs(from.args.replace(/--\S+\s+/g, '').split(/\s+/)[0] ?? '', list);
    if (stageNames.has(image.toLowerCase())) continue;
    // DL3006/DL3007: an exact tag (x.y.z, optionally with a variant), never `latest`, never a bare major.
    const tag = /^[^@]+:([^@/]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
    if (tag === undefined || tag === 'latest' || !/^\d+\.\d+\.\d+(-[\w.-]+)?$/.test(tag))
      problems.push(`FROM ${image}: base images need an exact version tag (x.y.z)`);
  }
  for (const i of list) {
    // DL3020: COPY for local files; ADD fetches URLs and unpacks archives implicitly.
    if (i.keyword === 'ADD') problems.push(`ADD ${i.args}: use COPY`);
    if (i.keyword === 'RUN') {
      if (/\b(curl|wget)\b[^|;&]*\|\s*(ba|da|z)?sh\b/.test(i.args))
        problems.push(`RUN pipes a download into a shell: ${i.args.slice(0, 60)}`);
      if (/nodejs\.org\/dist/.test(i.args))
        problems.push('Node is downloaded in a RUN: copy it from the pinned official node image instead');
      // DL3008-like: apt installs without recommends and leave no package lists behind.
      if (/apt-get\s+install/.test(i.args)) {
        if (!/--no-install-recommends/.test(i.args)) problems.push('apt-get install without --no-install-recommends');
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(i.args)) problems.push('apt-get install without removing /var/lib/apt/lists');
        if (i.stage === last) {
          const installed = i.args.split(/apt-get\s+install/)[1] ?? '';
          for (const tool of BUILD_TOOLS)
            if (new RegExp(`(^|\\s)${tool.replace('+', '\\+')}(\\s|$)`).test(installed))
              problems.push(`the runtime stage installs ${tool}`);
        }
      }
    }
    if (i.keyword === 'COPY') {
      const from = /--from=(\S+)/.exec(i.args)?.[1];
      if (from !== undefined && !stageNames.has(from.toLowerCase()) && !/:\d+\.\d+\.\d+/.test(from))
        problems.push(`COPY --from=${from}: neither a stage nor an exactly tagged image`);
    }
  }
  const final = list.filter((i) => i.stage === last);
  // Runtime images hold no downloader or compiler: the final stage proves it at build time.
  if (
    !final.some(
      (i) =>
        i.keyword === 'RUN' &&
        BUILD_TOOLS.filter((t) => t !== 'build-essential' && t !== 'g++').every((t) => i.args.includes(`command -v ${t}`)),
    )
  ) {
    problems.push(`the runtime stage does not check that ${BUILD_TOOLS.join(', ')} are absent (RUN ... command -v ... exit 1)`);
  }
  const healthcheck = final.filter((i) => i.keyword === 'HEALTHCHECK');
  if (healthcheck.length !== 1 || !/CMD \["node", "-e", /.test(healthcheck[0]!.args))
    problems.push('the runtime stage needs one HEALTHCHECK run by node (exec form: CMD ["node", "-e", ...])');
  const entrypoint = final.filter((i) => i.keyword === 'ENTRYPOINT');
  if (entrypoint.length !== 1 || !entrypoint[0]!.args.startsWith('['))
    problems.push('the runtime stage needs one exec-form ENTRYPOINT (PID 1 gets SIGTERM)');
  if (final.some((i) => i.keyword === 'CMD' && !i.args.startsWith('['))) problems.push('CMD in shell form');
  return problems;
}

/** The HEALTHCHECK command of a Dockerfile's final stage, as its exec-form argument list. */
export function healthcheckCommand(text: string): string[] {
  const list = instructions(text);
  const last = Math.max(...list.map((i) => i.stage));
  const healthcheck = list.find((i) => i.stage === last && i.keyword === 'HEALTHCHECK');
  const json = /CMD\s+(\[.*\])\s*$/.exec(healthcheck?.args ?? '')?.[1];
  if (json === undefined) throw new Error('no exec-form HEALTHCHECK in the final stage');
  return JSON.parse(json) as string[];
}

/** The environment the final stage's ENV instructions set (`ENV A=1 B=2`, or the older `ENV A 1`). */
export function imageEnv(text: string): Record<string, string> {
  const list = instructions(text);
  const last = Math.max(...list.map((i) => i.stage));
  const env: Record<string, string> = {};
  for (const i of list.filter((x) => x.stage === last && x.keyword === 'ENV')) {
    if (!i.args.includes('=')) {
      const [name = '', ...value] = i.args.split(/\s+/);
      env[name] = value.join(' ');
      continue;
    }
    for (const [, name = '', value = ''] of i.args.matchAll(/(\w+)=(\S*)/g)) env[name] = value;
  }
  return env;
}

/** The base image references of a Dockerfile's FROM lines and COPY --from, global ARG defaults resolved. */
export function baseImages(text: string): string[] {
  const list = instructions(text);
  return list
    .filter((i) => i.keyword === 'ARG' && i.stage === -1)
    .map((i) => i.args.split('=', 2)[1]?.trim() ?? '')
    .filter((v) => v.includes(':'));
}
