// The GPU check's bundle (scripts/gpu-bundle.ts, docs/performance.md "The GPU check"): built into a temporary
// folder, at most 64 MiB, unpacked there, and its check run the way the GPU machine runs it: with a PATH that holds
// no node and no npm (only the bundled Node can run it), HOME and the working folder in the temporary folder.
// On CPU (--provider cpu) it passes and prints the golden check, parity, the figures and provider cpu; asked for
// WebGPU on this machine (no GPU, no Vulkan driver) it says plainly why WebGPU cannot start, still with the CPU's
// figures, and exits 3 rather than crashing. Needs xz and dpkg (and apt-get to fetch libvulkan1 once).
// GPU_BUNDLE_XZ_LEVEL (default 9, what is shipped) makes the build quicker where the size is not the point.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/common.ts';
import { findTool, requireTool } from '../helpers/tools.ts';

t.setTimeout(900_000);

const LIMIT = 64 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'unimed-gpu-bundle-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `command` to its end (bounded), with its output. */
async function run(command: string, args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs: number }) {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

/** A PATH of links to the few programs the check script uses: no node, no npm. */
function strippedPath(): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['dirname', 'grep', 'ldd', 'ldconfig', 'nvidia-smi']) {
    const path = findTool(tool) ?? findTool(`/sbin/${tool}`);
    if (path !== undefined) symlinkSync(path, join(bin, tool));
  }
  return bin;
}

const result = (output: string): { used: string; figures: Record<string, { imagesPerSecond: number[]; textsPerSecond: number[] }> } => {
  const line = output.split('\n').find((l) => l.startsWith('GPU-CHECK-RESULT '));
  return JSON.parse(line?.slice('GPU-CHECK-RESULT '.length) ?? '{}') as ReturnType<typeof result>;
};

t.test(
  'the GPU bundle: built, <= 64 MiB, its check passes on CPU with only bundled files, and explains why WebGPU cannot start',
  async (t) => {
    if (!requireTool(t, 'xz', 'apt-get install xz-utils') || !requireTool(t, 'dpkg', 'Debian')) return;
    const archive = join(dir, 'gpu-bundle.tar.xz');
    const level = process.env.GPU_BUNDLE_XZ_LEVEL ?? '9';
    const built = await run(process.execPath, [join(ROOT, 'scripts/gpu-bundle.ts'), '--out', archive, '--xz-level', level], {
      cwd: ROOT,
      env: { ...(process.env as Record<string, string>) },
      timeoutMs: 600_000,
    });
    t.equal(built.code, 0, built.code === 0 ? 'the build succeeds' : built.output.slice(-2000));
    t.match(built.output, /gpu-bundle\.tar\.xz: \d+ bytes \([\d.]+ MiB; limit 64 MiB\)/, 'the build prints the size');
    const bytes = statSync(archive).size;
    t.ok(bytes <= LIMIT, `${bytes} bytes <= 64 MiB`);

    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-C', unpacked, '-xJf', archive]);
    const top = join(unpacked, 'unimed-gpu-check');
    for (const file of [
      'gpu-check.sh',
      'check/gpu-check.js',
      'bin/node',
      'app/src/server.js',
      'app/src/engine/worker.js',
      'app/src/inputs/decoder/worker.js',
      'app/openapi.yaml',
      'app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
      'app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      'app/node_modules/@img/sharp-linux-x64/package.json',
      'app/node_modules/dcmjs-codecs/build/dcmjs-native-codecs.wasm',
      'lib/libvulkan.so.1',
      'models/demo/model.json',
      'training/export.py',
    ]) {
      t.ok(existsSync(join(top, file)), `the bundle holds ${file}`);
    }
    t.ok(
      readdirSync(join(top, 'app/node_modules/@img/sharp-libvips-linux-x64/lib')).some((n) => /^libvips-cpp\.so/.test(n)),
      "sharp's libvips for linux x64 (glibc)",
    );
    t.notOk(existsSync(join(top, 'app/node_modules/onnxruntime-node/bin/napi-v6/win32')), "no other platform's onnxruntime");

    const home = join(dir, 'home');
    mkdirSync(home);
    const env = { PATH: strippedPath(), HOME: home, LANG: 'C.UTF-8' };
    const onPath = (tool: string): boolean => env.PATH.split(':').some((d) => existsSync(join(d, tool)));
    t.notOk(onPath('node') || onPath('npm'), 'no node and no npm on the check’s PATH');
    const quick = ['--model', 'demo', '--seconds', '1', '--warmup', '0.5'];

    const cpu = await run(join(top, 'gpu-check.sh'), ['--provider', 'cpu', ...quick, '--work', join(dir, 'work-cpu')], {
      cwd: home,
      env,
      timeoutMs: 240_000,
    });
    t.equal(cpu.code, 0, cpu.code === 0 ? 'the CPU check passes' : cpu.output.slice(-3000));
    t.match(cpu.output, /golden check passed/, 'the golden check passed');
    t.match(cpu.output, /parity with the CPU run .*min cosine images 1\.0+, texts 1\.0+/, 'parity, min cosine printed');
    t.match(cpu.output, /images\/s(\s+[\d.]+){3}\n/, 'images/s at three concurrencies');
    t.match(cpu.output, /texts\/s(\s+[\d.]+){3}\n/, 'texts/s at three concurrencies');
    t.match(cpu.output, /provider actually used: cpu \(asked for cpu\)/, 'the provider the service reports');
    t.match(cpu.output, /RESULT: PASS/);
    const cpuResult = result(cpu.output);
    t.equal(cpuResult.used, 'cpu');
    t.ok(
      [...(cpuResult.figures.cpu?.imagesPerSecond ?? []), ...(cpuResult.figures.cpu?.textsPerSecond ?? [])].every((x) => x > 0),
      'every figure is above 0',
    );

    const webgpu = await run(join(top, 'gpu-check.sh'), [...quick, '--concurrency', '1,16', '--work', join(dir, 'work-webgpu')], {
      cwd: home,
      env,
      timeoutMs: 240_000,
    });
    if (findTool('nvidia-smi') !== undefined) {
      t.ok(webgpu.code === 0 || webgpu.code === 3, `a machine with a GPU: passed or explained (${webgpu.code})`);
      return;
    }
    t.equal(webgpu.code, 3, webgpu.code === 3 ? 'exit 3: the CPU checks passed, WebGPU unavailable' : webgpu.output.slice(-3000));
    t.match(webgpu.output, /WebGPU cannot start here: the service fell back to cpu\. Why:/, 'says plainly that WebGPU cannot start');
    t.match(webgpu.output, /no NVIDIA GPU is visible/, 'names the missing GPU');
    t.match(webgpu.output, /no NVIDIA Vulkan driver/, 'names the missing Vulkan driver');
    t.match(webgpu.output, /onnxruntime: (image|text) encoder: .*WebGPU adapter/, "and onnxruntime's own reason");
    t.match(webgpu.output, /images\/s(\s+[\d.]+){2}\n/, "the CPU's figures all the same");
    t.match(webgpu.output, /provider actually used: cpu \(asked for webgpu\)/);
    t.match(webgpu.output, /RESULT: WEBGPU UNAVAILABLE/);
    t.notMatch(webgpu.output, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
  },
);
