/**
 * A real Orthanc (Debian's `orthanc` with `orthanc-dicomweb`) for the DICOMweb integration tests: loopback port,
 * temporary storage and index, basic auth, no DICOM listener. Started, waited for on its /system endpoint (a
 * condition, not a sleep), and stopped by the caller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort, until } from './common.ts';
import { findTool, requireTool } from './tools.ts';

export const ORTHANC_PLUGINS = '/usr/share/orthanc/plugins';
export const ORTHANC_INSTALL = 'apt-get install orthanc orthanc-dicomweb';

/**
 * The Orthanc binary when it and its DICOMweb plugin are installed (and `also`, other tools the test needs);
 * otherwise undefined, the test skipped with a message (failed under CI=true).
 */
export function requireOrthanc(t: Test, also: { command: string; install: string }[] = []): string | undefined {
  const binary = findTool('Orthanc') ?? '/usr/sbin/Orthanc';
  if (!requireTool(t, binary, ORTHANC_INSTALL)) return undefined;
  const plugin = join(ORTHANC_PLUGINS, 'libOrthancDicomWeb.so');
  if (!existsSync(plugin) && !requireTool(t, plugin, ORTHANC_INSTALL)) return undefined;
  for (const { command, install } of also) if (!requireTool(t, command, install)) return undefined;
  return binary;
}

export interface Orthanc {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The DICOMweb root, as a DICOMWEB_SOURCES url. */
  dicomweb: string;
  username: string;
  password: string;
  /** Stores a DICOM file through the REST API (POST /instances). */
  store(bytes: Buffer): Promise<void>;
  /** Stops the server and waits for the process to end; safe to call twice. */
  stop(): Promise<void>;
  /** Orthanc's own log, for a failing test's message. */
  logFile: string;
}

export async function startOrthanc(binary: string): Promise<Orthanc> {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-orthanc-'));
  const port = await freePort();
  const username = 'svc';
  const password = `pw-${process.pid}-${port}`;
  const configFile = join(dir, 'orthanc.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      Name: 'unimed-test',
      StorageDirectory: join(dir, 'storage'),
      IndexDirectory: join(dir, 'index'),
      HttpPort: port,
      RemoteAccessAllowed: false,
      DicomServerEnabled: false,
      AuthenticationEnabled: true,
      RegisteredUsers: { [username]: password },
      Plugins: [ORTHANC_PLUGINS],
      DicomWeb: { Enable: true, Root: '/dicom-web/' },
    }),
  );
  const logFile = join(dir, 'orthanc.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, [configFile], { stdio: ['ignore', log, log] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const url = `http://127.0.0.1:${port}`;
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const stop = async (): Promise<void> => {
    if (running) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      'Orthanc to answer /system',
      async () => {
        if (!running) throw new Error(`Orthanc exited at start (log: ${logFile})`);
        try {
          return (await fetch(`${url}/system`, { headers: { authorization } })).ok;
        } catch {
          return false;
        }
      },
      30_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    dicomweb: `${url}/dicom-web`,
    username,
    password,
    logFile,
    stop,
    async store(bytes: Buffer) {
      const res = await fetch(`${url}/instances`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/dicom' },
        body: new Uint8Array(bytes),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Orthanc refused an instance: ${res.status} ${text}`);
    },
  };
}
