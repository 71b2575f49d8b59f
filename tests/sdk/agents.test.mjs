// @openai/agents: run() of an Agent on OpenAIResponsesModel (JSON and
// streamed), and a backend failure as the SDK's error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, run, setTracingDisabled, OpenAIResponsesModel } from '@openai/agents';
import { client, knobs, truth } from './lib.mjs';

setTracingDisabled(true);
const T = { timeout: 30000 };
const model = new OpenAIResponsesModel(client(), 'mock');
const agent = (meta) => new Agent({
  name: 'sdk-test', instructions: 'answer', model, modelSettings: { providerData: { metadata: meta } },
});

test('agents run(): finalOutput is the backend text', T, async () => {
  const result = await run(agent(knobs(15, 2)), 'hi');
  const id = result.rawResponses.at(-1)?.responseId;
  assert.ok(id, 'no response id in rawResponses');
  assert.equal(result.finalOutput, (await truth(id)).text);
});

test('agents run({stream:true}): finalOutput is the backend text', T, async () => {
  const result = await run(agent(knobs(15, 2)), 'hi', { stream: true });
  let n = 0;
  for await (const ev of result) { void ev; n++; }
  await result.completed;
  assert.ok(n > 0, 'no stream event');
  const id = result.rawResponses.at(-1)?.responseId;
  assert.ok(id, 'no response id in rawResponses');
  assert.equal(result.finalOutput, (await truth(id)).text);
});

for (const mode of ['failed', 'error_event']) {
  test(`agents backend failure (mock_fail=${mode}): run() rejects`, T, async () => {
    for (const stream of [false, true]) {
      let err = null;
      try {
        const result = await run(agent(knobs(5, 2, { mock_fail: mode })), 'hi', { stream });
        if (stream) {
          for await (const ev of result) void ev;
          await result.completed;
          if (result.error) throw result.error;
        }
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof Error, `run(stream ${stream}) did not reject`);
    }
  });
}
