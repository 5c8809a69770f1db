// The resume app's analytics hooks for the browser (and Node 18+ for server-side rendering).
//
// Each hook validates its event against the pipeline's contract at call time (rejecting with an
// InvalidEventError that names the field and rule, never the value), queues it and resolves to the
// event ID. A sender batches the queue by count, bytes and time and retries network errors, timeouts, 5xx,
// 429 and 2xx answers that are not the API's with exponential backoff and jitter. When the page is hidden
// or closed, what is queued (and a batch waiting for its retry) goes out through navigator.sendBeacon
// (fallback: fetch with keepalive), as much as the browser's keepalive quota takes; on a mere tab switch
// the rest stays queued and is sent normally (offline, all of it). Transport problems never reach the app:
// they end up in stats().
import { contractSchema } from "./contract-schema.generated.js";
import { validate } from "./validate.js";

export interface InitOptions {
  /** Base URL of the ingestion API, e.g. "https://events.example.com". */
  endpoint: string;
  /** The API's browser write key (ANALYTICS_BROWSER_WRITE_KEY); public by nature. */
  writeKey: string;
  /** Send as soon as this many events are queued, and at most this many a request (default 20; a request takes 1000 at most). */
  batchSize?: number;
  /** Send queued events at least this often, in ms (default 5000). */
  flushIntervalMs?: number;
  /** Events held at most; beyond, new events are dropped and counted (default 1000). */
  maxQueueSize?: number;
  /** Retries of one batch after the first attempt (default 5; 0: no retry). */
  maxRetries?: number;
  /** First backoff delay in ms, doubled per retry, with jitter (default 500). */
  backoffBaseMs?: number;
  /** Longest backoff delay in ms (default 30000). */
  backoffMaxMs?: number;
  /** One attempt (request and reading its answer) is abandoned and retried after this many ms (default 10000). */
  requestTimeoutMs?: number;
  /** When the retries run out while the browser reports no network, wait at most this long for it (default 60000). */
  offlineWaitMs?: number;
  /** Log transport outcomes (counts and statuses only, never event contents) to the console. */
  debug?: boolean;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface Stats {
  /** Accepted by the API. */
  sent: number;
  /** Handed to navigator.sendBeacon (or an unsettled keepalive fetch) when the page was hidden; delivery unconfirmable. */
  beaconed: number;
  /** Re-sent after a retryable failure (one count per event and retry). */
  retried: number;
  /**
   * Lost on this side: queue full, retries exhausted (offline: and no network within offlineWaitMs), no room for a
   * beacon when the page closed, or (without sendBeacon) an exit request that failed once the page was gone.
   */
  dropped: number;
  /** Refused by the API as invalid or unauthorised (not retried). */
  rejected: number;
  /** Waiting to be sent, including a batch being sent or waiting for its retry. */
  queued: number;
}

export class InvalidEventError extends TypeError {
  constructor(readonly problems: string[]) {
    super(`analytics: invalid event: ${problems.join("; ")}`);
    this.name = "InvalidEventError";
  }
}

export interface ResumeTailoringProps {
  userId: string;
  resumeId: string;
  isRefinement: boolean;
  resumeText?: string;
  jobDescription?: string;
  tailoredText?: string;
  atsScore?: number;
  jdScore?: number;
  tailoringMode?: string;
  version?: number;
}

export interface ResumeUploadProps {
  userId: string;
  resumeId: string;
  resumeText?: string;
  version?: number;
}

export interface ResumeActionProps {
  userId: string;
  resumeId: string;
  version?: number;
}

export interface InteractionProps {
  userId: string;
  action: "click" | "hover" | "focus" | "scroll" | "view" | "submit";
  element: string;
  page?: string;
}

type Event = Record<string, unknown>;
type Outcome = { retry: false } | { retry: true; afterMs?: number };
/** A queued event with its JSON, measured once. */
type Item = { json: string; bytes: number };
/** The batch being sent or waiting for its retry. */
type Batch = {
  items: Item[];
  /** Handed to sendBeacon at a page exit: counted as beaconed until the API answers for it. */
  beaconed: boolean;
  /** Its current request has keepalive: it outlives the page, no beacon needed. */
  keepalive: boolean;
  /** A keepalive attempt failed: the browser's quota may be taken by others, so no more keepalive. */
  noKeepalive: boolean;
  /** The sender is finished with it (answered, given up or handed over). */
  done: boolean;
  /** Counted once as sent, rejected or dropped (by its retries or by an exit request, whichever answers first). */
  settled: boolean;
  /** The counters its beacon was counted in (while beaconed and unsettled). */
  beaconedIn: Counts | null;
};
type Counts = { sent: number; beaconed: number; retried: number; dropped: number; rejected: number };
const newBatch = (items: Item[]): Batch => ({
  items,
  beaconed: false,
  keepalive: false,
  noKeepalive: false,
  done: false,
  settled: false,
  beaconedIn: null,
});

// Chromium allows 64 KiB of keepalive fetch and beacon bodies in flight per page, all requests together;
// beyond, sendBeacon returns false and a keepalive fetch fails.
const KEEPALIVE_QUOTA = 64 * 1024;
// One beacon body at most (the API takes up to 64 KiB).
const BEACON_BYTES = 60_000;
// A beacon's bytes are counted against the quota this long (its completion cannot be observed).
const BEACON_HOLD_MS = 3000;
// Queued events of this many bytes are sent at once, so what is left for a page exit fits its beacons.
const EARLY_SEND_BYTES = 32 * 1024;
// Per request, as the Python client (the API takes 32 MiB and 1,000 events).
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_BATCH_EVENTS = 1000;
// The API's per-event limit (MAX_EVENT_BYTES in analytics_pipeline/ingest/api.py: 3 texts x 200,000
// characters x 4 bytes + 64 KiB), measured on Python's json.dumps(ensure_ascii=False) of the event.
const MAX_EVENT_BYTES = 3 * 200_000 * 4 + 64 * 1024;
// The contract's Text fields: at most MAX_TEXT_CHARS code points once NFKC-normalised too.
const TEXT_FIELDS = ["resume_text", "job_description", "tailored_text"];
const MAX_TEXT_CHARS = 200_000;
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's longest delay
const encoder = new TextEncoder();

const NUMERIC_OPTIONS = {
  batchSize: { fallback: 20, min: 1, max: Number.MAX_SAFE_INTEGER },
  flushIntervalMs: { fallback: 5000, min: 1, max: MAX_TIMER_MS },
  maxQueueSize: { fallback: 1000, min: 1, max: Number.MAX_SAFE_INTEGER },
  maxRetries: { fallback: 5, min: 0, max: Number.MAX_SAFE_INTEGER },
  backoffBaseMs: { fallback: 500, min: 1, max: MAX_TIMER_MS },
  backoffMaxMs: { fallback: 30_000, min: 1, max: MAX_TIMER_MS },
  requestTimeoutMs: { fallback: 10_000, min: 1, max: MAX_TIMER_MS },
  offlineWaitMs: { fallback: 60_000, min: 1, max: MAX_TIMER_MS },
} as const;
type Settings = { -readonly [name in keyof typeof NUMERIC_OPTIONS]: number } & { writeKey: string; debug: boolean };

/** Options with defaults for the absent (or undefined) ones; a TypeError for any other bad value. */
function settings(options: InitOptions): Settings {
  const result = { writeKey: options.writeKey, debug: options.debug === true } as Settings;
  for (const [name, { fallback, min, max }] of Object.entries(NUMERIC_OPTIONS)) {
    const value = (options as unknown as Record<string, unknown>)[name];
    if (value === undefined) {
      result[name as keyof typeof NUMERIC_OPTIONS] = fallback;
      continue;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
      throw new TypeError(`analytics: ${name} must be an integer from ${min} to ${max}`);
    result[name as keyof typeof NUMERIC_OPTIONS] = value;
  }
  return result;
}

class Logger {
  private queue: Item[] = [];
  private queuedBytes = 0;
  private current: Batch | null = null;
  /** Bytes of this logger's keepalive fetches and beacons believed in flight (the browser's quota). */
  private keepaliveBytes = 0;
  private counts: Counts = { sent: 0, beaconed: 0, retried: 0, dropped: 0, rejected: 0 };
  private sending: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Ends the current backoff or wait for the network early (when this logger is replaced). */
  private wake: (() => void) | null = null;
  /** The logger this one replaced, while it still has a request of its own in flight. */
  private predecessor: Logger | null = null;
  /** The logger that replaced this one: it takes over everything this one still holds. */
  private successor: Logger | null = null;
  /** The final pagehide has happened: nothing can be sent any more. */
  private gone = false;
  private readonly url: string;
  private readonly options: Settings;
  private readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
  private readonly onHide = (event: globalThis.Event): void => {
    try {
      // pagehide into the back/forward cache (persisted) may come back: nothing is given up then.
      if (event.type === "pagehide") this.flushOnExit(!(event as PageTransitionEvent).persisted);
      else if (document.visibilityState === "hidden") this.flushOnExit(false);
    } catch (error) {
      this.debug(`page exit handling failed: ${(error as Error)?.name}`); // never into the page
      this.schedule();
    }
  };

  constructor(options: InitOptions) {
    this.options = settings(options);
    this.url = `${options.endpoint.replace(/\/+$/, "")}/v1/batch`;
    // Called unbound, as a plain function: the browser's own fetch (window.fetch) passed as-is works.
    const custom = options.fetch;
    this.fetch = custom ? (url, init) => custom(url, init) : (url, init) => globalThis.fetch(url, init);
    if (typeof addEventListener === "function" && typeof document !== "undefined") {
      addEventListener("pagehide", this.onHide);
      document.addEventListener("visibilitychange", this.onHide);
    }
  }

  stats(): Stats {
    const pending = (batch: Batch | null): number =>
      batch && !batch.done && !batch.beaconed ? batch.items.length : 0;
    const inherited = this.predecessor ? pending(this.predecessor.current) : 0;
    return { ...this.counts, queued: this.queue.length + pending(this.current) + inherited };
  }

  enqueue(item: Item): void {
    if (this.queue.length >= this.options.maxQueueSize) {
      this.counts.dropped += 1;
      this.debug("queue full: event dropped");
      return;
    }
    this.queue.push(item);
    this.queuedBytes += item.bytes;
    this.schedule();
  }

  /** Sends now if a batch is full (or 32 kB are queued), else makes sure the flush timer runs. */
  private schedule(): void {
    if (this.successor) return this.handOver();
    if (!this.queue.length) return;
    if (this.queue.length >= this.options.batchSize || this.queuedBytes >= EARLY_SEND_BYTES) void this.drain();
    else if (this.timer === null && !this.sending) {
      this.timer = setTimeout(() => void this.drain(), this.options.flushIntervalMs);
      unref(this.timer); // in Node, a pending flush must not keep the process alive (flush() does)
    }
  }

  /** Events handed back (from an exit request that failed, or from the logger this one replaced): first in line. */
  private requeue(items: Item[]): void {
    this.queue.unshift(...items);
    for (const item of items) this.queuedBytes += item.bytes;
    this.schedule();
  }

  async flush(): Promise<void> {
    for (;;) {
      if (this.predecessor) {
        await this.predecessor.flush(); // its request in flight: answered, or handed over to this one
        this.predecessor = null;
      } else if (this.queue.length > 0 || this.sending) await this.drain();
      else return;
    }
  }

  close(): void {
    if (typeof removeEventListener === "function" && typeof document !== "undefined") {
      removeEventListener("pagehide", this.onHide);
      document.removeEventListener("visibilitychange", this.onHide);
    }
    this.clearTimer();
  }

  /**
   * ``next`` replaces this logger: the queue moves to it now, and the batch being sent or waiting for its retry
   * as soon as its request in flight (if any) is answered, so the new logger's page-exit handling and flush()
   * cover them. From then on this logger's outcomes are counted in the new one's stats.
   */
  retire(next: Logger): void {
    this.close();
    this.successor = next;
    if ((this.current && !this.current.done) || this.predecessor) next.predecessor = this; // flush() waits for it
    this.handOver();
    this.wake?.();
  }

  private handOver(): void {
    const successor = this.successor!;
    const items = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (items.length) successor.requeue(items);
  }

  /** This logger, or the newest of those that replaced it. */
  private newest(): Logger {
    let logger: Logger = this;
    while (logger.successor) logger = logger.successor;
    return logger;
  }

  /** Where outcomes are counted: the newest logger's counters. */
  private sink(): Counts {
    return this.newest().counts;
  }

  /** One sender at a time; it empties the queue batch by batch. */
  private drain(): Promise<void> {
    this.clearTimer();
    this.sending ??= (async () => {
      try {
        while (this.queue.length > 0 && !this.successor) {
          const batch = newBatch(this.take());
          this.current = batch;
          await this.sendWithRetries(batch);
        }
      } finally {
        this.current = null;
        this.sending = null;
      }
    })();
    return this.sending;
  }

  /** The next batch: up to batchSize (and MAX_BATCH_EVENTS) events and MAX_BATCH_BYTES (at least one event). */
  private take(): Item[] {
    const limit = Math.min(this.options.batchSize, MAX_BATCH_EVENTS);
    let count = 0;
    let bytes = 12; // {"batch":[]}
    while (count < this.queue.length && count < limit) {
      bytes += this.queue[count].bytes + 1;
      if (count > 0 && bytes > MAX_BATCH_BYTES) break;
      count++;
    }
    const items = this.queue.splice(0, count);
    for (const item of items) this.queuedBytes -= item.bytes;
    return items;
  }

  private async sendWithRetries(batch: Batch): Promise<void> {
    const n = batch.items.length;
    let waitedForNetwork = false;
    // Finished with the batch: settled (by an exit request too), or replaced by a new logger, which sends it
    // from now on (same event IDs, also if it was beaconed).
    const finished = (): boolean => {
      if (!batch.settled && !this.successor) return false;
      batch.done = true;
      if (!batch.settled) {
        this.unbeacon(batch);
        this.newest().requeue(batch.items);
      }
      return true;
    };
    for (let attempt = 0; ; attempt++) {
      if (finished()) return;
      const outcome = await this.send(batch);
      if (!outcome.retry) {
        batch.done = true;
        return;
      }
      if (finished()) return;
      if (attempt >= this.options.maxRetries && !waitedForNetwork && isOffline()) {
        // The device is offline (a train tunnel): wait for the network (for a while), then try again as new.
        waitedForNetwork = true;
        this.debug("offline: waiting for the network");
        const online = await this.pause((resolve) => {
          const done = (): void => resolve(true);
          addEventListener("online", done, { once: true });
          return () => {
            if (typeof removeEventListener === "function") removeEventListener("online", done);
          };
        }, this.options.offlineWaitMs);
        if (online || this.successor) {
          this.sink().retried += n;
          attempt = -1;
          continue;
        }
        this.debug("still offline");
      }
      if (attempt >= this.options.maxRetries) {
        batch.done = true;
        if (!batch.beaconed) this.settle(batch, "dropped"); // else it stays counted as beaconed
        this.debug(`gave up on ${n} events after ${attempt + 1} attempts`);
        return;
      }
      this.sink().retried += n;
      await this.pause(() => undefined, outcome.afterMs ?? this.backoff(attempt));
    }
  }

  /**
   * Waits ``ms`` at most, or until ``start``'s resolve is called (true); retire() ends it early (false). The
   * timer is unref'd in Node: only an awaited flush() keeps the process alive for it.
   */
  private pause(start: (resolve: (value: boolean) => void) => (() => void) | void, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        stop?.();
        if (this.wake === wake) this.wake = null;
        resolve(value);
      };
      const wake = (): void => finish(false);
      const timer = setTimeout(() => finish(false), ms);
      unref(timer);
      this.wake = wake;
      const stop = start(finish);
    });
  }

  /** The batch's final count, once: ``outcome`` for all its events, or the API's answer. */
  private settle(batch: Batch, outcome: "sent" | "rejected" | "dropped", accepted = batch.items.length): void {
    if (batch.settled) return;
    batch.settled = true;
    const n = batch.items.length;
    this.unbeacon(batch);
    const counts = this.sink();
    if (outcome === "dropped") counts.dropped += n;
    else {
      counts.sent += accepted;
      counts.rejected += n - accepted;
    }
  }

  /** Its beacon's count is withdrawn: its fate is known after all, or it is sent again. */
  private unbeacon(batch: Batch): void {
    if (batch.beaconedIn) batch.beaconedIn.beaconed -= batch.items.length;
    batch.beaconedIn = null;
    batch.beaconed = false;
  }

  private async send(batch: Batch): Promise<Outcome> {
    const n = batch.items.length;
    const body = `{"batch":[${batch.items.map((item) => item.json).join(",")}]}`;
    const bytes = 12 + batch.items.reduce((sum, item) => sum + item.bytes + 1, -1);
    // A request that fits the browser's keepalive quota may outlive the page; a bigger one must not use it.
    const keepalive = !batch.noKeepalive && bytes <= KEEPALIVE_QUOTA - this.keepaliveBytes;
    const controller = typeof AbortController === "function" ? new AbortController() : undefined;
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Also a custom fetch that ignores `signal` is abandoned in time: the request and its body race this.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        controller?.abort();
        reject(new Error("timeout"));
      }, this.options.requestTimeoutMs);
      unref(timer);
    });
    timeout.catch(() => undefined);
    if (keepalive) this.keepaliveBytes += bytes;
    batch.keepalive = keepalive;
    try {
      const response = await Promise.race([
        this.fetch(this.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.options.writeKey}` },
          body,
          keepalive,
          signal: controller?.signal,
        }),
        timeout,
      ]);
      if (response.status === 429 || response.status >= 500) {
        this.debug(`HTTP ${response.status}`);
        response.body?.cancel().catch(() => undefined);
        return { retry: true, afterMs: retryAfterMs(response.headers.get("retry-after")) };
      }
      let accepted = 0;
      if (response.ok) {
        // Only the API's own answer counts: a proxy's or captive portal's 2xx page is retried.
        const result = parseJson(await Promise.race([response.text(), timeout])) as { accepted?: unknown } | undefined;
        const value = result?.accepted;
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > n) {
          this.debug(`HTTP ${response.status} without the API's answer`);
          return { retry: true };
        }
        accepted = value;
      } else {
        response.body?.cancel().catch(() => undefined);
      }
      this.settle(batch, "sent", accepted);
      this.debug(`HTTP ${response.status}: ${accepted} accepted, ${n - accepted} rejected`);
      return { retry: false };
    } catch {
      if (keepalive) batch.noKeepalive = true;
      this.debug(timedOut ? "request timed out" : "network error");
      return { retry: true };
    } finally {
      clearTimeout(timer);
      if (keepalive) this.keepaliveBytes -= bytes;
      batch.keepalive = false;
    }
  }

  /**
   * The page is hidden (a tab switch, or the first sign of a close) or gone: hand the browser, as beacons
   * within its keepalive quota, the batch waiting for its retry (or in a request that would not outlive the
   * page) and the queue. What does not fit stays queued and is sent normally while the page lives; at a
   * final pagehide it is dropped and counted. Offline, a mere tab switch hands nothing over (a beacon would
   * be accepted and lost): everything stays queued for the network to come back.
   */
  private flushOnExit(final: boolean): void {
    if (!final && isOffline()) {
      this.debug("page hidden while offline: events stay queued");
      return;
    }
    if (final) this.gone = true;
    this.clearTimer();
    let budget = KEEPALIVE_QUOTA - this.keepaliveBytes;
    const head = `{"writeKey":${JSON.stringify(this.options.writeKey)},"batch":[`;
    const room = (): number => Math.min(BEACON_BYTES, budget) - head.length - 2;
    const size = (items: Item[]): number => items.reduce((sum, item) => sum + item.bytes + 1, 0);
    const beacon = (batch: Batch): boolean => {
      const bytes = head.length + 2 + size(batch.items);
      const body = `${head}${batch.items.map((item) => item.json).join(",")}]}`;
      batch.beaconed = true;
      batch.beaconedIn = this.counts;
      this.counts.beaconed += batch.items.length;
      if (this.beacon(body, bytes, batch)) {
        budget -= bytes;
        return true;
      }
      this.unbeacon(batch);
      return false;
    };

    // The batch being retried (also the replaced logger's): same event IDs if its retry gets through too,
    // the pipeline keeps one of each.
    for (const current of [this.current, this.predecessor?.current]) {
      if (current && !current.done && !current.beaconed && !current.keepalive && size(current.items) <= room())
        beacon(current);
    }

    const kept: Item[] = [];
    let chunk: Item[] = [];
    let chunkBytes = 0;
    const send = (): void => {
      if (chunk.length && !beacon({ ...newBatch(chunk), done: true })) kept.push(...chunk);
      chunk = [];
      chunkBytes = 0;
    };
    const queued = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const item of queued) {
      if (chunk.length && chunkBytes + item.bytes + 1 > room()) send();
      if (item.bytes + 1 > room()) kept.push(item);
      else {
        chunk.push(item);
        chunkBytes += item.bytes + 1;
      }
    }
    send();
    this.queue.unshift(...kept);
    this.queuedBytes = size(this.queue) - this.queue.length;
    this.debug(`page hidden: ${queued.length - kept.length} of ${queued.length} queued events handed to the browser`);
    if (!this.queue.length) return;
    if (final) {
      this.counts.dropped += this.queue.length; // no room left in the browser's quota, or too large for a beacon
      this.queue = [];
      this.queuedBytes = 0;
    } else {
      void this.drain(); // the page lives on: send them the normal way
    }
  }

  /** One beacon body; false if the browser refused it (its keepalive quota is full). */
  private beacon(body: string, bytes: number, batch: Batch): boolean {
    const sendBeacon = typeof navigator !== "undefined" ? navigator.sendBeacon?.bind(navigator) : undefined;
    if (sendBeacon) {
      let handed = false;
      try {
        handed = sendBeacon(this.url, body);
      } catch {
        // a throwing sendBeacon: as refused
      }
      if (handed) this.hold(bytes, new Promise((resolve) => unref(setTimeout(resolve, BEACON_HOLD_MS))));
      return handed;
    }
    // No sendBeacon: a keepalive fetch (text/plain needs no preflight), whose outcome is known if the page lives.
    const init = { method: "POST", headers: { "Content-Type": "text/plain" }, body, keepalive: true };
    let request: Promise<Response>;
    try {
      request = this.fetch(this.url, init);
    } catch (error) {
      request = Promise.reject(error); // a custom fetch that throws: as a network error
    }
    this.hold(
      bytes,
      Promise.resolve(request).then(
        (response) => {
          response.body?.cancel().catch(() => undefined);
          const retryable = response.status === 429 || response.status >= 500;
          this.settleExit(batch, response.ok ? "sent" : retryable ? "failed" : "rejected");
        },
        () => this.settleExit(batch, "failed"),
      ),
    );
    return true;
  }

  /**
   * The answer to an exit request (no sendBeacon). Counted once per batch. A failure (network error, 429, 5xx)
   * while the page lives gives the events back to the sender (the batch being retried simply goes on); once
   * the page is gone they are dropped.
   */
  private settleExit(batch: Batch, outcome: "sent" | "rejected" | "failed"): void {
    if (batch.settled) return;
    if (outcome !== "failed") return this.settle(batch, outcome);
    if (!batch.done) return this.unbeacon(batch); // its retries go on
    if (this.gone) return this.settle(batch, "dropped");
    this.unbeacon(batch);
    batch.settled = true; // not counted: its events are queued again
    this.newest().requeue(batch.items);
  }

  /** Counts ``bytes`` against the keepalive quota until ``done`` settles. */
  private hold(bytes: number, done: Promise<unknown>): void {
    this.keepaliveBytes += bytes;
    void done.finally(() => (this.keepaliveBytes -= bytes));
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2); // jitter: retrying clients do not stampede
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private debug(message: string): void {
    if (this.options.debug) console.debug(`analytics: ${message}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfterMs(value: string | null): number | undefined {
  const seconds = value === null ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 300) * 1000 : undefined;
}

/** The browser knows it has no network (navigator.onLine false) and can say when it is back. */
function isOffline(): boolean {
  return typeof navigator !== "undefined" && navigator.onLine === false && typeof addEventListener === "function";
}

/** In Node, a timer of the logger's must not keep the process alive. */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

async function randomUUID(): Promise<string> {
  const crypto = globalThis.crypto;
  if (typeof crypto?.randomUUID === "function") return crypto.randomUUID();
  if (typeof crypto?.getRandomValues === "function") {
    // Pages on plain http (other than localhost) have getRandomValues but no randomUUID: a v4 UUID by hand.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  // Node 18 has no global crypto; a variable specifier keeps bundlers from pulling node:crypto in.
  const nodeCrypto = "node:crypto";
  return ((await import(nodeCrypto)) as { randomUUID: () => string }).randomUUID();
}

/** Lone surrogates (a text cut inside an emoji) become U+FFFD, as the API would refuse them. */
function wellFormed(text: string): string {
  const native = (text as { toWellFormed?: () => string }).toWellFormed;
  if (typeof native === "function") return native.call(text);
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

function codePointCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The API's limits that the JSON Schema cannot express; the event is valid against the schema. */
function limitProblems(event: Event): string[] {
  const problems: string[] = [];
  for (const name of TEXT_FIELDS) {
    const text = event[name];
    // eslint-disable-next-line no-control-regex
    if (typeof text === "string" && /[^\x00-\x7f]/.test(text) && codePointCount(text.normalize("NFKC")) > MAX_TEXT_CHARS)
      problems.push(`${name}: must have at most ${MAX_TEXT_CHARS} characters once normalised (NFKC)`);
  }
  return problems;
}

/** The event's size as the API measures it: Python's json.dumps adds a space after each ":" and ",". */
function apiBytes(json: string, event: Event): number {
  return encoder.encode(json).length + 2 * Object.keys(event).length;
}

let logger: Logger | null = null;

/**
 * Configure the logger; calling it again replaces the previous one, and what that one still holds (queue, a batch
 * waiting for its retry, a request in flight if it fails) moves to the new one. A bad option throws a TypeError.
 */
export function init(options: InitOptions): void {
  if (!options?.endpoint || !options.writeKey) throw new TypeError("analytics: init needs endpoint and writeKey");
  const next = new Logger(options); // throws on a bad option, leaving the current logger in place
  const previous = logger;
  logger = next;
  previous?.retire(next); // what it still holds moves to the new one
}

/** Calls of flush() being awaited: in Node, they keep the process alive (the logger's own timers do not). */
let flushing = 0;
let keepAlive: ReturnType<typeof setInterval> | null = null;

/** Send everything queued; settles when the queue is sent or given up. Never rejects. */
export async function flush(): Promise<void> {
  if (flushing++ === 0) keepAlive = setInterval(() => undefined, MAX_TIMER_MS);
  try {
    await logger?.flush();
  } finally {
    if (--flushing === 0 && keepAlive !== null) {
      clearInterval(keepAlive);
      keepAlive = null;
    }
  }
}

/** Counters of the current logger. */
export function stats(): Stats {
  return logger?.stats() ?? { sent: 0, beaconed: 0, retried: 0, dropped: 0, rejected: 0, queued: 0 };
}

async function log(eventType: string, userId: unknown, fields: Record<string, unknown>): Promise<string> {
  if (!logger) throw new Error("analytics: call init() before logging events");
  const eventId = await randomUUID();
  const event: Event = { event_id: eventId, occurred_at: new Date().toISOString(), event_type: eventType };
  for (const [name, value] of Object.entries({ user_id: userId, ...fields })) {
    if (value !== undefined && value !== null) event[name] = typeof value === "string" ? wellFormed(value) : value;
  }
  let problems = validate(contractSchema, event);
  if (!problems.length) problems = limitProblems(event);
  const json = JSON.stringify(event);
  if (!problems.length && apiBytes(json, event) > MAX_EVENT_BYTES)
    problems = [`event: must be at most ${MAX_EVENT_BYTES} bytes as JSON (a control character takes 6)`];
  if (problems.length) throw new InvalidEventError(problems);
  logger.enqueue({ json, bytes: encoder.encode(json).length });
  return eventId;
}

/** The props of a hook call: an object, else the hook rejects. */
function checked<T>(props: T): T {
  if (props === null || typeof props !== "object") throw new InvalidEventError(["event: props must be an object"]);
  return props;
}

/** A resume was tailored to a job description (``resume.tailor``), or a tailoring refined (``resume.refine``). */
export async function logResumeTailoringEvent(props: ResumeTailoringProps): Promise<string> {
  const p = checked(props);
  return log(p.isRefinement ? "resume.refine" : "resume.tailor", p.userId, {
    resume_id: p.resumeId,
    is_refinement: p.isRefinement,
    resume_text: p.resumeText,
    job_description: p.jobDescription,
    tailored_text: p.tailoredText,
    ats_score: p.atsScore,
    jd_score: p.jdScore,
    tailoring_mode: p.tailoringMode,
    version: p.version ?? 1,
  });
}

/** A user uploaded a resume. */
export async function logResumeUploadEvent(props: ResumeUploadProps): Promise<string> {
  const p = checked(props);
  return log("resume.upload", p.userId, { resume_id: p.resumeId, resume_text: p.resumeText, version: p.version ?? 1 });
}

/** A user copied a (tailored) resume to the clipboard. */
export async function logResumeCopyEvent(props: ResumeActionProps): Promise<string> {
  const p = checked(props);
  return log("resume.copy", p.userId, { resume_id: p.resumeId, version: p.version ?? 1 });
}

/** A user downloaded a (tailored) resume. */
export async function logResumeDownloadEvent(props: ResumeActionProps): Promise<string> {
  const p = checked(props);
  return log("resume.download", p.userId, { resume_id: p.resumeId, version: p.version ?? 1 });
}

/**
 * A UI interaction on a named element; ``page`` is a path (query string and fragment are cut off; what is
 * left empty, as a hash route's "#/editor", counts as no page).
 */
export async function logInteractionEvent(props: InteractionProps): Promise<string> {
  const p = checked(props);
  const page = typeof p.page === "string" ? p.page.split("?", 1)[0].split("#", 1)[0] || undefined : p.page;
  return log("interaction", p.userId, { action: p.action, element: p.element, page });
}
