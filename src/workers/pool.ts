import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { PoolClosedError, PoolQueueFullError, TaskFailedError, WorkerFailedError, WorkerStartError } from './errors.ts';
import { HangDetector } from './hang-detector.ts';
import { workerInput, type WorkerInput, type WorkerPoolOptions } from './pool-options.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

interface Waiting<Task, Result> {
  task: Task;
  transfer: ArrayBuffer[];
  /** The task's size in the caller's unit (a batch's padded cost), for the measured hang limit. */
  units: number;
  resolve: (result: Result) => void;
  reject: (err: Error) => void;
}

interface Slot<Task, Result> {
  worker: Worker;
  state: 'starting' | 'idle' | 'busy' | 'dead';
  wasReady: boolean;
  running?: Waiting<Task, Result> & { id: number; timer: NodeJS.Timeout | undefined; startedAt: number };
}

const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Supervised worker threads, one task at a time each: a start handshake (the pool is ready when every worker
 * is), a bounded queue, a hang timeout that starts when a worker takes a task, and a dead or hung worker
 * replaced with what it held failed. Idle workers never keep the process alive.
 */
export class WorkerPool<Task, Result, Info = unknown> {
  readonly #o: WorkerPoolOptions<unknown>;
  readonly #slots: Slot<Task, Result>[] = [];
  readonly #queue: Waiting<Task, Result>[] = [];
  readonly #availableListeners: (() => void)[] = [];
  readonly #readyListeners: ((info: Info) => void)[] = [];
  readonly #replaceListeners: ((reason: WorkerFailedError['reason'] | 'start_failed') => void)[] = [];
  readonly #hangs: HangDetector;
  #info: Info | undefined;
  #nextId = 1;
  #closed = false;
  #started = false;
  #restartDelayMs = FIRST_RESTART_DELAY_MS;

  constructor(options: WorkerPoolOptions<unknown>) {
    this.#o = options;
    this.#hangs = new HangDetector(options.taskTimeoutMs, options.measuredHangs === true);
  }

  get size(): number {
    return this.#o.size;
  }

