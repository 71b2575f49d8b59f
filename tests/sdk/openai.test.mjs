// The official openai package (7.x and 6.x): streams, resume, poll, cancel
// and failure, each checked against agent-mock's ground truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SDKS, FRONT, DBX, SETUP, client, knobs, truth, mockStats, checkStream, collect,
  picture, until, sleep, TERMINAL, backendRuns,
} from './lib.mjs';

const T = { timeout: 30000 };

for (const [name, OpenAI] of SDKS) {
  const c = client(OpenAI);

  test(`${name} raw stream: the backend's text, a well-formed sequence`, T, async () => {
    const s = await c.responses.create({
      model: 'mock', input: 'raw', stream: true, background: true, metadata: knobs(25, 2),
    });
    const events = await collect(s);
    const { text, id } = checkStream(events, { terminal: 'response.completed' });
    const t = await truth(id);
    assert.equal(text, t.text, 'streamed text differs from the backend run');
    assert.equal(t.creates, 1, 'the backend run was created more than once');
  });

  test(`${name} stream helper: finalResponse().output_text is the backend's text`, T, async () => {
    const s = c.responses.stream({ model: 'mock', input: 'helper', metadata: knobs(25, 2) });
    const events = [];
    for await (const ev of s) events.push(ev);
    const final = await s.finalResponse();
    const { text, id } = checkStream(events, { terminal: 'response.completed' });
    assert.equal(final.id, id);
    assert.equal(final.status, 'completed');
    const t = await truth(id);
    assert.equal(final.output_text, t.text);
    assert.equal(text, t.text);
    assert.ok(final.usage && final.usage.output_tokens >= 0, `usage ${JSON.stringify(final.usage)}`);
  });

  test(`${name} resume raw: retrieve(id, {stream, starting_after:k}) gives exactly seq > k`, T, async () => {
    const k = 6;
    const s = await c.responses.create({
      model: 'mock', input: 'resume', stream: true, background: true, metadata: knobs(40, 15),
    });
    const first = await collect(s, { stopAfter: (ev) => ev.sequence_number >= k });
    assert.equal(first.at(-1)?.sequence_number, k, `first part: ${picture(first)}`);
    const id = first[0].response.id;
    const rest = await collect(await c.responses.retrieve(id, { stream: true, starting_after: k }));
    assert.ok(rest.length > 0, 'the resumed stream sent nothing');
    assert.equal(rest[0].sequence_number, k + 1, `resumed stream starts at ${picture(rest)}`);
    const all = [...first, ...rest];
    const { text } = checkStream(all, { terminal: 'response.completed' });
    assert.equal(text, (await truth(id)).text);
    // A replay from seq 0 is the same sequence, event for event.
    const replay = await collect(await c.responses.retrieve(id, { stream: true }));
    assert.deepEqual(replay, all, `replay ${picture(replay)} differs from ${picture(all)}`);
  });

  test(`${name} resume helper: responses.stream({response_id, starting_after:k})`, T, async () => {
    const k = 7;
    const s = await c.responses.create({
      model: 'mock', input: 'resume helper', stream: true, background: true, metadata: knobs(40, 15),
    });
    const first = await collect(s, { stopAfter: (ev) => ev.sequence_number >= k });
    const id = first[0].response.id;
    const h = c.responses.stream({ response_id: id, starting_after: k });
    const rest = [];
    for await (const ev of h) rest.push(ev);
    const final = await h.finalResponse();
    assert.ok(rest.length > 0, 'the helper yielded nothing');
    assert.equal(rest[0].sequence_number, k + 1, `helper's first event: ${picture(rest)}`);
    checkStream([...first, ...rest], { terminal: 'response.completed' });
    assert.equal(final.output_text, (await truth(id)).text);
  });

  test(`${name} background + poll: retrieve until terminal`, T, async () => {
    const r = await c.responses.create({
      model: 'mock', input: 'poll', background: true, metadata: knobs(20, 10),
    });
    assert.match(r.id, FRONT ? /^resp_[0-9a-f]{16}$/ : /^resp_/);
    assert.ok(['queued', 'in_progress'].includes(r.status), `create answered status ${r.status}`);
    assert.ok(Array.isArray(r.output), 'create answer has no output array');
    const final = await until(async () => {
      const x = await c.responses.retrieve(r.id);
      return ['queued', 'in_progress'].includes(x.status) ? null : x;
    }, 15000, `${r.id} to finish`);
    assert.equal(final.status, 'completed', JSON.stringify(final).slice(0, 400));
    assert.equal(final.output_text, (await truth(r.id)).text);
    assert.ok(final.usage && typeof final.usage.output_tokens === 'number', `usage ${JSON.stringify(final.usage)}`);
  });

  test(`${name} cancel mid-stream: items closed, one terminal, backend told`, T, async () => {
    const before = (await mockStats()).cancels;
    const s = await c.responses.create({
      model: 'mock', input: 'cancel', stream: true, background: true, metadata: knobs(300, 20),
    });
    const events = [];
    let id = null, cancelled = null, deltas = 0;
    const timer = setTimeout(() => s.controller.abort(), 20000);
    try {
      for await (const ev of s) {
        events.push(ev);
        id ??= ev.response?.id;
        // A JSON-only backend gives one delta with the whole text: cancel
        // as soon as the run is in progress there.
        const now = SETUP === 'reject-stream' ? ev.type === 'response.in_progress'
          : ev.type === 'response.output_text.delta' && ++deltas === 3;
        if (now && !cancelled)
          cancelled = c.responses.cancel(id).then((r) => ({ r }), (e) => ({ e }));
      }
    } finally {
      clearTimeout(timer);
    }
    assert.ok(cancelled, `the stream ended before the cancel point: ${picture(events)}`);
    const { r: answer, e: cerr } = await cancelled;
    assert.ok(!cerr, `cancel failed: ${cerr}`);
    assert.equal(answer.id, id);
    // Straight at the mock, a cancel ends the stream with response.cancelled
    // and leaves the item open: only agentd's front closes it.
    if (FRONT) {
      const { terminal } = checkStream(events, { terminal: new Set(['response.incomplete', 'response.cancelled']) });
      assert.equal(terminal.response.status, 'cancelled', `terminal ${picture(events)}`);
    } else {
      assert.ok(TERMINAL.has(events.at(-1).type), picture(events));
    }
    assert.ok(deltas < 300, 'the run streamed to its end');
    const r = await until(async () => {
      const x = await c.responses.retrieve(id);
      return x.status === 'cancelled' ? x : null;
    }, 5000, `${id} to read cancelled`);
    assert.ok(Array.isArray(r.output));
    // Idempotent: a second cancel answers the same final response.
    const again = await c.responses.cancel(id);
    assert.equal(again.status, 'cancelled');
    if (!DBX) {
      // Every backend run behind it was told (a cancel that came before
      // agentd's create may rightly leave none): a background run reads
      // cancelled; a plain stream (a stream-only backend, which answers a
      // cancel 404) has its connection closed, no client left on it.
      const told = (x) => x.status === 'cancelled' || (!x.background && x.clients === 0);
      const show = (b) => JSON.stringify(b.map((x) => ({ id: x.id, status: x.status, background: x.background, clients: x.clients })));
      try {
        // agentd may tell the backend after it answered the client.
        await until(async () => {
          const b = await backendRuns(id);
          return b.every(told) && (!b.some((x) => x.background) || (await mockStats()).cancels > before);
        }, 5000, 'told');
      } catch {
        assert.fail(`the backend runs of ${id} were not told within 5 s: ${show(await backendRuns(id))}, ` +
          `backend cancels ${(await mockStats()).cancels - before}`);
      }
    }
  });

  for (const mode of ['failed', 'error_event']) {
    test(`${name} backend failure (mock_fail=${mode}): APIError from the stream, status failed`, T, async () => {
      const s = await c.responses.create({
        model: 'mock', input: 'fail', stream: true, background: true,
        metadata: knobs(5, 2, { mock_fail: mode }),
      });
      const events = [];
      let err = null;
      try {
        for await (const ev of s) events.push(ev);
      } catch (e) {
        err = e;
      }
      const id = events[0]?.response?.id;
      assert.ok(id, `no response.created: ${picture(events)}`);
      if (FRONT) {
        assert.ok(err instanceof OpenAI.APIError, `no APIError from the stream (got ${err}): ${picture(events)}`);
        assert.ok(err.message, 'APIError without a message');
      } else if (mode === 'error_event') {
        // The mock's error event is flat: openai 7 throws on it, 6 yields it.
        assert.ok(err instanceof OpenAI.APIError || events.at(-1).type === 'error', picture(events));
      } else {
        assert.equal(events.at(-1).type, 'response.failed', picture(events));
      }
      if (FRONT || mode === 'failed') {
        const r = await until(async () => {
          const x = await c.responses.retrieve(id);
          return ['queued', 'in_progress'].includes(x.status) ? null : x;
        }, 10000, `${id} to finish`);
        assert.equal(r.status, 'failed');
        assert.ok(r.error && r.error.message, `retrieve's error: ${JSON.stringify(r.error)}`);
      }
      // The helper stream rejects with the SDK's own error type.
      if (FRONT) {
        const h = c.responses.stream({ model: 'mock', input: 'fail helper', metadata: knobs(5, 2, { mock_fail: mode }) });
        let herr = null;
        try {
          for await (const ev of h) void ev;
          await h.finalResponse();
        } catch (e) {
          herr = e;
        }
        assert.ok(herr instanceof OpenAI.APIError, `helper: ${herr?.constructor?.name} ${herr?.message ?? JSON.stringify(herr)}`);
      }
    });
  }
}

test('openai7 non-stream, non-background create waits for the final response', T, async () => {
  const c = client();
  const r = await c.responses.create({ model: 'mock', input: 'sync', metadata: knobs(10, 2) });
  assert.equal(r.status, 'completed', JSON.stringify(r).slice(0, 300));
  assert.equal(r.output_text, (await truth(r.id)).text);
  await sleep(0);
});

test('databricks failover: the backend\'s response.resumed is absorbed, the stream stays well-formed', {
  ...T, skip: !DBX && 'databricks setup only',
}, async () => {
  const c = client();
  const s = await c.responses.create({
    model: 'mock', input: 'failover', stream: true, background: true,
    metadata: knobs(20, 5, { mock_failover_after: '8' }),
  });
  const events = await collect(s);
  const { text, id } = checkStream(events, { terminal: 'response.completed' });
  assert.ok(!events.some((e) => e.type === 'response.resumed'), picture(events));
  assert.equal(text, (await truth(id)).text);
  // The helper, which throws on unknown types, reads the replay.
  const h = c.responses.stream({ response_id: id });
  for await (const ev of h) void ev;
  assert.equal((await h.finalResponse()).output_text, text);
});
