/**
 * Builds artifacts/gpu-bundle.tar.xz: everything the GPU check needs on a machine with an NVIDIA GPU and driver
 * but no network, no package registry and maybe no Node (docs/performance.md "The GPU check").
 *
 *   node scripts/gpu-bundle.ts [--out FILE] [--xz-level 0-9] [--libvulkan-deb FILE]
 *
 * The bundle, one folder `unimed-gpu-check/`:
 *   gpu-check.sh, check/gpu-check.js   the check (scripts/gpu-bundle/check.ts bundled) and its load generator
 *   bin/node                           this Node (>= 24)
 *   app/                               the service bundled by esbuild: src/server.js and the two worker threads'
 *                                      entries at the places the code looks for them, openapi.yaml, page/, and
 *                                      node_modules/ with only what cannot be bundled (native code, files read at
 *                                      run time): onnxruntime-node (linux x64: CPU + WebGPU in one library),
 *                                      sharp with its linux-x64 glibc libvips, dcmjs-codecs, @fastify/swagger-ui
 *   lib/libvulkan.so.1                 the Vulkan loader from Debian's libvulkan1 (`apt-get download`)
 *   models/demo/, inputs/              the demo model; the images and texts the check sends
 *   training/                          the exporter, for a full-size model where the machine has torch
 *
 * Compressed with xz -9 on one thread; the build prints the size and fails past 64 MiB.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { writeBenchJpeg } from '../bench/inputs.ts';

const ROOT = resolve(import.meta.dirname, '..');
export const LIMIT_BYTES = 64 * 1024 * 1024;
export const BUNDLE_NAME = 'unimed-gpu-check';

/** The service's entry and the worker threads' entries (src/engine/encoder.ts, src/inputs/decoder/pixel-decoder.ts). */
const SERVICE_ENTRIES = ['src/server.ts', 'src/engine/worker.ts', 'src/inputs/decoder/worker.ts'];

/**
 * Packages loaded at run time instead of bundled: native code (onnxruntime-node, sharp), a CommonJS module loaded
 * through createRequire (dcmjs-codecs, src/inputs/dicom/codecs.ts), files served from the package's own folder
 * (@fastify/swagger-ui). They are copied with their dependencies.
 */
const EXTERNAL = ['onnxruntime-node', 'sharp', 'dcmjs-codecs', '@fastify/swagger-ui'];
/**
 * Carried as one file each instead of with their dependencies: dcmjs-codecs is a webpack bundle that requires dcmjs
 * (and through it core-js, 16 MB of small files); bundled with esbuild into its own main file (CommonJS, so
 * `__dirname` still finds its WebAssembly file beside it), with its non-JavaScript files beside it.
 */
const PREBUNDLED = new Set(['dcmjs-codecs']);
/** Dependencies only an install script uses (onnxruntime-node's downloader), never the service. */
const NOT_AT_RUN_TIME = new Set(['adm-zip', 'global-agent']);
/** Optional platform packages other than linux x64 glibc. */
const OTHER_PLATFORM = /^@img\/sharp-(?!linux-x64$|libvips-linux-x64$)|^@esbuild\//;

const log = (message: string): void => void process.stderr.write(`[gpu-bundle] ${message}\n`);

/**
 * Each `import.meta.url` in src/ becomes the URL the file would have in the bundle's app/ (src/engine/encoder.ts ->
 * app/src/engine/encoder.js), written relative to the output file, so `new URL('./worker.js', import.meta.url)`
 * and `new URL('../../../openapi.yaml', import.meta.url)` find what they found in the repository.
 */
