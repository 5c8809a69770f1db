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

test("when the page is hidden the queue goes out as text/plain beacons under 60 kB, writeKey in the body", async () => {
  const page = new EventTarget();
  const beacons = [];
  globalThis.document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  globalThis.addEventListener = page.addEventListener.bind(page);
  globalThis.removeEventListener = page.removeEventListener.bind(page);
  const navigator = { sendBeacon: (url, body) => (beacons.push({ url, body }), true) };
  Object.defineProperty(globalThis, "navigator", { value: navigator, configurable: true, writable: true });
  try {
    analytics.init({ endpoint: api.url, writeKey: KEY, batchSize: 1000, ...fast });
    const text = "x".repeat(20_000);
    for (let i = 0; i < 5; i++) await analytics.logResumeUploadEvent({ userId: "u", resumeId: `r${i}`, resumeText: text });
    await analytics.logResumeUploadEvent({ userId: "u", resumeId: "huge", resumeText: "y".repeat(70_000) });
    globalThis.document.visibilityState = "hidden";
    globalThis.document.dispatchEvent(new Event("visibilitychange"));
    page.dispatchEvent(new Event("pagehide")); // fires too on close: nothing is sent twice
    assert.equal(api.requests.length, 0);
    assert.ok(beacons.length >= 2);
    const batches = beacons.map(({ url, body }) => {
      assert.equal(url, `${api.url}/v1/batch`);
      assert.ok(new TextEncoder().encode(body).length <= 60_000);
      const parsed = JSON.parse(body);
      assert.equal(parsed.writeKey, KEY);
      return parsed.batch;
    });
    assert.deepEqual(batches.flat().map((e) => e.resume_id), ["r0", "r1", "r2", "r3", "r4"]);
    assert.deepEqual(analytics.stats(), { sent: 0, beaconed: 5, retried: 0, dropped: 1, rejected: 0, queued: 0 });
  } finally {
    analytics.init({ endpoint: api.url, writeKey: KEY, ...fast }); // detaches the page listeners
    delete globalThis.document;
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
    delete globalThis.navigator;
  }
});

test("init requires an endpoint and a write key", () => {
  assert.throws(() => analytics.init({ endpoint: "", writeKey: KEY }), /endpoint and writeKey/);
});
