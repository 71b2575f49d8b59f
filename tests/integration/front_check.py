#!/usr/bin/env python3
"""Check an SSE body from agentd's front against FRONT.md part C.

usage:
  front_check.py check FILE [--after N] [--text T] [--status S]
                 [--terminal TYPE] [--open]
      FILE is the body of a POST stream:true or a GET ?stream=true.
      Rules: every frame is a comment (": ...") or an "event: T" line and
      a "data: {json}" line with the same type; sequence_number is
      contiguous from 0 (or from N+1 with --after N); from 0 the first
      event is response.created; only spec types; no top-level "error"
      except in the error event; every output_item.added is closed by
      its output_item.done (and content parts by theirs) before exactly
      one terminal event, which is the last and carries the full output
      (the items that were added, same ids) and usage; item_id and
      output_index agree with the added item; response.id is the same
      everywhere. --text: the terminal output's text (and, from 0, the
      deltas) equal T. --status: the terminal response.status is S.
      --terminal: the terminal event's type. --open: no terminal is
      expected (a cut stream); items may stay open.
      Prints "ok: N events, seq A..B, <terminal>" or the first problem.
  front_check.py lines FILE [--after N]
      The event and data lines of FILE (comments dropped), of the events
      with sequence_number > N: what a replay must reproduce byte for byte.
  front_check.py field FILE PATH
      A member of the JSON document in FILE by dotted path (a.b.0.c);
      strings raw, everything else as JSON; "MISSING" if absent.
Exit 0 when fine, 1 on a problem, 2 on usage.
"""
import json
import sys

LIFECYCLE = {"response.created", "response.in_progress", "response.queued"}
TERMINAL = {"response.completed", "response.failed", "response.incomplete"}
ITEM = {
    "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done",
    "response.output_text.delta", "response.output_text.done",
    "response.output_text.annotation.added",
    "response.refusal.delta", "response.refusal.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_text.delta", "response.reasoning_text.done",
}
KNOWN = LIFECYCLE | TERMINAL | ITEM | {"error"}


class Bad(Exception):
    pass


