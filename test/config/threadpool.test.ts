// UV_THREADPOOL_SIZE (src/config/threadpool.ts): libuv's pool, where sharp decodes 8-bit images, is sized to the CPU
// quota unless the variable is set, and the module that does it runs before anything can start the pool.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { sizeThreadpool } from '../../src/config/threadpool.ts';
import { ROOT } from '../helpers/common.ts';

t.test('unset: max(4, CPU quota), at most libuv 1024; set: kept as it is', (t) => {
  const cases: [Record<string, string>, number, string][] = [
    [{}, 16, '16'],
    [{}, 2, '4'],
    [{ UV_THREADPOOL_SIZE: '' }, 8, '8'],
    [{}, 5000, '1024'],
    [{ UV_THREADPOOL_SIZE: '7' }, 16, '7'],
  ];
  for (const [env, cpus, expected] of cases) {
    t.equal(sizeThreadpool(env, cpus), expected, `${JSON.stringify(env)}, ${cpus} CPUs`);
    t.equal(env.UV_THREADPOOL_SIZE, expected, 'written to the environment libuv reads');
  }
  t.end();
});

t.test("it is src/server.ts's first import", (t) => {
  const server = readFileSync(join(ROOT, 'src/server.ts'), 'utf8');
  t.match(/^import .*$/m.exec(server)?.[0], "import './config/threadpool.ts';");
  t.end();
});

t.test('a process that imports it first gets that many libuv threads', (t) => {
  // The variable set by a module, not by the parent: what src/server.ts relies on.
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    const { sizeThreadpool } = await import('./src/config/threadpool.ts');
    delete process.env.UV_THREADPOOL_SIZE;
    const size = sizeThreadpool(process.env, 6);
    await import('node:fs/promises').then((fs) => fs.readFile('package.json'));
    const threads = readdirSync('/proc/self/task').filter((id) => readFileSync('/proc/self/task/' + id + '/comm', 'utf8').trim() === 'libuv-worker');
    console.log(JSON.stringify({ size, threads: threads.length }));`;
  const env = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env }).toString();
  t.same(JSON.parse(out), { size: '6', threads: 6 });
  t.end();
});
