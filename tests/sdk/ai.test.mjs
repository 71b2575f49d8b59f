// The Vercel AI SDK (ai + @ai-sdk/openai): streamText and generateText on
// the Responses model, an aborted streamText whose run finishes anyway, and
// a backend failure as the SDK's own error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamText, generateText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { BASE, TOKEN, FRONT, SETUP, client, knobs, truth, until, picture } from './lib.mjs';

const T = { timeout: 30000 };
const provider = createOpenAI({ baseURL: BASE, apiKey: TOKEN });
const model = provider.responses('mock');
const opts = (meta) => ({ openai: { metadata: meta } });

// Read a streamText result's fullStream: text, the response id (from the
// raw response.created chunk), error parts, raw event types.
async function drain(result, { onDelta = null, onRaw = null } = {}) {
  const out = { text: '', id: null, errors: [], raw: [], thrown: null, finish: null };
  try {
    for await (const p of result.fullStream) {
      if (p.type === 'raw') {
        out.raw.push(p.rawValue);
        if (p.rawValue?.type === 'response.created') out.id = p.rawValue.response.id;
        if (onRaw) onRaw(p.rawValue);
      } else if (p.type === 'text-delta') {
        out.text += p.text;
        if (onDelta) onDelta(out);
      } else if (p.type === 'error') {
        out.errors.push(p.error);
      } else if (p.type === 'finish') {
        out.finish = p.finishReason;
      }
    }
  } catch (e) {
    out.thrown = e;
  }
  return out;
}

test('ai streamText: the backend text', T, async () => {
  const r = streamText({ model, prompt: 'hi', providerOptions: opts(knobs(20, 2)), includeRawChunks: true, maxRetries: 0, onError: () => {} });
  const out = await drain(r);
  assert.equal(out.thrown, null, `streamText threw ${out.thrown}`);
  assert.deepEqual(out.errors, [], `error parts: ${out.errors.map(String)}`);
  assert.ok(out.id, `no response.created seen: ${picture(out.raw)}`);
  const t = await truth(out.id);
  assert.equal(out.text, t.text);
  assert.equal(await r.text, t.text);
  assert.equal(out.finish, 'stop');
  const u = await r.usage;
  assert.equal(typeof u.outputTokens, 'number', `usage ${JSON.stringify(u)}`);
});

test('ai streamText aborted midway: the run completes anyway', {
  ...T, skip: !FRONT && 'agent-mock alone keeps no plain stream run after its client left',
}, async () => {
  const ac = new AbortController();
  const r = streamText({
    model, prompt: 'abort me', providerOptions: opts(knobs(60, 20)), includeRawChunks: true,
    abortSignal: ac.signal, maxRetries: 0, onError: () => {},
  });
  // After 3 deltas; a JSON-only backend gives one delta with the whole
  // text, so there as soon as the run is in progress.
  let deltas = 0;
  const out = await drain(r, {
    onDelta: () => { if (++deltas === 3) ac.abort(); },
    onRaw: (ev) => { if (SETUP === 'reject-stream' && ev?.type === 'response.in_progress') ac.abort(); },
  });
  assert.ok(ac.signal.aborted, 'the stream ended before the abort point');
  assert.ok(out.id, `no response id before the abort: ${picture(out.raw)}`);
  assert.ok(deltas < 60, 'the stream was not cut');
  const c = client();
  const final = await until(async () => {
    const x = await c.responses.retrieve(out.id);
    return ['queued', 'in_progress'].includes(x.status) ? null : x;
  }, 15000, `${out.id} to finish after the client left`);
  assert.equal(final.status, 'completed', `status after the abort: ${final.status}`);
  assert.equal(final.output_text, (await truth(out.id)).text);
});

test('ai generateText: the backend text', T, async () => {
  const r = await generateText({ model, prompt: 'hi', providerOptions: opts(knobs(15, 2)), maxRetries: 0 });
  assert.ok(r.response?.id, 'no response id');
  assert.equal(r.text, (await truth(r.response.id)).text);
  assert.equal(r.finishReason, 'stop');
});

for (const mode of ['failed', 'error_event']) {
  test(`ai backend failure (mock_fail=${mode}): an error part or a thrown error`, T, async () => {
    const r = streamText({
      model, prompt: 'fail', providerOptions: opts(knobs(5, 2, { mock_fail: mode })), includeRawChunks: true,
      maxRetries: 0, onError: () => {},
    });
    const out = await drain(r);
    let textErr = null;
    try { await r.text; } catch (e) { textErr = e; }
    assert.ok(out.errors.length > 0 || out.thrown || textErr,
      `streamText reported no error (finish ${out.finish}, text ${JSON.stringify(out.text)}): ${picture(out.raw)}`);
    let gerr = null;
    try {
      await generateText({ model, prompt: 'fail', providerOptions: opts(knobs(5, 2, { mock_fail: mode })), maxRetries: 0 });
    } catch (e) {
      gerr = e;
    }
    assert.ok(gerr instanceof Error, 'generateText did not throw on a failed run');
  });
}
