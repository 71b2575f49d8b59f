// The front's HTTP surface through openai 7.x: delete, Idempotency-Key,
// previous_response_id, and the error answers (401, 400, 404, 413) in
// OpenAI's shape, with the server still serving afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import OpenAI6 from 'openai6';
import { BASE, FRONT, client, knobs, truth, runCount, backendRuns } from './lib.mjs';

const T = { timeout: 30000 };
const c = client();
const UNKNOWN = FRONT ? 'resp_00000000deadbeef' : 'resp_000000000000000000000000';

// OpenAI's error body: {"error":{"message","type","param","code"}}.
function assertShape(err, status) {
  assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
  assert.equal(err.status, status, `status ${err.status}: ${err.message}`);
  assert.ok(err.error && typeof err.error === 'object', `no error object in the body: ${err.message}`);
  for (const k of ['message', 'type', 'param', 'code'])
    assert.ok(k in err.error, `error body lacks "${k}": ${JSON.stringify(err.error)}`);
  assert.equal(typeof err.error.message, 'string');
}

async function rejects(p) {
  try { await p; } catch (e) { return e; }
  assert.fail('the call succeeded');
}

async function stillServing() {
  const r = await c.responses.create({ model: 'mock', input: 'after', metadata: knobs(3, 0) });
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, (await truth(r.id)).text);
}

test('delete, then retrieve is 404 NotFoundError', { ...T, skip: !FRONT && 'agent-mock has no DELETE' }, async () => {
  const r = await c.responses.create({ model: 'mock', input: 'delete me', metadata: knobs(3, 0) });
  assert.equal(r.status, 'completed');
  await c.responses.delete(r.id);
  const e = await rejects(c.responses.retrieve(r.id));
  assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
  assertShape(e, 404);
  const e2 = await rejects(c.responses.retrieve(r.id, { stream: true }));
  assert.ok(e2 instanceof OpenAI.NotFoundError, `stream retrieve after delete: ${e2}`);
});

test('unknown id: 404 NotFoundError "Response with id ... not found." (retrieve, stream, cancel, delete)', T, async () => {
  for (const call of [
    () => c.responses.retrieve(UNKNOWN),
    () => c.responses.retrieve(UNKNOWN, { stream: true }),
    () => c.responses.cancel(UNKNOWN),
    ...(FRONT ? [() => c.responses.delete(UNKNOWN)] : []),
  ]) {
    const e = await rejects(call());
    assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
    assertShape(e, 404);
    assert.equal(e.error.message, `Response with id '${UNKNOWN}' not found.`);
  }
  // openai 6.x maps it the same way.
  const e6 = await rejects(client(OpenAI6).responses.retrieve(UNKNOWN));
  assert.ok(e6 instanceof OpenAI6.NotFoundError, `${e6}`);
  await stillServing();
});

test('bad token: 401 AuthenticationError; then still serving', { ...T, skip: !FRONT && 'agent-mock takes any token' }, async () => {
  const bad = new OpenAI({ baseURL: BASE, apiKey: 'wrong-token', maxRetries: 0 });
  const e = await rejects(bad.responses.create({ model: 'mock', input: 'x', metadata: knobs(3, 0) }));
  assert.ok(e instanceof OpenAI.AuthenticationError, `${e}`);
  assertShape(e, 401);
  const e2 = await rejects(bad.responses.retrieve(UNKNOWN));
  assert.ok(e2 instanceof OpenAI.AuthenticationError, `retrieve with a bad token: ${e2}`);
  // No Authorization header at all.
  const r = await fetch(`${BASE}/responses`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock', input: 'x' }),
  });
  assert.equal(r.status, 401);
  assert.ok((await r.json()).error?.message, 'no error.message without a token');
  await stillServing();
});

test('bad body: 400 BadRequestError (not an object; not JSON); then still serving', T, async () => {
  // The SDK sends JSON.stringify of what it is given: a string is valid JSON
  // but not a request object.
  const e = await rejects(c.post('/responses', { body: 'not an object' }));
  assert.ok(e instanceof OpenAI.BadRequestError, `${e}`);
  assertShape(e, 400);
  const e2 = await rejects(c.responses.create({ model: 'mock', input: 'x', stream: 'yes please' }));
  assert.ok(e2 instanceof OpenAI.BadRequestError, `stream:"yes please": ${e2}`);
  const r = await fetch(`${BASE}/responses`, {
    method: 'POST', headers: { authorization: `Bearer ${process.env.SDK_TOKEN || 'none'}`, 'content-type': 'application/json' },
    body: '{"model": "mock", "input": ',
  });
  assert.equal(r.status, 400, `malformed JSON answered ${r.status}`);
  const b = await r.json();
  assert.ok(b.error && typeof b.error.message === 'string', `body ${JSON.stringify(b)}`);
  await stillServing();
});

test('huge body (16 MiB): 413 in OpenAI\'s error shape; then still serving', T, async () => {
  const e = await rejects(c.responses.create({ model: 'mock', input: 'x'.repeat(16 << 20), metadata: knobs(3, 0) }));
  if (FRONT) assertShape(e, 413);
  else assert.equal(e.status, 413, `${e}`); // agent-mock's is libevent's HTML page
  await stillServing();
});

test('Idempotency-Key: the same key twice gives one run', T, async () => {
  const key = `sdk-idem-${process.pid}-${Date.now()}`;
  const before = await runCount();
  const opts = { headers: { 'Idempotency-Key': key } };
  const body = { model: 'mock', input: 'idem', background: true, metadata: knobs(10, 5) };
  const a = await c.responses.create(body, opts);
  const b = await c.responses.create(body, opts);
  assert.equal(b.id, a.id, 'a repeated POST made another response');
  // A stream POST with the same key is the same run too.
  const s = await c.responses.create({ ...body, stream: true }, opts);
  let sid = null;
  for await (const ev of s) { sid ??= ev.response?.id; }
  assert.equal(sid, a.id, 'a repeated stream POST made another response');
  assert.equal(await runCount(), before + 1, 'runs counted');
  // agent-mock counts every POST it answered from the same key.
  if (FRONT) assert.equal((await backendRuns(a.id)).length, 1, 'more than one backend run');
});

test('previous_response_id: an agentd response is accepted; an unknown one is 400', {
  ...T, skip: !FRONT && 'agent-mock ignores previous_response_id',
}, async () => {
  const first = await c.responses.create({ model: 'mock', input: 'first', metadata: knobs(3, 0) });
  const second = await c.responses.create({
    model: 'mock', input: 'second', previous_response_id: first.id, metadata: knobs(3, 0),
  });
  assert.equal(second.status, 'completed');
  assert.equal(second.output_text, (await truth(second.id)).text);
  // The backend-side check (the backend got first's backend id) needs
  // agent-mock to record previous_response_id; it does not yet.
  const e = await rejects(c.responses.create({
    model: 'mock', input: 'third', previous_response_id: UNKNOWN, metadata: knobs(3, 0),
  }));
  assert.ok(e instanceof OpenAI.BadRequestError, `${e}`);
  assertShape(e, 400);
});
