// Evaluated in a Chromium page by tests/interop/test_chromium.py: window.interop drives the
// browser's own WebSocket against bolt. Payloads mirror tests/interop/cases.py.
(() => {
  const TEXT_UNIT = new TextEncoder().encode("WebSocket ünïcödé € 😀 ");

  // Bytes of exactly `size`, repeating TEXT_UNIT; a character cut at the end becomes "x"s.
  function textBytes(size) {
    const bytes = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += TEXT_UNIT.length) {
      bytes.set(TEXT_UNIT.subarray(0, Math.min(TEXT_UNIT.length, size - offset)), offset);
    }
    let lead = size - 1;
    while (lead > 0 && (bytes[lead] & 0xc0) === 0x80) lead--;
    if (size > 0) {
      const first = bytes[lead];
      const length = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : 2;
      if (lead + length > size) bytes.fill(0x78, lead);
    }
    return bytes;
  }

  const textOf = (size) => new TextDecoder("utf-8", { fatal: true }).decode(textBytes(size));

  function binaryOf(size) {
    const bytes = new Uint8Array(size);
    let state = (size ^ 0x9e3779b9) >>> 0 || 1;
    for (let i = 0; i < size; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bytes[i] = state & 0xff;
    }
    return bytes;
  }

  function jsonOf(size) {
    if (size === 1) return "7";
    if (size < 64) return '"' + "j".repeat(size - 2) + '"';
    const head = `{"size":${size},"list":[1,2.5,true,null],"text":"`;
    const tail = '"}';
    return head + textOf(size - new TextEncoder().encode(head + tail).length) + tail;
  }

  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function sameJSON(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  // Resolves to {ws, next}: next() is the next "message", "close" or "error" event, in order.
  function open(url, protocols) {
    return new Promise((resolve, reject) => {
      const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
      ws.binaryType = "arraybuffer";
      const queue = [];
      const waiting = [];
      const push = (item) => (waiting.length ? waiting.shift()(item) : queue.push(item));
      const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)));
      ws.onmessage = (event) => push({ kind: "message", data: event.data });
      ws.onerror = () => push({ kind: "error" });
      ws.onclose = (event) => {
        push({ kind: "close", code: event.code, reason: event.reason, wasClean: event.wasClean });
        reject(new Error(`closed before open: ${event.code}`));
      };
      ws.onopen = () => resolve({ ws, next });
    });
  }

  async function closeNormally(ws, next) {
    ws.close(1000);
    let event;
    do event = await next(); while (event.kind !== "close");
    return event.code;
  }

  async function echo(base, kind, size) {
    const { ws, next } = await open(base + (kind === "json" ? "/json" : "/echo"));
    let ok;
    if (kind === "json") {
      const encoded = jsonOf(size);
      ws.send(encoded);
      const reply = await next();
      ok = typeof reply.data === "string" && sameJSON(JSON.parse(reply.data), JSON.parse(encoded));
    } else if (kind === "text") {
      const message = textOf(size);
      ws.send(message);
      const reply = await next();
      ok = reply.data === message;
    } else {
      const message = binaryOf(size);
      ws.send(message);
      const reply = await next();
      ok = reply.data instanceof ArrayBuffer && sameBytes(new Uint8Array(reply.data), message);
    }
    return { size, ok, closed: await closeNormally(ws, next) };
  }

  // The close event of a connection the server ends, opened or not (a close before accept opens it).
  function firstClose(url) {
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      let opened = false;
      ws.onopen = () => (opened = true);
      ws.onclose = (event) => resolve({ opened, code: event.code, reason: event.reason, wasClean: event.wasClean });
    });
  }

  async function closeByClient(url, code, reason) {
    const { ws, next } = await open(url);
    const ready = await next();
    if (code === null) ws.close();
    else ws.close(code, reason);
    let event;
    do event = await next(); while (event.kind !== "close");
    return { ready: ready.data, code: event.code, wasClean: event.wasClean };
  }

  async function serverPing(url) {
    const { ws, next } = await open(url);
    const message = await next();
    return { message: message.data, closed: await closeNormally(ws, next) };
  }

  async function subprotocol(url, offered) {
    try {
      const { ws, next } = await open(url, offered);
      const said = await next();
      return { protocol: ws.protocol, said: said.data, closed: await closeNormally(ws, next) };
    } catch (error) {
      return { failed: String(error.message) };
    }
  }

  // permessage-deflate, which Chromium always offers: one connection, per size a text then
  // binaryOf bytes; returns ws.extensions and each echo's verdict.
  async function deflateEcho(url, sizes) {
    const { ws, next } = await open(url);
    const results = [];
    for (const size of sizes) {
      const text = textOf(size);
      ws.send(text);
      results.push({ size, kind: "text", ok: (await next()).data === text });
      const data = binaryOf(size);
      ws.send(data);
      const reply = await next();
      results.push({ size, kind: "binary", ok: reply.data instanceof ArrayBuffer && sameBytes(new Uint8Array(reply.data), data) });
    }
    return { extensions: ws.extensions, results, closed: await closeNormally(ws, next) };
  }

  window.interop = { echo, firstClose, closeByClient, serverPing, subprotocol, deflateEcho, textOf, jsonOf };
})();
