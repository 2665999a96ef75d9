// The one mapper from errors to responses (src/http/errors/error-handler.ts) on a real Fastify instance, and the three
// renderers of the same catalogue (src/http/errors/error-renderers.ts): native, OpenAI-style and Open Inference Protocol.
import Fastify from 'fastify';
import t from 'tap';
import { InferenceFailedError, QueueFullError } from '../../../src/engine/errors.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../../../src/error-catalogue.ts';
import { CancelledError, inField, ServiceError, unavailable, withContext } from '../../../src/errors.ts';
import { describeError, errorHandling } from '../../../src/http/errors/error-handler.ts';
import { renderNative, renderOpenAI, renderOpenInference } from '../../../src/http/errors/error-renderers.ts';

/** A Fastify instance with the service's error handling whose one route throws `error`. */
async function answer(error: unknown) {
  const app = Fastify({ logger: false });
  await app.register(errorHandling);
  app.get('/throws', () => {
    throw error;
  });
  const res = await app.inject('/throws');
  await app.close();
  return { status: res.statusCode, retryAfter: res.headers['retry-after'], body: res.json<unknown>() };
}

t.test('every catalogue code is answered with its catalogue status, in the native shape', async (t) => {
  for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
    const res = await answer(new ServiceError(code, `a ${code}`, { field: 'labels' }));
    t.equal(res.status, ERROR_CATALOGUE[code].status, code);
    t.same(res.body, { error: { code, message: `a ${code}`, field: 'labels' } }, code);
  }
});

t.test('the engine and the client: inference_failed with Retry-After, client_closed_request, internal_error says nothing', async (t) => {
  const failed = await answer(new InferenceFailedError('inference failed: the session answered 3 rows for 4 items'));
  t.equal(failed.status, 503);
  t.equal(failed.retryAfter, '1');
  t.same(failed.body, { error: { code: 'inference_failed', message: 'inference failed: the session answered 3 rows for 4 items' } });

  const gone = await answer(new CancelledError('the client disconnected before the work ran'));
  t.equal(gone.status, 499, "nginx's client closed request, for the logs and metrics");
  t.same(gone.body, { error: { code: 'client_closed_request', message: 'the client disconnected before the work ran' } });

  const fault = await answer(new TypeError('cannot read properties of undefined (reading "secret")'));
  t.equal(fault.status, 500);
  t.same(fault.body, { error: { code: 'internal_error', message: 'internal error' } }, 'no internals in the answer');
});

t.test('withContext keeps code, field, Retry-After and cause; inField names the input of a client error only', (t) => {
  const cause = new Error('the budget is full');
  const busy = new ServiceError('memory_busy', 'waited past MEMORY_WAIT_MS', { retryAfterSeconds: 2, field: 'image', cause });
  const rebuilt = withContext('image 1', busy);
  t.type(rebuilt, ServiceError);
  t.match(rebuilt, { code: 'memory_busy', message: 'image 1: waited past MEMORY_WAIT_MS', retryAfterSeconds: 2, field: 'image' });
  t.equal(rebuilt.cause, cause);
  const plain = new Error('not ours');
  t.equal(withContext('image 1', plain), plain, 'any other error is left as it is');

  t.equal(inField('frame', withContext('slice 3', new ServiceError('bad_request', 'no frame 7'))).field, 'frame');
  const refused = unavailable('models are still loading', 'not_ready', 5);
  t.equal(inField('image', refused), refused, 'a 503 is about no input');
  t.end();
});

t.test('OpenAI-style renderer: type by status class, param the field, code from the catalogue', (t) => {
  const badLabel = describeError(new ServiceError('text_too_long', 'label 2 is longer than MAX_CHARS_PER_TEXT', { field: 'labels' }));
  t.same(renderOpenAI(badLabel), {
    error: { message: 'label 2 is longer than MAX_CHARS_PER_TEXT', type: 'invalid_request_error', param: 'labels', code: 'text_too_long' },
  });
  const full = describeError(new QueueFullError('the image queue of model unimed-demo is full', 3));
  t.same(renderOpenAI(full), {
    error: { message: 'the image queue of model unimed-demo is full', type: 'server_error', param: null, code: 'queue_full' },
  });
  t.same(renderOpenAI(describeError(new Error('internal detail'))), {
    error: { message: 'internal error', type: 'server_error', param: null, code: 'internal_error' },
  });
  const typeOf = (code: ErrorCode) => renderOpenAI(describeError(new ServiceError(code, 'x'))).error.type;
  t.same(
    (['unauthorized', 'forbidden', 'origin_not_allowed', 'rate_limited', 'model_not_found', 'not_ready', 'deadline_exceeded'] as const).map(
      typeOf,
    ),
    [
      'authentication_error',
      'permission_error',
      'permission_error',
      'rate_limit_error',
      'invalid_request_error',
      'server_error',
      'server_error',
    ],
    'the key, its permissions, its rate, the request, the server',
  );
  for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
    const type = typeOf(code);
    t.equal(
      type === 'server_error',
      ERROR_CATALOGUE[code].status >= 500,
      `${code}: ${type} matches its status ${ERROR_CATALOGUE[code].status}`,
    );
  }
  t.end();
});

t.test('Open Inference Protocol renderer: {"error": "<message>"}, nothing else', (t) => {
  t.same(renderOpenInference(describeError(new ServiceError('model_not_found', 'unknown model "x"', { field: 'model' }))), {
    error: 'unknown model "x"',
  });
  t.same(renderOpenInference(describeError(new Error('internal detail'))), { error: 'internal error' });
  t.end();
});

t.test('native renderer: field only when known', (t) => {
  t.same(renderNative({ status: 400, code: 'bad_request', message: 'm' }), { error: { code: 'bad_request', message: 'm' } });
  t.same(renderNative({ status: 400, code: 'bad_request', message: 'm', field: 'top_k' }), {
    error: { code: 'bad_request', message: 'm', field: 'top_k' },
  });
  t.end();
});