  /** Workers ready and free: a task given now starts at once. */
  get idle(): number {
    return this.#slots.filter((s) => s.state === 'idle').length;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Workers started and not dead (idle or busy): 0 while every worker is dead or its replacement failing. */
  get live(): number {
    return this.#slots.filter((s) => s.state === 'idle' || s.state === 'busy').length;
  }

  /** What the most recently started worker reported (undefined before the first is ready). */
  get info(): Info | undefined {
    return this.#info;
  }

  /** Called whenever a worker may have become free (task done, replacement ready). */
  onAvailable(listener: () => void): void {
    this.#availableListeners.push(listener);
  }

  /** Called with every worker's info as it becomes ready, replacements included. */
  onReady(listener: (info: Info) => void): void {
    this.#readyListeners.push(listener);
  }

  /** Called each time a worker is replaced: it died (`crashed`), hung (`timed_out`), or its replacement failed. */
  onReplace(listener: (reason: WorkerFailedError['reason'] | 'start_failed') => void): void {
    this.#replaceListeners.push(listener);
  }

  /** Starts every worker; rejects with WorkerStartError (after stopping the others) when one cannot start. */
  async start(): Promise<Info> {
    const starts = Array.from({ length: this.#o.size }, () => workerInput(this.#o).then((input) => this.#spawn(input)));
    try {
      const infos = await Promise.all(starts);
      this.#started = true;
      return infos[0]!;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  run(task: Task, transfer: ArrayBuffer[] = [], units = 1): Promise<Result> {
    if (this.#closed) return Promise.reject(new PoolClosedError(`the ${this.#o.name} is shutting down`));
    if (this.#queue.length >= this.#o.maxQueue && this.idle === 0) {
      return Promise.reject(new PoolQueueFullError(`the ${this.#o.name} has ${this.#queue.length} tasks waiting`));
    }
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ task, transfer, units, resolve, reject });
      this.#dispatch();
    });
  }

  /** Fails what is queued or running with PoolClosedError and terminates every worker. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new PoolClosedError(`the ${this.#o.name} shut down before this task finished`);
    for (const waiting of this.#queue.splice(0)) waiting.reject(closed);
    const slots = this.#slots.splice(0);
    for (const slot of slots) this.#settle(slot, (w) => w.reject(closed));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (slot.state !== 'idle') continue;
      const waiting = this.#queue.shift()!;
      const id = this.#nextId++;
      const timeout = this.#hangs.limitMs(waiting.units);
      const timer =
        timeout > 0
          ? setTimeout(
              () => this.#fail(slot, new WorkerFailedError('timed_out', `the ${this.#o.name} held a task for more than ${timeout} ms`)),
              timeout,
            )
          : undefined;
      slot.state = 'busy';
      slot.running = { ...waiting, id, timer, startedAt: performance.now() };
      slot.worker.ref();
      const message: ToWorker<Task> = { type: 'task', id, task: waiting.task };
      slot.worker.postMessage(message, waiting.transfer);
    }
  }

  /** Hands the running task to `settle` and clears it; true when there was one. */
  #settle(slot: Slot<Task, Result>, settle: (running: Waiting<Task, Result>) => void): boolean {
    const running = slot.running;
    if (running === undefined) return false;
    clearTimeout(running.timer);
    slot.running = undefined;
    settle(running);
    return true;
  }

  #spawn(input: WorkerInput<unknown>): Promise<Info> {
    if (this.#closed) return Promise.reject(new PoolClosedError(`the ${this.#o.name} shut down while a worker was starting`));
    const worker = new Worker(this.#o.entry, {
      workerData: input.setup,
      transferList: input.transfer,
      ...(this.#o.resourceLimits ? { resourceLimits: this.#o.resourceLimits } : {}),
    });
    worker.unref();
    const slot: Slot<Task, Result> = { worker, state: 'starting', wasReady: false };
    this.#slots.push(slot);
    const ready = new Promise<Info>((resolve, reject) => {
      worker.on('message', (message: FromWorker<Info, Result>) => {
        if (message.type === 'ready') {
          slot.state = 'idle';
          slot.wasReady = true;
          this.#info = message.info;
          this.#restartDelayMs = FIRST_RESTART_DELAY_MS;
          for (const listener of this.#readyListeners) listener(message.info);
          resolve(message.info);
          this.#dispatch();
          this.#notifyAvailable();
        } else if (message.type === 'start-failed') {
          reject(new WorkerStartError(`the ${this.#o.name} could not start: ${message.error.message}`, message.error.detail));
        } else if (slot.running?.id === message.id) {
          if (message.type === 'done') this.#hangs.record(performance.now() - slot.running.startedAt, slot.running.units);
          this.#settle(slot, (w) =>
            message.type === 'done'
              ? w.resolve(message.result)
              : w.reject(new TaskFailedError(message.error.message, message.error.detail)),
          );
          slot.state = 'idle';
          worker.unref();
          this.#dispatch();
          this.#notifyAvailable();
        }
      });
      worker.on('error', (err: Error) => {
        reject(new WorkerStartError(`the ${this.#o.name} failed while starting: ${err.message}`));
        this.#fail(slot, new WorkerFailedError('crashed', `the ${this.#o.name} failed: ${err.message}`));
      });
      worker.on('exit', (code) => {
        reject(new WorkerStartError(`the ${this.#o.name} exited with code ${code} while starting`));
        this.#fail(slot, new WorkerFailedError('crashed', `the ${this.#o.name} exited with code ${code}`));
      });
    });
    ready.catch(() => undefined);
    return ready;
  }

  /** A worker crashed or hung: fail what it held, stop it, and (in service) start a replacement. */
  #fail(slot: Slot<Task, Result>, err: WorkerFailedError): void {
    if (slot.state === 'dead') return;
    slot.state = 'dead';
    const held = this.#settle(slot, (w) => w.reject(err));
    void slot.worker.terminate();
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
    if (this.#closed || !this.#started) return;
    // A worker that died in service is replaced at once; one that could not even start is retried with a
    // growing delay, so that a broken machine is not hammered.
    const delay = slot.wasReady ? 0 : this.#restartDelayMs;
    if (!slot.wasReady) this.#restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, this.#restartDelayMs * 2);
    this.#o.logger.error(
      { pool: this.#o.name, reason: err.reason, heldTask: held, restartInMs: delay },
      'worker died; starting a replacement',
    );
    const reason = slot.wasReady ? err.reason : 'start_failed';
    for (const listener of this.#replaceListeners) listener(reason);
    this.#replaceAfter(delay);
  }

  #replaceAfter(delay: number): void {
    const failed = (err: unknown, retry: boolean): void => {
      if (this.#closed) return;
      const reason = err instanceof Error ? err.message : String(err);
      this.#o.logger.error({ pool: this.#o.name, reason }, 'replacement worker failed to start');
      // A spawned worker that fails to start is retried by #fail; one whose setup failed was never spawned.
      if (retry) this.#replaceAfter((this.#restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, this.#restartDelayMs * 2)));
    };
    setTimeout(() => {
      if (this.#closed) return;
      workerInput(this.#o).then(
        (input) =>
          this.#spawn(input).then(
            () => this.#o.logger.info({ pool: this.#o.name }, 'replacement worker ready'),
            (err: unknown) => failed(err, false),
          ),
        (err: unknown) => failed(err, true),
      );
    }, delay).unref();
  }

  #notifyAvailable(): void {
    for (const listener of this.#availableListeners) queueMicrotask(listener);
  }
}
