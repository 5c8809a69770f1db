// The resume app's analytics hooks for the browser (and Node 18+ for server-side rendering).
//
// Each hook validates its event against the pipeline's contract at call time (rejecting with an
// InvalidEventError that names the field and rule, never the value), queues it and resolves to the
// event ID. A sender batches the queue by size and time and retries network errors, 5xx and 429 with
// exponential backoff and jitter. When the page is hidden or closed, whatever is still queued goes out
// through navigator.sendBeacon (fallback: fetch with keepalive). Transport problems never reach the app:
// they end up in stats().
import { contractSchema } from "./contract-schema.generated.js";
import { validate } from "./validate.js";

export interface InitOptions {
  /** Base URL of the ingestion API, e.g. "https://events.example.com". */
  endpoint: string;
  /** The API's browser write key (ANALYTICS_BROWSER_WRITE_KEY); public by nature. */
  writeKey: string;
  /** Send as soon as this many events are queued (default 20). */
  batchSize?: number;
  /** Send queued events at least this often, in ms (default 5000). */
  flushIntervalMs?: number;
  /** Events held at most; beyond, new events are dropped and counted (default 1000). */
  maxQueueSize?: number;
  /** Retries of one batch after the first attempt (default 5). */
  maxRetries?: number;
  /** First backoff delay in ms, doubled per retry, with jitter (default 500). */
  backoffBaseMs?: number;
  /** Longest backoff delay in ms (default 30000). */
  backoffMaxMs?: number;
  /** Log transport outcomes (counts and statuses only, never event contents) to the console. */
  debug?: boolean;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface Stats {
  /** Accepted by the API. */
  sent: number;
  /** Handed to navigator.sendBeacon (or an unsettled keepalive fetch) when the page went away; delivery unconfirmable. */
  beaconed: number;
  /** Re-sent after a retryable failure (one count per event and retry). */
  retried: number;
  /** Lost on this side: queue full, retries exhausted, or too large for a beacon at page exit. */
  dropped: number;
  /** Refused by the API as invalid or unauthorised (not retried). */
  rejected: number;
  /** Waiting to be sent. */
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

// Browsers allow 64 KiB of keepalive/beacon bodies in flight per page: stay under it.
const BEACON_BYTES = 60_000;
const encoder = new TextEncoder();

class Logger {
  private readonly queue: Event[] = [];
  private readonly counts = { sent: 0, beaconed: 0, retried: 0, dropped: 0, rejected: 0 };
  private sending: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly url: string;
  private readonly options: Required<Omit<InitOptions, "fetch">>;
  private readonly fetch: typeof fetch;
  private readonly onHide = (event: globalThis.Event): void => {
    if (event.type === "pagehide" || document.visibilityState === "hidden") this.flushOnExit();
  };

  constructor(options: InitOptions) {
    this.options = {
      batchSize: 20,
      flushIntervalMs: 5000,
      maxQueueSize: 1000,
      maxRetries: 5,
      backoffBaseMs: 500,
      backoffMaxMs: 30_000,
      debug: false,
      ...options,
    };
    this.url = `${options.endpoint.replace(/\/+$/, "")}/v1/batch`;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    if (typeof addEventListener === "function" && typeof document !== "undefined") {
      addEventListener("pagehide", this.onHide);
      document.addEventListener("visibilitychange", this.onHide);
    }
  }

  stats(): Stats {
    return { ...this.counts, queued: this.queue.length };
  }

  enqueue(event: Event): void {
    if (this.queue.length >= this.options.maxQueueSize) {
      this.counts.dropped += 1;
      this.debug("queue full: event dropped");
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= this.options.batchSize) void this.drain();
    else if (this.timer === null) {
      this.timer = setTimeout(() => void this.drain(), this.options.flushIntervalMs);
      // In Node, a pending flush must not keep the process alive.
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.sending) await this.drain();
  }

  close(): void {
    if (typeof removeEventListener === "function" && typeof document !== "undefined") {
      removeEventListener("pagehide", this.onHide);
      document.removeEventListener("visibilitychange", this.onHide);
    }
    this.clearTimer();
  }

  /** One sender at a time; it empties the queue batch by batch. */
  private drain(): Promise<void> {
    this.clearTimer();
    this.sending ??= (async () => {
      try {
        while (this.queue.length > 0) await this.sendWithRetries(this.queue.splice(0, this.options.batchSize));
      } finally {
        this.sending = null;
      }
    })();
    return this.sending;
  }

  private async sendWithRetries(batch: Event[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.send(batch);
      if (!outcome.retry) return;
      if (attempt >= this.options.maxRetries) {
        this.counts.dropped += batch.length;
        this.debug(`gave up on ${batch.length} events after ${attempt + 1} attempts`);
        return;
      }
      this.counts.retried += batch.length;
      await sleep(outcome.afterMs ?? this.backoff(attempt));
    }
  }

  private async send(batch: Event[]): Promise<Outcome> {
    const body = JSON.stringify({ batch });
    let response: Response;
    try {
      response = await this.fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.options.writeKey}` },
        body,
        // A small request may outlive the page; the browser refuses keepalive bodies over its quota.
        keepalive: encoder.encode(body).length <= BEACON_BYTES,
      });
    } catch {
      this.debug("network error");
      return { retry: true };
    }
    if (response.status === 429 || response.status >= 500) {
      this.debug(`HTTP ${response.status}`);
      return { retry: true, afterMs: retryAfterMs(response.headers.get("retry-after")) };
    }
    let accepted = 0;
    if (response.ok) {
      const result = (await response.json().catch(() => ({}))) as { accepted?: number };
      accepted = typeof result.accepted === "number" ? result.accepted : batch.length;
    }
    this.counts.sent += accepted;
    this.counts.rejected += batch.length - accepted;
    this.debug(`HTTP ${response.status}: ${accepted} accepted, ${batch.length - accepted} rejected`);
    return { retry: false };
  }

  /** The page is going away: hand everything queued to the browser, which sends it after unload. */
  private flushOnExit(): void {
    this.clearTimer();
    const events = this.queue.splice(0);
    for (const chunk of beaconChunks(events, this.options.writeKey)) {
      if (chunk.body === null) {
        this.counts.dropped += chunk.count;
        continue;
      }
      let handed = false;
      try {
        handed = typeof navigator !== "undefined" && !!navigator.sendBeacon?.(this.url, chunk.body);
      } catch {
        // a missing or throwing sendBeacon: fall back below
      }
      if (!handed) {
        // sendBeacon refused it (quota) or is missing: a keepalive fetch, which fails when over the quota too.
        const count = chunk.count;
        const init = { method: "POST", headers: { "Content-Type": "text/plain" }, body: chunk.body, keepalive: true };
        this.fetch(this.url, init)
          .then((response) => this.settleExit(count, response.ok ? "sent" : "rejected"))
          .catch(() => this.settleExit(count, "dropped"));
      }
      this.counts.beaconed += chunk.count;
    }
    if (events.length) this.debug(`page hidden: ${events.length} events handed to the browser`);
  }

  private settleExit(count: number, outcome: "sent" | "rejected" | "dropped"): void {
    this.counts.beaconed -= count;
    this.counts[outcome] += count;
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

/** Beacon bodies ``{"writeKey", "batch"}`` under the beacon quota; an event too large alone gets body null. */
function* beaconChunks(events: Event[], writeKey: string): Generator<{ body: string | null; count: number }> {
  const head = `{"writeKey":${JSON.stringify(writeKey)},"batch":[`;
  let parts: string[] = [];
  let size = head.length + 2;
  for (const event of events) {
    const part = JSON.stringify(event);
    const bytes = encoder.encode(part).length + 1;
    if (head.length + 2 + bytes > BEACON_BYTES) {
      yield { body: null, count: 1 };
      continue;
    }
    if (size + bytes > BEACON_BYTES) {
      yield { body: `${head}${parts.join(",")}]}`, count: parts.length };
      parts = [];
      size = head.length + 2;
    }
    parts.push(part);
    size += bytes;
  }
  if (parts.length) yield { body: `${head}${parts.join(",")}]}`, count: parts.length };
}

function retryAfterMs(value: string | null): number | undefined {
  const seconds = value === null ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 300) * 1000 : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function randomUUID(): Promise<string> {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  // Node 18 has no global crypto; a variable specifier keeps bundlers from pulling node:crypto in.
  const nodeCrypto = "node:crypto";
  return ((await import(nodeCrypto)) as { randomUUID: () => string }).randomUUID();
}

let logger: Logger | null = null;

/** Configure the logger; calling it again replaces the previous one (after flushing it). */
export function init(options: InitOptions): void {
  if (!options?.endpoint || !options.writeKey) throw new TypeError("analytics: init needs endpoint and writeKey");
  const previous = logger;
  logger = new Logger(options);
  if (previous) {
    previous.close();
    void previous.flush();
  }
}

/** Send everything queued; settles when the queue is sent or given up. Never rejects. */
export async function flush(): Promise<void> {
  await logger?.flush();
}

/** Counters of the current logger. */
export function stats(): Stats {
  return logger?.stats() ?? { sent: 0, beaconed: 0, retried: 0, dropped: 0, rejected: 0, queued: 0 };
}

async function log(eventType: string, userId: string, fields: Record<string, unknown>): Promise<string> {
  if (!logger) throw new Error("analytics: call init() before logging events");
  const eventId = await randomUUID();
  const event: Event = { event_id: eventId, occurred_at: new Date().toISOString(), event_type: eventType };
  for (const [name, value] of Object.entries({ user_id: userId, ...fields })) {
    if (value !== undefined && value !== null) event[name] = value;
  }
  const problems = validate(contractSchema, event);
  if (problems.length) throw new InvalidEventError(problems);
  logger.enqueue(event);
  return eventId;
}

/** A resume was tailored to a job description (``resume.tailor``), or a tailoring refined (``resume.refine``). */
export function logResumeTailoringEvent(props: ResumeTailoringProps): Promise<string> {
  return log(props.isRefinement ? "resume.refine" : "resume.tailor", props.userId, {
    resume_id: props.resumeId,
    is_refinement: props.isRefinement,
    resume_text: props.resumeText,
    job_description: props.jobDescription,
    tailored_text: props.tailoredText,
    ats_score: props.atsScore,
    jd_score: props.jdScore,
    tailoring_mode: props.tailoringMode,
    version: props.version ?? 1,
  });
}

/** A user uploaded a resume. */
export function logResumeUploadEvent(props: ResumeUploadProps): Promise<string> {
  return log("resume.upload", props.userId, {
    resume_id: props.resumeId,
    resume_text: props.resumeText,
    version: props.version ?? 1,
  });
}

/** A user copied a (tailored) resume to the clipboard. */
export function logResumeCopyEvent(props: ResumeActionProps): Promise<string> {
  return log("resume.copy", props.userId, { resume_id: props.resumeId, version: props.version ?? 1 });
}

/** A user downloaded a (tailored) resume. */
export function logResumeDownloadEvent(props: ResumeActionProps): Promise<string> {
  return log("resume.download", props.userId, { resume_id: props.resumeId, version: props.version ?? 1 });
}

/** A UI interaction on a named element; ``page`` is a path (query string and fragment are cut off). */
export function logInteractionEvent(props: InteractionProps): Promise<string> {
  const page = typeof props.page === "string" ? props.page.split("?", 1)[0].split("#", 1)[0] : props.page;
  return log("interaction", props.userId, { action: props.action, element: props.element, page });
}
