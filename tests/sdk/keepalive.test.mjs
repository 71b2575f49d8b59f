// A silent backend: the front keeps the SSE connection alive with comment
// lines (": ..."), within 15 s, and they carry no sequence number. Runs
// beside the other files (it waits about 16 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, TOKEN, FRONT, client, knobs } from './lib.mjs';

test('silence: SSE comment keep-alives within 16 s, no typed keepalive event', {
  timeout: 30000, skip: !FRONT && 'agent-mock sends no keep-alives',
}, async () => {
  const c = client();
  const r = await c.responses.create({
    model: 'mock', input: 'stall', background: true, metadata: knobs(10, 5, { mock_stall_after: '2' }),
  });
  const res = await fetch(`${BASE}/responses/${r.id}?stream=true`, {
    headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(17000),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/event-stream/);
  const dec = new TextDecoder();
  let buf = '', comment = null;
  const t0 = Date.now();
  try {
    for await (const chunk of res.body) {
      buf += dec.decode(chunk, { stream: true });
      const m = /(^|\n):[^\n]*\n/.exec(buf);
      if (m) { comment = Date.now() - t0; break; }
    }
  } catch (e) {
    if (e.name !== 'TimeoutError' && e.name !== 'AbortError') throw e;
  }
  await c.responses.cancel(r.id).catch(() => {});
  assert.ok(comment !== null, `no comment line in ${Math.round((Date.now() - t0) / 1000)} s; got ${JSON.stringify(buf.slice(-300))}`);
  assert.ok(!/"type":"keepalive"/.test(buf), 'a typed keepalive event was sent');
});
