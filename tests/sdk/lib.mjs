// Shared helpers of the SDK tests: the environment test_sdk.sh sets, the
// clients, the ground truth of agent-mock behind a run, the checks of a
// Responses event stream, and agentd's kill -9 and restart.
//
// Environment (set by tests/integration/test_sdk.sh):
//   SDK_BASE_URL   the Responses base URL, http://127.0.0.1:PORT/v1
//   SDK_TOKEN      the bearer token
//   SDK_TARGET     front (agentd's front) or mock (agent-mock directly)
//   SDK_SETUP      default | reject-background | reject-stream | databricks
//   MOCK_URL       agent-mock's base URL (its /mock/* ground truth)
//   BIN, AGENTD_SOCK, AGENTD_DB, AGENTD_PIDFILE, AGENTD_ARGV (JSON array),
//   AGENTD_LOG     to kill -9 agentd and start it again the same way
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import assert from 'node:assert/strict';
import OpenAI7 from 'openai';
import OpenAI6 from 'openai6';

export const env = process.env;
export const BASE = env.SDK_BASE_URL;
export const TOKEN = env.SDK_TOKEN || 'none';
export const FRONT = env.SDK_TARGET !== 'mock';
export const SETUP = env.SDK_SETUP || 'default';
export const MOCK = env.MOCK_URL;
export const DBX = SETUP === 'databricks';
export const OpenAI = OpenAI7;
export const SDKS = [['openai7', OpenAI7], ['openai6', OpenAI6]];

if (!BASE) throw new Error('SDK_BASE_URL is not set (run tests/integration/test_sdk.sh)');

export function client(Cls = OpenAI7, opts = {}) {
  return new Cls({ baseURL: BASE, apiKey: TOKEN, maxRetries: 0, timeout: 20000, ...opts });
}

