// The built client (dist/) against a local HTTP server that answers like the ingestion API and can
// fail on purpose. The real API and a real browser are exercised by the Python end-to-end test.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, beforeEach, test } from "node:test";

import * as analytics from "../dist/index.js";
import { contractSchema } from "../dist/contract-schema.generated.js";
import { assertSupported, validate } from "../dist/validate.js";

const KEY = "browser-key-not-secret";
const SECRET = "jane.doe@example.com"; // a PII-looking value that must never appear in an error

/** A fake ingestion API: records requests; `plan` lists the statuses of the next POSTs (then 200). */
const api = { requests: [], plan: [], url: "" };
const server = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    const parsed = JSON.parse(body);
    api.requests.push({ headers: request.headers, body: parsed });
    const status = api.plan.shift() ?? 200;
    const headers = { "Content-Type": "application/json" };
    if (status === 429) headers["Retry-After"] = "0";
    response.writeHead(status, headers);
    response.end(JSON.stringify(status === 200 ? { accepted: parsed.batch.length, rejected: 0, errors: [] } : {}));
  });
});

before(async () => {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  api.url = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());
beforeEach(() => {
  api.requests = [];
  api.plan = [];
});

const fast = { backoffBaseMs: 1, backoffMaxMs: 5, flushIntervalMs: 60_000 };
const sentEvents = () => api.requests.flatMap((r) => r.body.batch);

test("the committed schema uses only keywords the validator implements", () => {
  assert.doesNotThrow(() => assertSupported(contractSchema));
  assert.throws(() => assertSupported({ properties: { x: { multipleOf: 2 } } }), /multipleOf/);
});

test("hooks map the app's camelCase props to contract events, batched with the write key", async () => {
  analytics.init({ endpoint: api.url + "/", writeKey: KEY, batchSize: 3, ...fast });
  const ids = [
    await analytics.logResumeTailoringEvent({
      userId: "user-id",
      resumeId: "resume-id",
      isRefinement: false,
      resumeText: "resume text",
      jobDescription: "job description",
      tailoredText: "tailored resume text",
      atsScore: 85,
      jdScore: 90,
      tailoringMode: "personalized",
      version: 1,
    }),
    await analytics.logResumeTailoringEvent({ userId: "u", resumeId: "r", isRefinement: true, version: 2 }),
    await analytics.logInteractionEvent({ userId: "user-id", action: "click", element: "refine-button", page: "/t?e=x#y" }),
  ];
  await analytics.flush();
  assert.equal(api.requests.length, 1);
  assert.equal(api.requests[0].headers.authorization, `Bearer ${KEY}`);
  assert.equal(api.requests[0].headers["content-type"], "application/json");
  const [tailor, refine, click] = sentEvents();
  assert.deepEqual(ids, [tailor.event_id, refine.event_id, click.event_id]);
  assert.match(tailor.event_id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(
    { ...tailor, event_id: undefined, occurred_at: undefined },
    {
      event_id: undefined,
      occurred_at: undefined,
      event_type: "resume.tailor",
      user_id: "user-id",
      resume_id: "resume-id",
      is_refinement: false,
      resume_text: "resume text",
      job_description: "job description",
      tailored_text: "tailored resume text",
      ats_score: 85,
      jd_score: 90,
      tailoring_mode: "personalized",
      version: 1,
    },
  );
  assert.equal(refine.event_type, "resume.refine");
  assert.deepEqual([click.event_type, click.action, click.element, click.page], ["interaction", "click", "refine-button", "/t"]);
  assert.ok(!Number.isNaN(Date.parse(click.occurred_at)) && click.occurred_at.endsWith("Z"));
  assert.deepEqual(analytics.stats(), { sent: 3, beaconed: 0, retried: 0, dropped: 0, rejected: 0, queued: 0 });
});

test("upload, copy and download hooks", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
  await analytics.logResumeUploadEvent({ userId: "u", resumeId: "r", resumeText: "text" });
  await analytics.logResumeCopyEvent({ userId: "u", resumeId: "r", version: 3 });
  await analytics.logResumeDownloadEvent({ userId: "u", resumeId: "r", version: 3 });
  await analytics.flush();
  assert.deepEqual(
    sentEvents().map((e) => [e.event_type, e.version]),
    [["resume.upload", 1], ["resume.copy", 3], ["resume.download", 3]],
  );
});

test("a contract violation rejects at call time, naming field and rule but not the value", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
  const cases = [
    [{ userId: "u", action: "click", element: SECRET }, /element: must match/],
    [{ userId: "u", action: "poke", element: "b" }, /action: must be one of click/],
    [{ userId: "", action: "click", element: "b" }, /user_id: must have at least 1/],
    [{ userId: SECRET.repeat(20), action: "click", element: "b" }, /user_id: must have at most 256/],
  ];
  for (const [props, message] of cases) {
    const error = await analytics.logInteractionEvent(props).then(() => null, (e) => e);
    assert.ok(error instanceof analytics.InvalidEventError, String(error));
    assert.match(error.message, message);
    assert.ok(!error.message.includes(SECRET) && !error.message.includes("poke"));
  }
  const tailoring = { userId: "u", resumeId: "r", isRefinement: false };
  for (const [props, message] of [
    [{ ...tailoring, atsScore: 101 }, /ats_score: must be <= 100/],
    [{ ...tailoring, jdScore: "90" }, /jd_score: must be of type number/],
    [{ ...tailoring, version: 0 }, /version: must be >= 1/],
    [{ ...tailoring, version: 1.5 }, /version: must be of type integer/],
    [{ ...tailoring, isRefinement: "no" }, /is_refinement: must be of type boolean/],
    [{ ...tailoring, atsScore: Number.NaN }, /ats_score: must be of type number/],
  ]) {
    await assert.rejects(analytics.logResumeTailoringEvent(props), message);
  }
  await analytics.flush();
  assert.equal(api.requests.length, 0);
});

