/**
 * Progress on stderr (stdout carries results): on a terminal a bar redrawn in place with the rate and the time
 * left; otherwise (a log file, a Kubernetes pod) one plain line every `intervalMs` and one at the end, so logs
 * stay readable. Messages (failed items, retries) go through `log`, which keeps them off the bar.
 */
export interface ProgressStream {
  write(text: string): boolean;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Plain-line interval when not on a terminal (default 10 s). */
  intervalMs?: number;
  /** Overrides the stream's own isTTY. */
  tty?: boolean;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

export class Progress {
  readonly #what: string;
  readonly #total: number;
  readonly #stream: ProgressStream;
  readonly #tty: boolean;
  readonly #started = Date.now();
  readonly #timer: NodeJS.Timeout;
  #done = 0;
  #failed = 0;
  #lastDraw = 0;

  /** `total` items of `what` (e.g. "images"); `already` of them done before this run (a resumed embed). */
  constructor(what: string, total: number, stream: ProgressStream = process.stderr, options: ProgressOptions = {}) {
    this.#what = what;
    this.#total = total;
    this.#stream = stream;
    this.#tty = options.tty ?? stream.isTTY === true;
    this.#timer = setInterval(() => this.#draw(true), this.#tty ? 1000 : (options.intervalMs ?? 10_000));
    this.#timer.unref();
  }

  /** Counts finished items (ok or failed). */
  add(ok: number, failed = 0): void {
    this.#done += ok + failed;
    this.#failed += failed;
    if (this.#tty && Date.now() - this.#lastDraw >= 100) this.#draw(false);
  }

  /** A line of its own (a failed item, a retry), never mixed into the bar. */
  log(line: string): void {
    if (this.#tty) this.#stream.write('\r\x1b[K');
    this.#stream.write(line + '\n');
    if (this.#tty) this.#draw(false);
  }

  /** The closing line; stops the timer. */
  finish(): void {
    clearInterval(this.#timer);
    if (this.#tty) this.#stream.write('\r\x1b[K');
    this.#stream.write(`${this.#status()}, ${clock((Date.now() - this.#started) / 1000)} elapsed\n`);
  }

  #status(): string {
    const seconds = (Date.now() - this.#started) / 1000;
    const rate = seconds > 0 ? this.#done / seconds : 0;
    const left = rate > 0 ? (this.#total - this.#done) / rate : Number.POSITIVE_INFINITY;
    const failed = this.#failed > 0 ? `, ${this.#failed} failed` : '';
    return `${this.#done}/${this.#total} ${this.#what}${failed}, ${rate.toFixed(1)}/s, ETA ${this.#done >= this.#total ? '00:00' : clock(left)}`;
  }

  #draw(timer: boolean): void {
    this.#lastDraw = Date.now();
    if (!this.#tty) {
      if (timer) this.#stream.write(this.#status() + '\n');
      return;
    }
    const width = 30;
    const filled = this.#total === 0 ? width : Math.round((width * this.#done) / this.#total);
    const percent = this.#total === 0 ? 100 : Math.floor((100 * this.#done) / this.#total);
    this.#stream.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${this.#status()}`);
  }
}