// The metadata knobs of agent-mock for one run.
export function knobs(events = 20, intervalMs = 5, extra = {}) {
  return { mock_events: String(events), mock_interval_ms: String(intervalMs), ...extra };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn until it returns a truthy value; at most `ms` milliseconds.
export async function until(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

export async function getJSON(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(10000) });
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

export function ctl(...args) {
  return execFileSync(`${env.BIN}/agentctl`, ['-s', env.AGENTD_SOCK, ...args],
    { encoding: 'utf8', timeout: 10000 });
}

// The backend's id of a response: through the front, agentd's run
// r_<hex> for resp_<hex> and its backend_id; straight at the mock, itself.
export async function backendId(id) {
  if (!FRONT) return id;
  const m = /^resp_([0-9a-f]{16})$/.exec(id);
  assert.ok(m, `response id ${id} is not resp_<16 hex>`);
  return until(() => JSON.parse(ctl('--json', 'show', `r_${m[1]}`)).backend_id,
    10000, `a backend id for ${id}`);
}

// agent-mock's ground truth of the backend run behind a response:
// {text, events, status, creates, ...} (/mock/runs/{id}).
export async function truth(id) {
  const bid = await backendId(id);
  const run = await getJSON(`${MOCK}/mock/runs/${bid}`);
  return { ...run, backend_id: bid };
}

export const mockStats = () => getJSON(`${MOCK}/mock/stats`);

// The backend runs behind a response: through the front, agent-mock's runs
// whose Idempotency-Key is agentd's run id (a create agentd repeats after a
// crash with the same key is the same run, its "creates" counting both);
// straight at the mock, the run itself.
export async function backendRuns(id) {
  const runs = (await getJSON(`${MOCK}/mock/runs`)).runs;
  if (!FRONT) return runs.filter((r) => r.id === id);
  const key = id.replace(/^resp_/, 'r_');
  return runs.filter((r) => r.idempotency_key === key);
}

// Runs agentd knows (agentctl list --all --json), or the mock's runs.
export async function runCount() {
  if (FRONT) return JSON.parse(ctl('--json', 'list', '--all')).runs.length;
  return (await getJSON(`${MOCK}/mock/runs`)).runs.length;
}

// --- the event stream -----------------------------------------------------

const LIFECYCLE = new Set(['response.created', 'response.queued', 'response.in_progress']);
export const TERMINAL = new Set(['response.completed', 'response.failed',
  'response.incomplete', 'response.cancelled']);
// Every type the SDKs know (openai-node's ResponseStreamEvent union, the part
// of it a text run can produce, plus error).
const KNOWN = new Set([...LIFECYCLE, ...TERMINAL, 'error',
  'response.output_item.added', 'response.output_item.done',
  'response.content_part.added', 'response.content_part.done',
  'response.output_text.delta', 'response.output_text.done',
  'response.output_text.annotation.added',
  'response.refusal.delta', 'response.refusal.done',
  'response.function_call_arguments.delta', 'response.function_call_arguments.done',
  'response.reasoning_summary_part.added', 'response.reasoning_summary_part.done',
  'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.done',
  'response.reasoning_text.delta', 'response.reasoning_text.done']);

export function brief(ev) {
  const s = ev.sequence_number;
  let x = '';
  if (ev.type === 'response.output_text.delta') x = ` ${JSON.stringify(ev.delta)}`;
  else if (ev.response) x = ` status=${ev.response.status}`;
  else if (ev.type === 'error') x = ` ${JSON.stringify(ev.code ?? ev.error?.code)}`;
  return `${s}:${ev.type.replace(/^response\./, '')}${x}`;
}

// A compact picture of a sequence for failure messages: the first and last
// few events.
export function picture(events, n = 8) {
  const b = events.map(brief);
  if (b.length <= 2 * n) return `[${b.join(', ')}]`;
  return `[${b.slice(0, n).join(', ')}, ... ${b.length - 2 * n} more ..., ${b.slice(-n).join(', ')}]`;
}

// Check a whole stream (seq 0 to the terminal event) and return
// {text, terminal, id}. opts.terminal: the terminal type wanted, or a set.
export function checkStream(events, opts = {}) {
  const ctx = () => picture(events);
  assert.ok(events.length > 0, 'no event at all');
  events.forEach((ev, i) => assert.equal(ev.sequence_number, i,
    `sequence_number ${ev.sequence_number} at position ${i}: ${ctx()}`));
  assert.equal(events[0].type, 'response.created', `first event: ${ctx()}`);
  const id = events[0].response?.id;
  assert.ok(id, 'response.created without response.id');
  if (FRONT) assert.match(id, /^resp_[0-9a-f]{16}$/);
  const open = new Map(); // item id -> {parts open}
  let text = '';
  let terminal = null;
  events.forEach((ev, i) => {
    assert.ok(KNOWN.has(ev.type), `unknown event type ${ev.type} at seq ${i}: ${ctx()}`);
    if (ev.type !== 'error') assert.equal(ev.error, undefined, `top-level error on ${brief(ev)}`);
    if (terminal) assert.fail(`event after the terminal one: ${brief(ev)}: ${ctx()}`);
    if (ev.response && FRONT) assert.equal(ev.response.id, id, `response id changed at ${brief(ev)}`);
    switch (ev.type) {
      case 'response.output_item.added':
        assert.ok(!open.has(ev.item.id), `item ${ev.item.id} added twice`);
        open.set(ev.item.id, { parts: 0, index: ev.output_index });
        break;
      case 'response.content_part.added':
        assert.ok(open.has(ev.item_id), `part of an item not open: ${brief(ev)}: ${ctx()}`);
        open.get(ev.item_id).parts++;
        break;
      case 'response.output_text.delta':
        assert.ok(open.has(ev.item_id) && open.get(ev.item_id).parts > 0,
          `delta outside an open part: ${brief(ev)}: ${ctx()}`);
        text += ev.delta;
        break;
      case 'response.content_part.done':
        assert.ok(open.has(ev.item_id) && open.get(ev.item_id).parts > 0, `part done not open: ${brief(ev)}`);
        open.get(ev.item_id).parts--;
        break;
      case 'response.output_item.done':
        assert.ok(open.has(ev.item.id), `item done never added: ${brief(ev)}: ${ctx()}`);
        assert.equal(open.get(ev.item.id).parts, 0, `item ${ev.item.id} done with a part open`);
        open.delete(ev.item.id);
        break;
      default:
        if (TERMINAL.has(ev.type)) terminal = ev;
    }
  });
  assert.ok(terminal, `no terminal event: ${ctx()}`);
  assert.equal(open.size, 0, `items never closed: ${[...open.keys()]}: ${ctx()}`);
  if (opts.terminal) {
    const want = opts.terminal instanceof Set ? opts.terminal : new Set([opts.terminal]);
    assert.ok(want.has(terminal.type), `terminal ${terminal.type}, wanted ${[...want]}: ${ctx()}`);
  }
  const r = terminal.response;
  assert.ok(Array.isArray(r.output), `terminal response without an output array: ${JSON.stringify(r).slice(0, 300)}`);
  if (terminal.type === 'response.completed') {
    assert.equal(outputText(r), text, 'terminal output text differs from the deltas');
    assert.ok(r.usage && typeof r.usage.input_tokens === 'number' && typeof r.usage.output_tokens === 'number',
      `terminal usage: ${JSON.stringify(r.usage)}`);
  }
  return { text, terminal, id };
}

export function outputText(r) {
  let t = '';
  for (const item of r.output || [])
    if (item.type === 'message')
      for (const c of item.content || []) if (c.type === 'output_text') t += c.text;
  return t;
}

// Read an SDK stream into an array; stop after `stopAfter(ev)` is true
// (then break, which aborts the HTTP request). Bounded by `ms`.
export async function collect(stream, { stopAfter = null, ms = 20000 } = {}) {
  const events = [];
  const timer = setTimeout(() => stream.controller?.abort(), ms);
  try {
    for await (const ev of stream) {
      events.push(ev);
      if (stopAfter && stopAfter(ev, events)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

// --- agentd kill -9 and restart ------------------------------------------

export function agentdPid() {
  return Number(fs.readFileSync(env.AGENTD_PIDFILE, 'utf8').trim());
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

export const frontPort = () => Number(new URL(BASE).port);

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

// kill -9 the supervisor; wait until it and its port are gone.
export async function killAgentd() {
  const pid = agentdPid();
  process.kill(pid, 'SIGKILL');
  await until(async () => !alive(pid) && !(await portOpen(frontPort())), 10000, 'agentd to die');
  // Its workers exit when the supervisor's socket closes.
  await until(() => {
    try { execFileSync('pgrep', ['-f', `agentd --db ${env.AGENTD_DB}`]); return false; } catch { return true; }
  }, 10000, "agentd's workers to exit");
}

// Start agentd again exactly as test_sdk.sh did; wait for the front.
export async function startAgentd() {
  const argv = JSON.parse(env.AGENTD_ARGV);
  const log = fs.openSync(env.AGENTD_LOG, 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log], env: process.env });
  child.unref();
  fs.closeSync(log);
  fs.writeFileSync(env.AGENTD_PIDFILE, `${child.pid}\n`);
  await until(() => portOpen(frontPort()), 10000, 'agentd to listen again');
}