test("the validator checks lengths in code points, as the Python contract does", () => {
  const base = { event_id: crypto.randomUUID(), occurred_at: new Date().toISOString(), user_id: "u" };
  const event = { ...base, event_type: "resume.copy", resume_id: "😀".repeat(256), version: 1 };
  assert.deepEqual(validate(contractSchema, event), []);
  assert.match(validate(contractSchema, { ...event, resume_id: "😀".repeat(257) })[0], /at most 256/);
  assert.match(validate(contractSchema, { ...event, occurred_at: "2026-01-01T00:00:00" })[0], /timezone/);
});

test("5xx and 429 are retried with backoff until accepted; each event is sent once it succeeds", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 2, ...fast });
  api.plan = [503, 429, 500];
  for (let i = 0; i < 4; i++) await analytics.logInteractionEvent({ userId: `u${i}`, action: "hover", element: "b" });
  await analytics.flush();
  assert.equal(api.requests.length, 5);
  const s = analytics.stats();
  assert.deepEqual([s.sent, s.retried, s.dropped, s.queued], [4, 6, 0, 0]);
  assert.equal(new Set(sentEvents().map((e) => e.event_id)).size, 4);
});

test("other 4xx are rejected, not retried", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
  api.plan = [401];
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  await analytics.flush();
  assert.equal(api.requests.length, 1);
  assert.deepEqual([analytics.stats().rejected, analytics.stats().retried], [1, 0]);
});

test("an unreachable API never throws into the app: retries, then drops and counts", async () => {
  const closed = createServer();
  await new Promise((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  analytics.init({ endpoint: `http://127.0.0.1:${port}`, writeKey: KEY, maxRetries: 2, ...fast });
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  await analytics.flush();
  assert.deepEqual(analytics.stats(), { sent: 0, beaconed: 0, retried: 2, dropped: 1, rejected: 0, queued: 0 });
});

test("the queue is bounded: beyond it new events are dropped and counted", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, maxQueueSize: 2, ...fast });
  for (let i = 0; i < 3; i++) await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  assert.deepEqual([analytics.stats().queued, analytics.stats().dropped], [2, 1]);
  await analytics.flush();
  assert.equal(analytics.stats().sent, 2);
});

test("the flush interval sends without an explicit flush", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, flushIntervalMs: 20 });
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  for (let i = 0; i < 100 && analytics.stats().sent === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(analytics.stats().sent, 1);
});

/** A fake browser page: document, page events and a sendBeacon that, like Chromium's, shares a 64 KiB
 * quota of bytes in flight with keepalive fetches (beacons never finish here: a slow link or a gone page). */
