// @openai/agents: run() of an Agent on OpenAIResponsesModel (JSON and
// streamed), and a backend failure as the SDK's error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, run, setTracingDisabled, OpenAIResponsesModel } from '@openai/agents';
import { FRONT, client, knobs, truth, outputText } from './lib.mjs';

// The Agents SDK's finalOutput is the last message item's text; a
// Databricks backend's tool steps give one message each. All the messages
// together are the backend's text.
async function assertFinal(result) {
  const id = result.rawResponses.at(-1)?.responseId;
  assert.ok(id, 'no response id in rawResponses');
  // agent-mock alone keeps no run that was not created in background.
  if (!FRONT) return assert.equal(result.finalOutput, (await truth(id)).text);
  const r = await client().responses.retrieve(id);
  const messages = r.output.filter((i) => i.type === 'message');
  assert.ok(messages.length > 0, 'no message in the response');
  assert.equal(result.finalOutput, outputText({ output: [messages.at(-1)] }));
  assert.equal(outputText(r), (await truth(id)).text);
}

setTracingDisabled(true);
const T = { timeout: 30000 };
const model = new OpenAIResponsesModel(client(), 'mock');
const agent = (meta) => new Agent({
  name: 'sdk-test', instructions: 'answer', model, modelSettings: { providerData: { metadata: meta } },
});

test('agents run(): finalOutput is the last message, all messages the backend text', T, async () => {
  const result = await run(agent(knobs(15, 2)), 'hi');
  await assertFinal(result);
});

test('agents run({stream:true}): finalOutput is the last message, all messages the backend text', T, async () => {
  const result = await run(agent(knobs(15, 2)), 'hi', { stream: true });
  let n = 0;
  for await (const ev of result) { void ev; n++; }
  await result.completed;
  assert.ok(n > 0, 'no stream event');
  await assertFinal(result);
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
