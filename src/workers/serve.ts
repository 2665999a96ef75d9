/**
 * The worker-thread side of a WorkerPool: start once (the handshake), then answer one task at a time. Whatever
 * the task handler throws fails that task only; a start that throws tells the pool why and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorData } from './protocol.ts';
import type { FromWorker, Reply, ToWorker } from './protocol.ts';

export interface TaskServer<Info, Task, Result> {
  /** Reported to the pool once the worker is ready (e.g. the execution provider its session runs on). */
  info: Info;
  handle(task: Task): Promise<Reply<Result>> | Reply<Result>;
}

export async function serveTasks<Setup, Info, Task, Result>(
  start: (setup: Setup) => Promise<TaskServer<Info, Task, Result>>,
): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('serveTasks must run in a worker thread');
  const post = (message: FromWorker<Info, Result>, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  let server: TaskServer<Info, Task, Result>;
  try {
    server = await start(workerData as Setup);
  } catch (err) {
    post({ type: 'start-failed', error: errorData(err) });
    process.exit(1);
  }
  port.on('message', (message: ToWorker<Task>) => {
    Promise.resolve()
      .then(() => server.handle(message.task))
      .then(
        ({ result, transfer }) => post({ type: 'done', id: message.id, result }, transfer),
        (err: unknown) => post({ type: 'failed', id: message.id, error: errorData(err) }),
      );
  });
  post({ type: 'ready', info: server.info });
}