function fakePage({ sendBeacon: withBeacon = true } = {}) {
  const page = new EventTarget();
  const browser = { inFlight: 0, beacons: [] };
  const bytes = (body) => new TextEncoder().encode(body).length;
  globalThis.document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  globalThis.addEventListener = page.addEventListener.bind(page);
  globalThis.removeEventListener = page.removeEventListener.bind(page);
  const sendBeacon = (url, body) => {
    if (browser.inFlight + bytes(body) > 64 * 1024) return false;
    browser.inFlight += bytes(body);
    browser.beacons.push({ url, body });
    return true;
  };
  const navigator = withBeacon ? { sendBeacon, onLine: true } : { onLine: true };
  Object.defineProperty(globalThis, "navigator", { value: navigator, configurable: true, writable: true });
  /** A fetch that holds every request until `release()`; keepalive ones count against the quota. */
  const requests = [];
  const pending = [];
  const fetch = (url, init) => {
    const size = bytes(init.body);
    if (init.keepalive && browser.inFlight + size > 64 * 1024) return Promise.reject(new TypeError("quota"));
    if (init.keepalive) browser.inFlight += size;
    return new Promise((resolve) => {
      requests.push({ init });
      pending.push({
        answer: () => {
          if (init.keepalive) browser.inFlight -= size;
          const accepted = JSON.parse(init.body).batch.length;
          resolve(new Response(JSON.stringify({ accepted, rejected: 0, errors: [] }), { status: 200 }));
        },
      });
    });
  };
  const release = async () => {
    for (let i = 0; i < 50; i++) {
      while (pending.length) pending.shift().answer();
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    browser,
    fetch,
    requests,
    release,
    hide() {
      globalThis.document.visibilityState = "hidden";
      globalThis.document.dispatchEvent(new Event("visibilitychange"));
    },
    close() {
      this.hide();
      page.dispatchEvent(new Event("pagehide"));
    },
    goOnline: () => page.dispatchEvent(new Event("online")),
    beaconed: () => browser.beacons.flatMap(({ body }) => JSON.parse(body).batch),
    sent: () => requests.flatMap(({ init }) => JSON.parse(init.body).batch),
    async cleanup() {
      // A new logger takes over what the page's still holds (README: init replaces the previous one): let it
      // all go out through a fetch that accepts everything, so nothing leaks into the next test.
      await release();
      const accept = async (url, init) =>
        new Response(JSON.stringify({ accepted: JSON.parse(init.body).batch.length }), { status: 200 });
      analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, fetch: accept }); // detaches the page listeners
      await analytics.flush();
      analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
      delete globalThis.document;
      delete globalThis.addEventListener;
      delete globalThis.removeEventListener;
      delete globalThis.navigator;
    },
  };
}

const resumeText = "Experienced data engineer. ".repeat(925); // ~25 kB

test("on page exit the queue goes out as text/plain beacons under 60 kB, writeKey in the body", async () => {
  const fake = fakePage();
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 1000, ...fast, fetch: fake.fetch });
    for (let i = 0; i < 3; i++) await analytics.logResumeUploadEvent({ userId: "u", resumeId: `r${i}`, resumeText: "x".repeat(9000) });
    fake.close(); // visibilitychange, then pagehide: nothing is sent twice
    assert.equal(fake.requests.length, 0);
    for (const { url, body } of fake.browser.beacons) {
      assert.equal(url, `${api.url}/v1/batch`);
      assert.ok(new TextEncoder().encode(body).length <= 60_000);
      assert.equal(JSON.parse(body).writeKey, KEY);
    }
    assert.deepEqual(fake.beaconed().map((e) => e.resume_id), ["r0", "r1", "r2"]);
    assert.deepEqual(analytics.stats(), { sent: 0, beaconed: 3, retried: 0, dropped: 0, rejected: 0, queued: 0 });
  } finally {
    await fake.cleanup();
  }
});

test("a tab switch beacons only what fits the keepalive quota and sends the rest normally: nothing is lost", async () => {
  const fake = fakePage();
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, ...fast, fetch: fake.fetch });
    for (let i = 0; i < 6; i++) await analytics.logResumeUploadEvent({ userId: "u", resumeId: `r${i}`, resumeText });
    // Past 32 kB queued, a batch went out early (with keepalive, in flight): the exit backlog stays small.
    assert.ok(fake.requests.length >= 1 && fake.requests[0].init.keepalive);
    fake.hide();
    assert.ok(fake.browser.inFlight <= 64 * 1024);
    assert.equal(analytics.stats().dropped, 0);
    await fake.release(); // the page lives on: the rest is sent the normal way
    await analytics.flush();
    const ids = [...fake.beaconed(), ...fake.sent()].map((e) => e.resume_id).sort();
    assert.deepEqual(ids, ["r0", "r1", "r2", "r3", "r4", "r5"]);
    const s = analytics.stats();
    assert.deepEqual([s.sent + s.beaconed, s.dropped, s.queued], [6, 0, 0]);
  } finally {
    await fake.cleanup();
  }
});

