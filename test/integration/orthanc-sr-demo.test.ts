// docs/pacs.md's one-command recipe, scripts/orthanc-sr-demo.sh, run as written on free ports: from nothing to a
// DICOM SR listed by a real Orthanc under the study, through a job of the service (its own process). Needs `orthanc`
// and `orthanc-dicomweb`, curl.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { freePort, ROOT } from '../helpers/common.ts';
import { requireOrthanc } from '../helpers/orthanc.ts';

t.test('scripts/orthanc-sr-demo.sh leaves an SR in Orthanc under the study, and stops what it started', async (t) => {
  const binary = requireOrthanc(t, [{ command: 'curl', install: 'apt-get install curl' }]);
  if (binary === undefined) return;
  const [orthancPort, servicePort] = [await freePort(), await freePort()];
  const script = spawn(join(ROOT, 'scripts/orthanc-sr-demo.sh'), [], {
    env: { ...process.env, ORTHANC: binary, ORTHANC_PORT: String(orthancPort), SERVICE_PORT: String(servicePort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  script.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  script.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const [code] = (await once(script, 'exit')) as [number | null];
  t.equal(code, 0, output);
  t.match(
    output,
    /^series 1\.2\.826\.0\.1\.3680043\.8\.498\.4242\.1: ct; SR 2\.25\.\d+ stored$/m,
    'the job classified the series and stored its SR',
  );
  const sr = /SR (2\.25\.\d+) stored/.exec(output)?.[1];
  t.match(
    output,
    /^ {2}SR series 2\.25\.\d+: "unimed-serve classification \(research aid\)", 1 instance\(s\)$/m,
    'Orthanc lists it under the study',
  );
  t.ok(sr, 'the SR UID is printed');
  for (const port of [orthancPort, servicePort])
    t.notOk(
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      ),
      `nothing listens on ${port} afterwards`,
    );
});
