// kill -9 of agentd mid-stream, agentd started again on the same db,
// socket and port: the client resumes and gets exactly the events it
// lacked, and a replay from seq 0 is the same sequence as before the kill.
// Run alone (it kills the agentd the other files use).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRONT, SETUP, client, knobs, truth, checkStream, collect, picture,
  killAgentd, startAgentd, until, backendRuns,
} from './lib.mjs';

const T = { timeout: 60000, skip: !FRONT && 'needs agentd' };
const c = client();

// Read a stream until it has seen seq >= k, then kill -9 agentd; keep what
// arrived before the connection broke.
async function readThenKill(stream, k) {
  const events = [];
  let killed = false;
  try {
    for await (const ev of stream) {
      events.push(ev);
      if (!killed && ev.sequence_number >= k) {
        killed = true;
        await killAgentd();
      }
    }
  } catch {
    // the broken connection
  }
  assert.ok(killed, `the stream ended before seq ${k}: ${picture(events)}`);
  return events;
}

// Resume after a restart; the first tries may meet a front still starting.
async function resume(id, last) {
  return until(async () => collect(await c.responses.retrieve(id, { stream: true, starting_after: last })),
    10000, `a resumed stream of ${id}`);
}

for (const how of ['raw', 'helper']) {
  test(`kill -9 agentd mid-stream, restart, resume (${how}): exactly the events lacked`, T, async () => {
    const s = await c.responses.create({
      model: 'mock', input: `restart ${how}`, stream: true, background: true, metadata: knobs(60, 20),
    });
    // A JSON-only backend's text arrives whole at the end: kill while the
    // run is in progress (seq 1), before it.
    const first = await readThenKill(s, SETUP === 'reject-stream' ? 1 : 8);
    const id = first[0].response.id;
    const last = first.at(-1).sequence_number;
    await startAgentd();
    let rest;
    if (how === 'raw') {
      rest = await resume(id, last);
    } else {
      rest = await until(async () => {
        const h = c.responses.stream({ response_id: id, starting_after: last });
        const got = [];
        for await (const ev of h) got.push(ev);
        return got;
      }, 10000, `a helper stream of ${id}`);
    }
    assert.ok(rest.length > 0, 'the resumed stream sent nothing');
    assert.equal(rest[0].sequence_number, last + 1, `resumed after ${last}: ${picture(rest)}`);
    const all = [...first, ...rest];
    // A stream-only backend cannot be resumed: agentd may fail the run
    // cleanly rather than stream a different answer.
    const terminal = SETUP === 'reject-background'
      ? new Set(['response.completed', 'response.failed']) : 'response.completed';
    const { text, terminal: end } = checkStream(all, { terminal });
    if (end.type === 'response.completed') assert.equal(text, (await truth(id)).text);
    if (SETUP !== 'reject-background') {
      const b = await backendRuns(id);
      assert.equal(b.length, 1, `backend runs for ${id}: ${JSON.stringify(b.map((r) => [r.id, r.creates]))}`);
    }
    const replay = await collect(await c.responses.retrieve(id, { stream: true }));
    assert.deepEqual(replay, all, `replay after the restart ${picture(replay)} differs from ${picture(all)}`);
  });
}