test("at page close, events beyond the quota are dropped and counted, never handed to a refused beacon", async () => {
  const fake = fakePage();
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, ...fast, fetch: fake.fetch });
    const events = [resumeText, resumeText, "x".repeat(9000), "x".repeat(9000), resumeText, "y".repeat(70_000)];
    for (const [i, text] of events.entries())
      await analytics.logResumeUploadEvent({ userId: "u", resumeId: `r${i}`, resumeText: text });
    fake.close(); // the first two are in a keepalive request (it outlives the page); ~14 kB of quota left
    assert.deepEqual(fake.beaconed().map((e) => e.resume_id), ["r2"]);
    assert.ok(fake.browser.inFlight <= 64 * 1024);
    assert.deepEqual(analytics.stats(), { sent: 0, beaconed: 1, retried: 0, dropped: 3, rejected: 0, queued: 2 });
  } finally {
    await fake.cleanup();
  }
});

test("a batch waiting for its retry is counted as queued and beaconed when the page goes", async () => {
  const fake = fakePage();
  let calls = 0;
  const fetch = async () => {
    calls++;
    return new Response("{}", { status: 503, headers: { "Retry-After": "30" } });
  };
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, fetch });
    const id = await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
    void analytics.flush();
    while (calls === 0) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 10)); // answered 503: now sleeping 30 s
    assert.equal(analytics.stats().queued, 1);
    fake.close();
    assert.deepEqual(fake.beaconed().map((e) => e.event_id), [id]);
    assert.deepEqual(analytics.stats(), { sent: 0, beaconed: 1, retried: 1, dropped: 0, rejected: 0, queued: 0 });
  } finally {
    await fake.cleanup();
  }
});

test("offline when the retries run out: the batch waits for the online event, then is sent", async () => {
  const fake = fakePage();
  let online = false;
  let attempts = 0;
  const fetch = async (url, init) => {
    attempts++;
    if (!online) throw new TypeError("Failed to fetch");
    return new Response(JSON.stringify({ accepted: JSON.parse(init.body).batch.length }), { status: 200 });
  };
  try {
    globalThis.navigator.onLine = false;
    analytics.init({ endpoint: api.url, writeKey: KEY, maxRetries: 1, ...fast, fetch });
    await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
    const flushed = analytics.flush();
    while (attempts < 2) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([attempts, analytics.stats().dropped, analytics.stats().queued], [2, 0, 1]);
    online = true;
    globalThis.navigator.onLine = true;
    fake.goOnline();
    await flushed;
    assert.deepEqual([analytics.stats().sent, analytics.stats().dropped], [1, 0]);
  } finally {
    await fake.cleanup();
  }
});

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const accepting = (log = []) => async (url, init) => {
  const { batch } = JSON.parse(init.body);
  log.push(...batch);
  return new Response(JSON.stringify({ accepted: batch.length, rejected: 0, errors: [] }), { status: 200 });
};

test("offline, a tab switch hands nothing to sendBeacon (it would be lost): events stay queued until online", async () => {
  const fake = fakePage();
  const sent = [];
  let online = false;
  const send = accepting(sent);
  const fetch = async (url, init) => {
    if (!online) throw new TypeError("Failed to fetch");
    return send(url, init);
  };
  try {
    globalThis.navigator.onLine = false;
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, ...fast, fetch });
    for (let i = 0; i < 3; i++) await analytics.logResumeCopyEvent({ userId: "u", resumeId: `r${i}` });
    fake.hide();
    assert.equal(fake.browser.beacons.length, 0);
    assert.deepEqual([analytics.stats().queued, analytics.stats().beaconed], [3, 0]);
    online = true;
    globalThis.navigator.onLine = true;
    fake.goOnline();
    await analytics.flush();
    assert.deepEqual(sent.map((e) => e.resume_id), ["r0", "r1", "r2"]);
    assert.deepEqual(analytics.stats(), { sent: 3, beaconed: 0, retried: 0, dropped: 0, rejected: 0, queued: 0 });
    // At the final pagehide, beacons go anyway (the page will not see the network come back).
    online = false;
    globalThis.navigator.onLine = false;
    await analytics.logResumeCopyEvent({ userId: "u", resumeId: "last" });
    fake.close();
    assert.deepEqual(fake.beaconed().map((e) => e.resume_id), ["last"]);
  } finally {
    globalThis.navigator.onLine = true;
    await fake.cleanup();
  }
});

