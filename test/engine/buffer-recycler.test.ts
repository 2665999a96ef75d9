// The recycler of input tensor buffers (src/engine/buffer-recycler.ts): sizes, reuse, bounds.
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';
import { BufferRecycler } from '../../src/engine/buffer-recycler.ts';
import { imageFeeds, textFeeds } from '../../src/engine/feeds.ts';

t.test('a buffer given back is taken again; new ones are made at the largest size asked for', (t) => {
  const recycler = new BufferRecycler(4);
  const small = recycler.take(100);
  t.equal(small.byteLength, 100);
  const large = recycler.take(1000);
  t.equal(large.byteLength, 1000);
  t.equal(recycler.take(10).byteLength, 1000, 'after a 1000-byte request, new buffers are 1000 bytes');
  recycler.give([small, large]);
  t.equal(recycler.kept, 2);
  t.equal(recycler.take(50), small, 'the smallest that fits');
  t.equal(recycler.take(500), large);
  t.equal(recycler.kept, 0);
  t.end();
});

t.test('at most maxKept are held, the largest kept; detached buffers are dropped', (t) => {
  const recycler = new BufferRecycler(2);
  const buffers = [10, 30, 20].map((n) => new ArrayBuffer(n));
  recycler.give(buffers);
  t.equal(recycler.kept, 2);
  t.equal(recycler.take(1).byteLength, 20, 'the 10-byte one was dropped');
  const detached = new ArrayBuffer(64);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(detached, [detached]);
  port1.close();
  port2.close();
  t.equal(detached.byteLength, 0);
  recycler.give([detached]);
  t.equal(recycler.kept, 1, 'only the 30-byte one');
  t.end();
});

t.test('feeds written into recycled buffers hold exactly the batch, whatever the buffer held', (t) => {
  const recycler = new BufferRecycler(4);
  const dirty = (bytes: number): ArrayBuffer => {
    const buffer = recycler.take(bytes);
    new Uint8Array(buffer).fill(0xff);
    return buffer;
  };
  const plane = 3 * 2 * 2;
  const [image] = imageFeeds({ input: 'pixel_values', size: 2 }, [new Float32Array(plane).fill(0.5)], dirty);
  t.same(Array.from(image!.data as Float32Array), new Array<number>(plane).fill(0.5));
  t.same(image!.dims, [1, 3, 2, 2]);

  const [ids, mask] = textFeeds(
    { inputIds: 'input_ids', attentionMask: 'attention_mask', padId: 0, contextLength: 256 },
    [[2, 7, 3]],
    dirty,
  );
  t.same(Array.from(ids!.data as BigInt64Array), [2n, 7n, 3n, 0n, 0n, 0n, 0n, 0n]);
  t.same(Array.from(mask!.data as BigInt64Array), [1n, 1n, 1n, 0n, 0n, 0n, 0n, 0n]);
  t.end();
});
