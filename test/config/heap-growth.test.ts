// V8's heap growth flag (src/config/heap-growth.ts): set when node's command line does not name it, left alone
// when it does. Its effect is measured by the bench (`node bench/run.ts --phases=frontend`), not asserted here.
import t from 'tap';
import { growOldGeneration, HEAP_GROWING_PERCENT } from '../../src/config/heap-growth.ts';

t.test('the command line wins', (t) => {
  t.equal(growOldGeneration(['--heap-growing-percent=50']), false, '--heap-growing-percent=50 kept');
  t.equal(growOldGeneration(['--max-semi-space-size=16', '--heap_growing_percent=75']), false, 'the underscore spelling too');
  t.equal(growOldGeneration(['--heap-growing-percent-other']), true, 'another flag that starts alike is not it');
  t.equal(growOldGeneration(['--max-semi-space-size=16']), true, 'set when absent');
  t.equal(HEAP_GROWING_PERCENT, 200);
  t.end();
});