test("offline, the wait for the network is bounded (offlineWaitMs): flush() settles and the batch is dropped", { timeout: 5000 }, async () => {
  const fake = fakePage();
  const fetch = async () => {
    throw new TypeError("Failed to fetch");
  };
  try {
    globalThis.navigator.onLine = false;
    analytics.init({ endpoint: api.url, writeKey: KEY, maxRetries: 1, offlineWaitMs: 100, ...fast, fetch });
    await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
    await analytics.flush();
    assert.deepEqual(analytics.stats(), { sent: 0, beaconed: 0, retried: 1, dropped: 1, rejected: 0, queued: 0 });
  } finally {
    globalThis.navigator.onLine = true;
    await fake.cleanup();
  }
});

test("the fetch option is called unbound, as the browser's own fetch must be (no Illegal invocation)", async () => {
  const sent = [];
  const send = accepting(sent);
  // Like window.fetch: a method call on any other object throws.
  function strictFetch(url, init) {
    if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
    return send(url, init);
  }
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, maxRetries: 0, fetch: strictFetch });
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  await analytics.flush();
  assert.deepEqual([analytics.stats().sent, analytics.stats().dropped, sent.length], [1, 0, 1]);
});

test("a second init takes over the previous logger's queue and batch waiting for its retry; flush() waits for them", { timeout: 5000 }, async () => {
  let aCalls = 0;
  const a = async () => {
    aCalls++;
    return new Response("{}", { status: 503, headers: { "Retry-After": "30" } });
  };
  analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 3, ...fast, fetch: a });
  for (let i = 0; i < 4; i++) await analytics.logResumeCopyEvent({ userId: "u", resumeId: `a${i}` });
  while (aCalls === 0) await tick(1);
  await tick(10); // the first three: answered 503, waiting 30 s for their retry; the fourth queued
  const sent = [];
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, fetch: accepting(sent) });
  await analytics.logResumeCopyEvent({ userId: "u", resumeId: "b0" });
  assert.equal(analytics.stats().queued, 5);
  const started = Date.now();
  await analytics.flush();
  assert.ok(Date.now() - started < 2000);
  assert.deepEqual(sent.map((e) => e.resume_id).sort(), ["a0", "a1", "a2", "a3", "b0"]);
  assert.equal(aCalls, 1);
  assert.deepEqual([analytics.stats().sent, analytics.stats().queued, analytics.stats().dropped], [5, 0, 0]);
});

test("a second init: the previous logger's request in flight is beaconed by the new one when the page goes", async () => {
  const fake = fakePage();
  let calls = 0;
  let answer;
  const a = (url, init) => {
    if (++calls === 1) return Promise.reject(new TypeError("Failed to fetch")); // no keepalive after this
    return new Promise((resolve) => (answer = () => accepting()(url, init).then(resolve)));
  };
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 2, ...fast, fetch: a });
    for (let i = 0; i < 2; i++) await analytics.logResumeCopyEvent({ userId: "u", resumeId: `a${i}` });
    while (calls < 2) await tick(1); // the retry is in flight, without keepalive: it would die with the page
    analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, fetch: fake.fetch });
    await analytics.logResumeCopyEvent({ userId: "u", resumeId: "b0" });
    assert.equal(analytics.stats().queued, 3);
    fake.close();
    assert.deepEqual(fake.beaconed().map((e) => e.resume_id).sort(), ["a0", "a1", "b0"]);
    assert.deepEqual([analytics.stats().beaconed, analytics.stats().queued], [3, 0]);
    answer(); // the page lived after all: the answer moves them from beaconed to sent
    await analytics.flush();
    assert.deepEqual([analytics.stats().beaconed, analytics.stats().sent], [1, 2]);
  } finally {
    await fake.cleanup();
  }
});

