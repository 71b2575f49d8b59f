// One pass of the front benchmark: RUNS responses with stream:true (and
// background:true) created at once with the official openai 7.x package,
// every event read from the raw stream. Used by tests/bench/front.sh, once
// straight against agent-mock and once through agentd's front.
//
//   node tests/bench/front-bench.mjs --base-url URL [--token T] [--runs 200]
//        [--events 2000] [--interval-ms 0] [--rss-pid PID]
//
// --rss-pid: sum the RSS of PID and its child processes (agentd's
// supervisor and workers) before the creates and every 20 ms while streams
// are open: rss_during_kb is the peak of the pass, rss_all_open_kb the peak
// while every stream is open and past its first event (0 if that never
// held). Prints one JSON line:
// {"runs","events","seconds","events_per_s","ttfe_p50_ms","ttfe_p99_ms",
//  "rss_before_kb","rss_during_kb","rss_all_open_kb","open_peak","errors"}.
// The openai package comes from tests/sdk/node_modules (npm ci there).
import { createRequire } from 'node:module';
import fs from 'node:fs';

const require = createRequire(new URL('../sdk/package.json', import.meta.url));
const { OpenAI } = require('openai');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const baseURL = arg('base-url');
const token = arg('token', process.env.SDK_TOKEN || 'none');
const runs = Number(arg('runs', '200'));
const events = Number(arg('events', '2000'));
const intervalMs = Number(arg('interval-ms', '0'));
const rssPid = arg('rss-pid', null);
const deadlineMs = Number(arg('deadline-ms', '60000'));
if (!baseURL) { console.error('usage: front-bench.mjs --base-url URL ...'); process.exit(2); }

// RSS in kB of pid and its descendants, from /proc.
function treeRss(root) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  let kb = 0;
  const todo = [Number(root)];
  while (todo.length) {
    const p = todo.pop();
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* gone */ }
    todo.push(...(kids.get(p) || []));
  }
  return kb;
}

const client = new OpenAI({ baseURL, apiKey: token, maxRetries: 2, timeout: deadlineMs });
let total = 0, open = 0, openPeak = 0, errors = 0, rssDuring = 0;
const ttfe = [];
const rssBefore = rssPid ? treeRss(rssPid) : 0;
let rssAllOpen = 0;
const sampler = rssPid ? setInterval(() => {
  if (open === 0) return;
  const kb = treeRss(rssPid);
  rssDuring = Math.max(rssDuring, kb);
  // Every stream open and past its first event.
  if (open === runs && ttfe.length === runs) rssAllOpen = Math.max(rssAllOpen, kb);
}, 20) : null;
const ac = new AbortController();
const killer = setTimeout(() => ac.abort(), deadlineMs);

async function one(i) {
  const t0 = performance.now();
  let first = true, counted = false;
  try {
    const s = await client.responses.create({
      model: 'mock', input: `bench ${i}`, background: true, stream: true,
      metadata: { mock_events: String(events), mock_interval_ms: String(intervalMs) },
    }, { signal: ac.signal });
    open++; counted = true;
    openPeak = Math.max(openPeak, open);
    for await (const ev of s) {
      if (first) { ttfe.push(performance.now() - t0); first = false; }
      total++;
      if (ev.type === 'response.completed' || ev.type === 'response.failed' ||
          ev.type === 'response.incomplete') break;
    }
  } catch (e) {
    errors++;
    if (errors <= 3) console.error(`run ${i}: ${e.message}`);
  } finally {
    if (counted) open--;
  }
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: runs }, (_, i) => one(i)));
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearTimeout(killer);
if (sampler) clearInterval(sampler);
ttfe.sort((a, b) => a - b);
const pct = (p) => (ttfe.length ? ttfe[Math.min(ttfe.length - 1, Math.ceil(p * ttfe.length) - 1)] : null);
console.log(JSON.stringify({
  runs, events: total, seconds: +seconds.toFixed(3), events_per_s: Math.round(total / seconds),
  ttfe_p50_ms: +pct(0.5)?.toFixed(1), ttfe_p99_ms: +pct(0.99)?.toFixed(1),
  rss_before_kb: rssBefore, rss_during_kb: rssDuring, rss_all_open_kb: rssAllOpen,
  open_peak: openPeak, errors,
  client_cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(3),
}));
