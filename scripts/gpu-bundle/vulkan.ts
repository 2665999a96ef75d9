/**
 * What WebGPU needs on Linux, looked at before the service asks for it: onnxruntime's WebGPU provider is Dawn on
 * Vulkan, so it needs the Vulkan loader (libvulkan.so.1: the bundle's lib/, from Debian's libvulkan1), a Vulkan
 * driver (an ICD: for NVIDIA, a manifest such as nvidia_icd.json naming libGLX_nvidia.so.0, part of the driver) and
 * the GPU's device files. In a container the NVIDIA runtime mounts the Vulkan part of the driver only with the
 * `graphics` capability (NVIDIA_DRIVER_CAPABILITIES). When the driver's library is there but no manifest names it,
 * one is written for it (VK_ICD_FILENAMES).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VulkanSetup {
  /** Lines describing what was found, printed as they are. */
  facts: string[];
  /** Environment for the service (LD_LIBRARY_PATH with the bundled loader; VK_ICD_FILENAMES when written here). */
  env: Record<string, string>;
  /** Why WebGPU cannot work here, when that is already certain or likely (no driver, no device). */
  problems: string[];
  gpu?: string;
}

const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/local/etc/vulkan/icd.d'];
const DRIVER_LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/nvidia/lib64',
  '/usr/local/nvidia/lib',
  '/lib/x86_64-linux-gnu',
];

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The NVIDIA GPU's name and driver, from nvidia-smi when the machine has it. */
export function nvidiaGpu(): string | undefined {
  const out = run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  return out === undefined || out === '' ? undefined : out.split('\n').join('; ');
}

function icdManifests(env: NodeJS.ProcessEnv): string[] {
  const named = (env.VK_ICD_FILENAMES ?? env.VK_DRIVER_FILES ?? '').split(':').filter(Boolean);
  if (named.length > 0) return named;
  const dirs = [
    ...ICD_DIRS,
    ...(env.XDG_DATA_DIRS ?? '')
      .split(':')
      .filter(Boolean)
      .map((d) => join(d, 'vulkan/icd.d')),
  ];
  const found: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (name.endsWith('.json')) found.push(join(dir, name));
  }
  return found;
}

function findLibrary(name: string): string | undefined {
  const ldconfig = run('ldconfig', ['-p']) ?? run('/sbin/ldconfig', ['-p']);
  const fromCache = ldconfig
    ?.split('\n')
    .find((l) => l.trim().startsWith(`${name} `) && l.includes('x86-64'))
    ?.split('=> ')[1]
    ?.trim();
  if (fromCache !== undefined) return fromCache;
  return DRIVER_LIB_DIRS.map((d) => join(d, name)).find((p) => existsSync(p));
}

export function prepareVulkan(bundle: string, workDir: string, env: NodeJS.ProcessEnv = process.env): VulkanSetup {
  const facts: string[] = [];
  const problems: string[] = [];
  const lib = join(bundle, 'lib');
  const out: Record<string, string> = { LD_LIBRARY_PATH: [lib, env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  facts.push(
    `Vulkan loader: ${existsSync(join(lib, 'libvulkan.so.1')) ? `${lib}/libvulkan.so.1 (Debian libvulkan1)` : 'missing from the bundle'}`,
  );

  const gpu = nvidiaGpu();
  const devices = existsSync('/dev') ? readdirSync('/dev').filter((n) => /^nvidia\d+$/.test(n)) : [];
  facts.push(
    `NVIDIA GPU: ${gpu ?? 'nvidia-smi not found or failed'}; device files: ${devices.length > 0 ? devices.map((d) => `/dev/${d}`).join(', ') : 'none'}`,
  );
  if (devices.length === 0 && gpu === undefined)
    problems.push('no NVIDIA GPU is visible (no /dev/nvidia* device file, no working nvidia-smi)');

  const manifests = icdManifests(env);
  const describe = (file: string): string => {
    try {
      const icd = (JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } }).ICD;
      return `${file} -> ${icd?.library_path ?? '?'}`;
    } catch {
      return `${file} (unreadable)`;
    }
  };
  facts.push(`Vulkan ICD manifests: ${manifests.length > 0 ? manifests.map(describe).join(', ') : 'none'}`);
  const nvidiaManifest = manifests.find((m) => /nvidia/i.test(describe(m)));
  const glx = findLibrary('libGLX_nvidia.so.0');
  facts.push(`NVIDIA Vulkan driver library (libGLX_nvidia.so.0): ${glx ?? 'not found'}`);
  if (nvidiaManifest === undefined && glx !== undefined) {
    const icd = join(workDir, 'nvidia_icd.json');
    writeFileSync(icd, `${JSON.stringify({ file_format_version: '1.0.1', ICD: { library_path: glx, api_version: '1.3.0' } })}\n`);
    out.VK_ICD_FILENAMES = icd;
    facts.push(`no manifest names the NVIDIA driver: wrote ${icd} for ${glx} (VK_ICD_FILENAMES)`);
  }
  if (nvidiaManifest === undefined && glx === undefined) {
    problems.push(
      "no NVIDIA Vulkan driver: no ICD manifest names it and libGLX_nvidia.so.0 is not installed (the driver's Vulkan part; " +
        'in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics, e.g. all)',
    );
  }
  return { facts, env: out, problems, ...(gpu === undefined ? {} : { gpu }) };
}

/**
 * Why onnxruntime could not start WebGPU, in plain words, from the service's log: its record of the failed provider
 * (onnxruntime's message) and what Dawn printed on stderr.
 */
export function explainWebGpuFailure(output: string, reasons: string[]): string[] {
  const plain: string[] = [];
  const text = `${output}\n${reasons.join('\n')}`;
  if (/Couldn't load Vulkan/.test(text)) plain.push('the Vulkan loader (libvulkan.so.1) could not be loaded');
  if (/No supported adapters|Failed to get a WebGPU adapter/.test(text)) {
    plain.push('Dawn found no usable Vulkan adapter (no Vulkan driver for this GPU, or the driver refused to start)');
  }
  if (/VK_ERROR_INCOMPATIBLE_DRIVER|vkCreateInstance/.test(text))
    plain.push('the Vulkan driver could not create an instance (VK_ERROR_INCOMPATIBLE_DRIVER or similar)');
  const dawn = output
    .split('\n')
    .filter((l) => /^(Warning|Error):/.test(l))
    .slice(0, 5);
  for (const line of dawn) plain.push(`Dawn: ${line.trim()}`);
  for (const reason of reasons) plain.push(`onnxruntime: ${reason.trim().split('\n')[0]!}`);
  return plain;
}