test("without sendBeacon, a batch sent on exit and retried too is counted once", async () => {
  const fake = fakePage({ sendBeacon: false });
  const requests = [];
  let json = 0;
  const fetch = async (url, init) => {
    const { batch } = JSON.parse(init.body);
    requests.push(init.headers["Content-Type"]);
    if (init.headers["Content-Type"] === "application/json" && json++ === 0)
      return new Response("{}", { status: 503, headers: { "Retry-After": "0.05" } });
    return new Response(JSON.stringify({ accepted: batch.length, rejected: 0, errors: [] }), { status: 200 });
  };
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 5, ...fast, fetch });
    for (let i = 0; i < 5; i++) await analytics.logResumeCopyEvent({ userId: "u", resumeId: `r${i}` });
    while (json === 0) await tick(1);
    await tick(5); // answered 503: waiting for its retry
    fake.hide(); // the batch goes out as a keepalive fetch too
    await tick(100); // both the exit request and (perhaps) the retry are answered
    await analytics.flush();
    assert.ok(requests.includes("text/plain"));
    assert.deepEqual(analytics.stats(), { sent: 5, beaconed: 0, retried: 5, dropped: 0, rejected: 0, queued: 0 });
  } finally {
    await fake.cleanup();
  }
});

test("without sendBeacon, an exit request answered 503 on a tab switch requeues its events; at close they are dropped", async () => {
  const fake = fakePage({ sendBeacon: false });
  const sent = [];
  const send = accepting(sent);
  const fetch = async (url, init) =>
    init.headers["Content-Type"] === "text/plain" ? new Response("{}", { status: 503 }) : send(url, init);
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, ...fast, fetch });
    for (let i = 0; i < 3; i++) await analytics.logResumeCopyEvent({ userId: "u", resumeId: `r${i}` });
    fake.hide();
    await tick(10);
    assert.deepEqual([analytics.stats().rejected, analytics.stats().dropped, analytics.stats().queued], [0, 0, 3]);
    await analytics.flush();
    assert.deepEqual(sent.map((e) => e.resume_id), ["r0", "r1", "r2"]);
    await analytics.logResumeCopyEvent({ userId: "u", resumeId: "last" });
    fake.close();
    await tick(10);
    assert.deepEqual(analytics.stats(), { sent: 3, beaconed: 0, retried: 0, dropped: 1, rejected: 0, queued: 0 });
  } finally {
    await fake.cleanup();
  }
});

test("without sendBeacon, a custom fetch throwing on the exit request never throws into the page; the timer sends", async () => {
  const fake = fakePage({ sendBeacon: false });
  const sent = [];
  const send = accepting(sent);
  const errors = [];
  const onError = (error) => errors.push(error);
  process.on("uncaughtException", onError);
  const fetch = (url, init) => {
    if (init.headers["Content-Type"] === "text/plain") throw new TypeError("wrapper: unsupported");
    return send(url, init);
  };
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, ...fast, flushIntervalMs: 30, fetch });
    for (let i = 0; i < 3; i++) await analytics.logResumeCopyEvent({ userId: "u", resumeId: `r${i}` });
    fake.hide();
    for (let i = 0; i < 100 && sent.length < 3; i++) await tick(5); // no flush(): the flush timer sends them
    assert.deepEqual(errors, []);
    assert.deepEqual(sent.map((e) => e.resume_id), ["r0", "r1", "r2"]);
    assert.deepEqual([analytics.stats().sent, analytics.stats().queued], [3, 0]);
  } finally {
    process.off("uncaughtException", onError);
    await fake.cleanup();
  }
});

test("requestTimeoutMs also abandons a custom fetch that ignores the signal, and a body that never ends", { timeout: 5000 }, async () => {
  const answers = [
    () => new Promise(() => undefined), // never answers, ignores `signal`
    () => Promise.resolve(new Response(new ReadableStream({ start() {} }), { status: 200 })), // a body that never ends
  ];
  const send = accepting();
  const fetch = (url, init) => (answers.length ? answers.shift()() : send(url, init));
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, requestTimeoutMs: 100, fetch });
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  await analytics.flush();
  assert.deepEqual([analytics.stats().sent, analytics.stats().retried], [1, 2]);
});