def frames(path):
    """Yield (event_line, data_line, obj) for each event frame of path."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Bad(f"body is not UTF-8: {e}")
    if text.strip() == "":
        return
    if not text.endswith("\n\n"):
        raise Bad("body does not end with a blank line (a cut frame?)")
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        ev = data = None
        for ln in lines:
            if ln.startswith(":"):
                continue
            if ln.startswith("event: "):
                if ev is not None:
                    raise Bad(f"two event lines in one frame: {block[:120]!r}")
                ev = ln
            elif ln.startswith("data: "):
                if data is not None:
                    raise Bad(f"two data lines in one frame: {block[:120]!r}")
                data = ln
            else:
                raise Bad(f"unexpected line {ln[:120]!r}")
        if ev is None and data is None:
            continue        # comments only
        if data is None:
            raise Bad(f"event without data: {ev!r}")
        try:
            obj = json.loads(data[6:])
        except ValueError as e:
            raise Bad(f"data is not JSON ({e}): {data[:120]!r}")
        if not isinstance(obj, dict):
            raise Bad(f"data is not an object: {data[:120]!r}")
        if ev is not None and ev[7:] != obj.get("type"):
            raise Bad(f"event line {ev!r} but type {obj.get('type')!r}")
        yield ev, data, obj


def item_text(item):
    out = ""
    for part in item.get("content") or []:
        if isinstance(part, dict) and part.get("type") == "output_text":
            out += part.get("text", "")
    return out


def check(path, after, want_text, want_status, want_terminal, is_open):
    seq = after
    n = 0
    first = None
    rid = None
    items = {}          # output_index -> {"id", "open", "parts": {ci: open}}
    added_ids = []
    deltas = {}         # item id -> text
    terminal = None
    for _, _, o in frames(path):
        t = o.get("type")
        if terminal is not None:
            raise Bad(f"{t} after the terminal {terminal['type']}")
        if t not in KNOWN:
            raise Bad(f"unknown event type {t!r}")
        s = o.get("sequence_number")
        if not isinstance(s, int) or isinstance(s, bool):
            raise Bad(f"{t} without an integer sequence_number")
        if s != seq + 1:
            raise Bad(f"sequence_number {s} after {seq}")
        seq = s
        n += 1
        if first is None:
            first = t
            if after < 0 and t != "response.created":
                raise Bad(f"first event is {t}, not response.created")
        elif t == "response.created":
            raise Bad(f"response.created again at seq {s}")
        if "error" in o and t != "error":
            raise Bad(f"{t} at seq {s} has a top-level error")
        if t in LIFECYCLE or t in TERMINAL:
            r = o.get("response")
            if not isinstance(r, dict):
                raise Bad(f"{t} at seq {s} without a response object")
            if rid is None:
                rid = r.get("id")
                if not isinstance(rid, str) or not rid.startswith("resp_"):
                    raise Bad(f"response.id {rid!r} is not resp_...")
            elif r.get("id") != rid:
                raise Bad(f"response.id {r.get('id')!r} != {rid!r}")
        if t == "response.output_item.added":
            i, it = o.get("output_index"), o.get("item")
            if not isinstance(it, dict) or not isinstance(it.get("id"), str):
                raise Bad(f"output_item.added at seq {s} without item.id")
            if i in items and items[i]["open"]:
                raise Bad(f"output_index {i} added twice")
            items[i] = {"id": it["id"], "open": True, "parts": {}}
            added_ids.append(it["id"])
            deltas.setdefault(it["id"], "")
        elif t in ITEM:
            i = o.get("output_index")
            if not isinstance(i, int):
                raise Bad(f"{t} at seq {s} without output_index")
            cur = items.get(i)
            if t == "response.output_item.done":
                it = o.get("item")
                if not isinstance(it, dict):
                    raise Bad(f"output_item.done at seq {s} without item")
                if cur is None:
                    if after < 0:
                        raise Bad(f"output_item.done of index {i} never added")
                    continue
                if it.get("id") != cur["id"]:
                    raise Bad(f"output_item.done id {it.get('id')!r} != "
                              f"added {cur['id']!r}")
                if not cur["open"]:
                    raise Bad(f"output_index {i} closed twice")
                if any(cur["parts"].values()):
                    raise Bad(f"output_index {i} closed with a part open")
                cur["open"] = False
                continue
            iid = o.get("item_id")
            if cur is None:
                if after < 0:
                    raise Bad(f"{t} at seq {s} for index {i} never added")
                continue
            if iid != cur["id"]:
                raise Bad(f"{t} at seq {s}: item_id {iid!r} != {cur['id']!r}")
            if not cur["open"]:
                raise Bad(f"{t} at seq {s} on a closed item")
            ci = o.get("content_index")
            if t == "response.content_part.added":
                cur["parts"][ci] = True
            elif t == "response.content_part.done":
                if not cur["parts"].get(ci) and after < 0:
                    raise Bad(f"content_part.done of a part never added")
                cur["parts"][ci] = False
            elif t == "response.output_text.delta":
                deltas[iid] = deltas.get(iid, "") + o.get("delta", "")
            elif t == "response.output_text.done" and after < 0:
                if o.get("text") != deltas.get(iid):
                    raise Bad(f"output_text.done text != its deltas "
                              f"({o.get('text')!r:.60} vs "
                              f"{deltas.get(iid)!r:.60})")
        if t in TERMINAL:
            terminal = o
    if terminal is None:
        if is_open:
            return f"ok: {n} events, seq {after + 1}..{seq}, no terminal"
        raise Bad(f"no terminal event ({n} events, last seq {seq})")
    if is_open:
        raise Bad("a terminal event on a stream expected to be cut")
    for i, cur in items.items():
        if cur["open"]:
            raise Bad(f"item {cur['id']} still open at the terminal event")
    r = terminal["response"]
    out = r.get("output")
    if not isinstance(out, list):
        raise Bad("the terminal response has no output array")
    ids = [it.get("id") for it in out if isinstance(it, dict)]
    if after < 0 and ids != added_ids:
        raise Bad(f"terminal output ids {ids} != added {added_ids}")
    u = r.get("usage")
    if not isinstance(u, dict) or not all(
            isinstance(u.get(k), int)
            for k in ("input_tokens", "output_tokens", "total_tokens")):
        raise Bad(f"the terminal response has no usage: {u!r}")
    if want_status is not None and r.get("status") != want_status:
        raise Bad(f"terminal status {r.get('status')!r} != {want_status!r}")
    if want_terminal is not None and terminal["type"] != want_terminal:
        raise Bad(f"terminal {terminal['type']} != {want_terminal}")
    if want_text is not None:
        got = "".join(item_text(it) for it in out if isinstance(it, dict))
        if got != want_text:
            raise Bad(f"terminal text {got!r:.80} != {want_text!r:.80}")
        if after < 0 and "".join(deltas.values()) != want_text:
            raise Bad("the deltas do not add up to the text")
    return (f"ok: {n} events, seq {after + 1}..{seq}, {terminal['type']} "
            f"{r.get('status')}")


def lines(path, after):
    out = []
    for ev, data, o in frames(path):
        if o.get("sequence_number", -1) > after:
            if ev is not None:
                out.append(ev)
            out.append(data)
    return "\n".join(out) + ("\n" if out else "")


def field(path, dotted):
    with open(path) as f:
        v = json.load(f)
    for k in dotted.split(".") if dotted else []:
        if isinstance(v, list) and k.lstrip("-").isdigit():
            i = int(k)
            if -len(v) <= i < len(v):
                v = v[i]
                continue
            return "MISSING"
        if isinstance(v, dict) and k in v:
            v = v[k]
            continue
        return "MISSING"
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path, rest = argv[1], argv[2], argv[3:]
    opts = {"--after": "-1", "--text": None, "--status": None,
            "--terminal": None}
    is_open = False
    pos = []
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--open":
            is_open = True
        elif a in opts and i + 1 < len(rest):
            opts[a] = rest[i + 1]
            i += 1
        else:
            pos.append(a)
        i += 1
    try:
        if cmd == "check":
            print(check(path, int(opts["--after"]), opts["--text"],
                        opts["--status"], opts["--terminal"], is_open))
        elif cmd == "lines":
            sys.stdout.write(lines(path, int(opts["--after"])))
        elif cmd == "field" and len(pos) == 1:
            print(field(path, pos[0]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Bad as e:
        print(f"bad: {path}: {e}")
        return 1
    except (OSError, ValueError) as e:
        print(f"bad: {path}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
