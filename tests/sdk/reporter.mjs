// A node:test reporter printing the lines tests/run.sh counts:
// "PASS <prefix><name>", "FAIL <prefix><name>: <why>", "SKIP <prefix><name>".
// The prefix comes from SDK_PREFIX (e.g. "sdk default: "). Only top-level
// tests are printed; a failing subtest shows in its parent's reason.
const prefix = process.env.SDK_PREFIX || '';

function why(err) {
  let e = err;
  // node:test wraps the test's error in ERR_TEST_FAILURE with .cause.
  while (e && e.code === 'ERR_TEST_FAILURE' && e.cause) e = e.cause;
  if (!e) return 'failed';
  const name = e.constructor?.name && e.constructor.name !== 'Error' ? `${e.constructor.name}: ` : '';
  const msg = String(e.message ?? e).replace(/\s+/g, ' ').slice(0, 1500);
  return `${name}${msg}`;
}

export default async function* reporter(source) {
  for await (const ev of source) {
    const d = ev.data;
    if (ev.type === 'test:pass' || ev.type === 'test:fail') {
      if (d.nesting !== 0) continue;
      if (d.details?.type === 'suite') continue;
      if (d.skip !== undefined && d.skip !== false) {
        yield `SKIP ${prefix}${d.name}${typeof d.skip === 'string' ? `: ${d.skip}` : ''}\n`;
      } else if (d.todo !== undefined && d.todo !== false) {
        yield `SKIP ${prefix}${d.name}: todo\n`;
      } else if (ev.type === 'test:pass') {
        yield `PASS ${prefix}${d.name} (${Math.round(d.details?.duration_ms ?? 0)} ms)\n`;
      } else {
        yield `FAIL ${prefix}${d.name}: ${why(d.details?.error)}\n`;
      }
    } else if (ev.type === 'test:diagnostic' && /^(fail|cancelled) [1-9]/.test(d.message)) {
      yield `# ${d.message}\n`;
    } else if (ev.type === 'test:stderr' || ev.type === 'test:stdout') {
      yield `# ${String(d.message).trimEnd().replace(/\n/g, '\n# ')}\n`;
    }
  }
}