test("options left undefined take their defaults; a bad numeric option makes init throw", async () => {
  const undefinedOptions = { batchSize: undefined, maxRetries: undefined, backoffBaseMs: undefined };
  analytics.init({ endpoint: api.url, writeKey: KEY, ...undefinedOptions, maxQueueSize: undefined, flushIntervalMs: 60_000 });
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  assert.equal(api.requests.length, 0); // batchSize 20: not sent before the flush
  await analytics.flush();
  assert.deepEqual(api.requests.map((r) => r.body.batch.length), [1]);
  const names = ["batchSize", "flushIntervalMs", "maxQueueSize", "maxRetries", "backoffBaseMs", "backoffMaxMs", "requestTimeoutMs", "offlineWaitMs"];
  for (const name of names) {
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "5", null, ...(name === "maxRetries" ? [] : [0])]) {
      assert.throws(() => analytics.init({ endpoint: api.url, writeKey: KEY, [name]: value }), TypeError, `${name}: ${value}`);
    }
  }
  analytics.init({ endpoint: api.url, writeKey: KEY, maxRetries: 0 }); // no retry is a valid choice
});

test("without crypto.randomUUID (a plain-http page), event IDs are v4 UUIDs from crypto.getRandomValues", async () => {
  const original = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  let used = 0;
  const getRandomValues = (array) => (used++, original.get ? original.get.call(globalThis).getRandomValues(array) : original.value.getRandomValues(array));
  Object.defineProperty(globalThis, "crypto", { value: { getRandomValues }, configurable: true, writable: true });
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
    const id = await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(used, 1);
  } finally {
    Object.defineProperty(globalThis, "crypto", original);
  }
  await analytics.flush();
  assert.equal(analytics.stats().sent, 1);
});

test("an attempt that hangs (no answer, or a body that never ends) times out and is retried", { timeout: 10_000 }, async () => {
  let hits = 0;
  const hanging = createServer((request, response) => {
    hits++;
    request.resume();
    if (hits === 2) {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.write('{"accepted":');
    } else if (hits === 3) request.on("end", () => response.end(JSON.stringify({ accepted: 1 })));
  });
  await new Promise((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  try {
    const endpoint = `http://127.0.0.1:${hanging.address().port}`;
    analytics.init({ endpoint, writeKey: KEY, ...fast, requestTimeoutMs: 200 });
    await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
    await analytics.flush();
    assert.equal(hits, 3);
    assert.deepEqual([analytics.stats().sent, analytics.stats().retried], [1, 2]);
  } finally {
    hanging.closeAllConnections();
    hanging.close();
  }
});

test("a 2xx that is not the API's answer (a portal's page, a wrong count) is retried, not counted as sent", async () => {
  const answers = [
    new Response("<html>Welcome to the hotel wifi</html>", { status: 200, headers: { "Content-Type": "text/html" } }),
    new Response(JSON.stringify({ accepted: 1000 }), { status: 200 }),
    new Response(JSON.stringify({ accepted: 1.5 }), { status: 200 }),
    new Response(JSON.stringify({ accepted: 2, rejected: 0, errors: [] }), { status: 200 }),
  ];
  const fetch = async () => answers.shift();
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast, fetch });
  for (let i = 0; i < 2; i++) await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  await analytics.flush();
  assert.equal(answers.length, 0);
  assert.deepEqual(analytics.stats(), { sent: 2, beaconed: 0, retried: 6, dropped: 0, rejected: 0, queued: 0 });
});

test("texts the API would refuse: lone surrogates are repaired, NFKC growth and JSON size rejected by name", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
  const cut = "Led the team 😀".slice(0, -1) + " and \uDE00 more";
  await analytics.logResumeUploadEvent({ userId: "u", resumeId: "r", resumeText: cut });
  await analytics.flush();
  assert.equal(sentEvents()[0].resume_text, "Led the team \uFFFD and \uFFFD more");
  const tailoring = { userId: "u", resumeId: "r", isRefinement: false };
  await assert.rejects(
    analytics.logResumeTailoringEvent({ ...tailoring, jobDescription: "\uFDFA".repeat(20_000) }),
    (error) => error instanceof analytics.InvalidEventError && /job_description: .*NFKC/.test(error.message),
  );
  const control = "\u0001".repeat(200_000);
  await assert.rejects(
    analytics.logResumeTailoringEvent({ ...tailoring, resumeText: control, jobDescription: control, tailoredText: control }),
    (error) => error instanceof analytics.InvalidEventError && /^analytics: invalid event: event: must be at most 2465536 bytes/.test(error.message) && error.message.length < 200,
  );
  // Just under the limits: accepted (1 + 4 bytes a character, no NFKC growth).
  await analytics.logResumeTailoringEvent({ ...tailoring, resumeText: "é".repeat(200_000), jobDescription: "\uFDFA".repeat(11_000) });
});