function sourceUrls(outfile: string, appDir: string): Plugin {
  return {
    name: 'source-urls',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const fromRoot = relative(ROOT, args.path);
        if (fromRoot.startsWith('..') || !source.includes('import.meta.url')) return undefined;
        const virtual = join(appDir, fromRoot.replace(/\.ts$/, '.js'));
        let rel = relative(dirname(outfile), virtual).split(sep).join('/');
        if (!rel.startsWith('.')) rel = `./${rel}`;
        return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

async function bundleService(appDir: string): Promise<void> {
  for (const entry of SERVICE_ENTRIES) {
    const outfile = join(appDir, entry.replace(/\.ts$/, '.js'));
    await build({
      entryPoints: [join(ROOT, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      external: EXTERNAL,
      plugins: [sourceUrls(outfile, appDir)],
      // CommonJS dependencies call require() (node: builtins, optional modules): give the ES module one.
      banner: { js: "import { createRequire as __unimedRequire } from 'node:module'; const require = __unimedRequire(import.meta.url);" },
      legalComments: 'none',
      logLevel: 'warning',
    });
  }
}

/** node_modules folder holding `name` as seen from package folder `from` (Node's lookup: nested first, then up). */
function resolvePackage(name: string, from: string): string | undefined {
  for (let dir = from; dir.startsWith(ROOT); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === ROOT) break;
  }
  return undefined;
}

/** Copies `names` and their dependencies (optional ones when installed) into appDir/node_modules, same layout. */
async function copyPackages(names: string[], appDir: string): Promise<string[]> {
  const done = new Set<string>();
  const queue = names.map((name) => ({ name, from: ROOT }));
  while (queue.length > 0) {
    const { name, from } = queue.shift()!;
    if (NOT_AT_RUN_TIME.has(name) || OTHER_PLATFORM.test(name)) continue;
    const dir = resolvePackage(name, from);
    if (dir === undefined) continue; // an optional dependency not installed here
    if (done.has(dir)) continue;
    done.add(dir);
    const target = join(appDir, relative(ROOT, dir));
    if (PREBUNDLED.has(name)) {
      await prebundle(dir, target);
      continue;
    }
    cpSync(dir, target, {
      recursive: true,
      dereference: true,
      // Nested node_modules are copied as packages of their own; types, maps and other platforms' binaries are not needed.
      filter: (src) => !/[\\/]node_modules$|\.(md|map|d\.[cm]?ts)$|[\\/]bin[\\/]napi-v6[\\/](darwin|win32|linux[\\/]arm64)$/.test(src),
    });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push({ name: dep, from: dir });
  }
  return [...done].map((dir) => relative(join(ROOT, 'node_modules'), dir)).sort();
}

async function prebundle(dir: string, target: string): Promise<void> {
  const main = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { main: string }).main;
  cpSync(dir, target, { recursive: true, filter: (src) => !/[\\/]node_modules$|\.(js|ts|md|html)$/.test(src) });
  await build({
    entryPoints: [join(dir, main)],
    outfile: join(target, main),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
}

/** The node binary without its symbol table and debug sections (what addons link against, .dynsym, stays). */
function copyNode(target: string): void {
  copyFileSync(process.execPath, target);
  try {
    execFileSync('strip', [target], { stdio: 'ignore' });
  } catch {
    log('strip is not installed: node carried with its symbols (larger bundle)');
  }
}

/** libvulkan.so.1 (and its copyright) from Debian's libvulkan1 package, fetched with `apt-get download` unless given. */
function vulkanLoader(libDir: string, cacheDir: string, deb?: string): void {
  mkdirSync(cacheDir, { recursive: true });
  let file = deb;
  if (file === undefined) {
    file = readdirSync(cacheDir)
      .filter((n) => /^libvulkan1_.*_amd64\.deb$/.test(n))
      .map((n) => join(cacheDir, n))[0];
    if (file === undefined) {
      log('apt-get download libvulkan1 (the Vulkan loader; Debian package)');
      const download = (): void => void execFileSync('apt-get', ['download', 'libvulkan1:amd64'], { cwd: cacheDir, stdio: 'ignore' });
      try {
        download();
      } catch {
        // No package lists yet (a fresh machine): as .ci/run does for promtool, update them once and try again.
        try {
          execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
          download();
        } catch (err) {
          throw new Error(`apt-get download libvulkan1 failed (apt-get update, or pass --libvulkan-deb FILE): ${String(err)}`, {
            cause: err,
          });
        }
      }
      file = readdirSync(cacheDir)
        .filter((n) => /^libvulkan1_.*\.deb$/.test(n))
        .map((n) => join(cacheDir, n))[0];
      if (file === undefined) throw new Error('apt-get download libvulkan1 left no .deb');
    }
  }
  const unpacked = join(cacheDir, 'libvulkan1');
  rmSync(unpacked, { recursive: true, force: true });
  execFileSync('dpkg', ['-x', file, unpacked]);
  const so = join(unpacked, 'usr/lib/x86_64-linux-gnu/libvulkan.so.1');
  if (!existsSync(so)) throw new Error(`${file} holds no usr/lib/x86_64-linux-gnu/libvulkan.so.1`);
  mkdirSync(libDir, { recursive: true });
  copyFileSync(realpathSync(so), join(libDir, 'libvulkan.so.1'));
  copyFileSync(join(unpacked, 'usr/share/doc/libvulkan1/copyright'), join(libDir, 'libvulkan1.copyright'));
  writeFileSync(join(libDir, 'libvulkan1.source'), `${file.split('/').pop()!}\n`);
}

/** The images (JPEGs made here, and the model's golden PNGs at run time) and texts the check sends. */
async function inputs(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const seed of [7, 1, 2, 3]) await writeBenchJpeg(join(dir, `image-${seed}.jpg`), seed);
}

function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

export interface BundleResult {
  file: string;
  bytes: number;
  unpackedBytes: number;
  packages: string[];
}

export async function buildGpuBundle(options: { out: string; xzLevel?: number; libvulkanDeb?: string }): Promise<BundleResult> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new Error(`run it with Node >= 24 (this is ${process.version}): export PATH="$(scripts/node.sh):$PATH"`);
  const out = resolve(options.out);
  const stage = `${out}.stage`;
  const top = join(stage, BUNDLE_NAME);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(top, { recursive: true });
  const app = join(top, 'app');

  log('bundling the service (esbuild)');
  await bundleService(app);
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  // Read by src/version.ts; "type": "module" makes the bundled .js files ES modules.
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'unimed-serve', version, private: true, type: 'module' }, null, 2)}\n`,
  );
  copyFileSync(join(ROOT, 'openapi.yaml'), join(app, 'openapi.yaml'));
  cpSync(join(ROOT, 'page'), join(app, 'page'), { recursive: true });
  const packages = await copyPackages(EXTERNAL, app);
  log(`packages carried: ${packages.join(', ')}`);

  log('bundling the check (esbuild)');
  await build({
    entryPoints: [join(ROOT, 'scripts/gpu-bundle/check.ts')],
    outfile: join(top, 'check/gpu-check.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    legalComments: 'none',
    logLevel: 'warning',
  });
  writeFileSync(join(top, 'check/package.json'), '{ "type": "module" }\n');
  copyFileSync(join(ROOT, 'scripts/gpu-bundle/gpu-check.sh'), join(top, 'gpu-check.sh'));

  mkdirSync(join(top, 'bin'));
  copyNode(join(top, 'bin/node'));
  vulkanLoader(join(top, 'lib'), join(ROOT, 'artifacts/.cache'), options.libvulkanDeb);
  cpSync(join(ROOT, 'models/demo'), join(top, 'models/demo'), { recursive: true });
  await inputs(join(top, 'inputs'));
  cpSync(join(ROOT, 'training'), join(top, 'training'), {
    recursive: true,
    filter: (src) => !/[\\/](tests|launch|__pycache__)$|Dockerfile$/.test(src),
  });
  writeFileSync(join(top, 'VERSION'), `unimed-serve ${version}, node ${process.version}, built ${new Date().toISOString()}\n`);

  const unpackedBytes = sizeOf(top);
  const xzLevel = options.xzLevel ?? 9;
  // Plain -9 (52.65 MiB, about 2.5 CPU minutes): -9e (extreme) saved 0.03 MiB for more time.
  const level = `-${xzLevel}`;
  log(`compressing ${(unpackedBytes / 2 ** 20).toFixed(1)} MiB with xz ${level}`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(
    'bash',
    [
      '-c',
      `set -o pipefail; tar -C "$1" --owner=0 --group=0 --sort=name -cf - "$2" | xz ${level} -T1 -c > "$3"`,
      'tar',
      stage,
      BUNDLE_NAME,
      out,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  rmSync(stage, { recursive: true, force: true });
  const bytes = statSync(out).size;
  return { file: out, bytes, unpackedBytes, packages };
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'xz-level': { type: 'string' }, 'libvulkan-deb': { type: 'string' } },
  });
  const result = await buildGpuBundle({
    out: values.out ?? join(ROOT, 'artifacts/gpu-bundle.tar.xz'),
    ...(values['xz-level'] === undefined ? {} : { xzLevel: Number(values['xz-level']) }),
    ...(values['libvulkan-deb'] === undefined ? {} : { libvulkanDeb: values['libvulkan-deb'] }),
  });
  const mib = (result.bytes / 2 ** 20).toFixed(2);
  process.stdout.write(
    `${relative(process.cwd(), result.file) || result.file}: ${result.bytes} bytes (${mib} MiB; limit 64 MiB), ${(result.unpackedBytes / 2 ** 20).toFixed(1)} MiB unpacked\n`,
  );
  if (result.bytes > LIMIT_BYTES) {
    process.stderr.write(`gpu-bundle: ${mib} MiB is over the 64 MiB limit\n`);
    process.exit(1);
  }
}