test("the validator counts a high surrogate before an ordinary character as two code points", () => {
  const base = { event_id: crypto.randomUUID(), occurred_at: new Date().toISOString(), user_id: "u" };
  const event = { ...base, event_type: "resume.copy", resume_id: "\uD800a".repeat(129), version: 1 };
  assert.match(validate(contractSchema, event)[0], /resume_id: must have at most 256/);
  assert.deepEqual(validate(contractSchema, { ...event, resume_id: "\uD800a".repeat(128) }), []);
});

test("batches are split by count (at most 1000 a request, whatever batchSize)", async () => {
  const sizes = [];
  let open;
  const gate = new Promise((resolve) => (open = resolve));
  const fetch = async (url, init) => {
    const accepted = JSON.parse(init.body).batch.length;
    sizes.push(accepted);
    await gate; // the API is slow: the rest piles up behind the first (early) batch
    return new Response(JSON.stringify({ accepted }), { status: 200 });
  };
  analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 1e9, maxQueueSize: 3000, ...fast, fetch });
  for (let i = 0; i < 2500; i++) await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
  open();
  await analytics.flush();
  assert.equal(sizes.length, 4); // the first went early, once 32 kB were queued
  assert.deepEqual(sizes.slice(1, 3), [1000, 1000]);
  assert.equal(sizes[0] + sizes[3], 500);
});

test("batches are split by bytes (8 MiB) as well as by count", async () => {
  const bodies = [];
  const fetch = async (url, init) => {
    bodies.push(init.body);
    return new Response(JSON.stringify({ accepted: JSON.parse(init.body).batch.length }), { status: 200 });
  };
  analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 100, ...fast, fetch });
  const text = "😀".repeat(200_000); // 800 kB as UTF-8
  const props = { userId: "u", resumeId: "r", isRefinement: false, resumeText: text, jobDescription: text, tailoredText: text };
  for (let i = 0; i < 4; i++) await analytics.logResumeTailoringEvent(props);
  await analytics.flush();
  assert.equal(bodies.length, 2);
  for (const body of bodies) assert.ok(new TextEncoder().encode(body).length <= 8 * 1024 * 1024);
  assert.equal(analytics.stats().sent, 4);
});

test("a hook called with no props rejects (never throws); an empty page after the fragment is no page", async () => {
  analytics.init({ endpoint: api.url, writeKey: KEY, ...fast });
  for (const hook of [analytics.logInteractionEvent, analytics.logResumeTailoringEvent, analytics.logResumeCopyEvent]) {
    let promise;
    assert.doesNotThrow(() => (promise = hook(undefined)));
    await assert.rejects(promise, analytics.InvalidEventError);
    await assert.rejects(hook(null), analytics.InvalidEventError);
  }
  await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b", page: "#/editor" });
  await analytics.flush();
  assert.equal("page" in sentEvents()[0], false);
});

test("in Node, a batch waiting for its retry does not keep the process alive", { timeout: 15_000 }, async () => {
  const { spawn } = await import("node:child_process");
  const script = `
    import * as analytics from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
    const fetch = async () => new Response("{}", { status: 503, headers: { "Retry-After": "20" } });
    analytics.init({ endpoint: "http://127.0.0.1:9", writeKey: "k", batchSize: 1, fetch });
    await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });`;
  const started = Date.now();
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" });
  const code = await new Promise((resolve) => child.on("exit", resolve));
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
});

test("in Node, an awaited flush() keeps the process alive through a retry's wait", { timeout: 15_000 }, async () => {
  const { spawn } = await import("node:child_process");
  const script = `
    import * as analytics from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
    let calls = 0;
    const fetch = async () => ++calls === 1
      ? new Response("{}", { status: 503, headers: { "Retry-After": "0.3" } })
      : new Response(JSON.stringify({ accepted: 1 }), { status: 200 });
    analytics.init({ endpoint: "http://127.0.0.1:9", writeKey: "k", fetch });
    await analytics.logInteractionEvent({ userId: "u", action: "click", element: "b" });
    await analytics.flush();
    console.log(JSON.stringify(analytics.stats()));`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  assert.equal(code, 0);
  assert.equal(JSON.parse(out).sent, 1);
});

test("init requires an endpoint and a write key", () => {
  assert.throws(() => analytics.init({ endpoint: "", writeKey: KEY }), /endpoint and writeKey/);
});
