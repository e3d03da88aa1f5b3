// Node's `ws` client against a bolt server: `node client.mjs BASE_URL CASE [JSON_ARGS]` runs one
// case and prints its result as one JSON document on stdout (tests/interop/test_node_ws.py asserts
// on it). BASE_URL is ws://127.0.0.1:PORT. Payloads mirror tests/interop/cases.py.

import { createHash, randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import WebSocket from "ws";

const [base, name, rawArgs] = process.argv.slice(2);
const args = rawArgs ? JSON.parse(rawArgs) : {};
const MAX_SIZE = 16 * 1024 * 1024;
const TEXT_UNIT = Buffer.from("WebSocket ünïcödé € 😀 ", "utf8");

// A text whose UTF-8 encoding is exactly `size` bytes; a character cut at the end becomes "x"s.
function textOf(size) {
  const bytes = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += TEXT_UNIT.length) TEXT_UNIT.copy(bytes, offset);
  let lead = size - 1;
  while (lead > 0 && (bytes[lead] & 0xc0) === 0x80) lead--;
  if (size > 0) {
    const first = bytes[lead];
    const length = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : 2;
    if (lead + length > size) bytes.fill(0x78, lead);
  }
  return bytes;
}

function jsonOf(size) {
  if (size === 1) return "7";
  if (size < 64) return '"' + "j".repeat(size - 2) + '"';
  const head = `{"size":${size},"list":[1,2.5,true,null],"text":"`;
  const tail = '"}';
  return head + textOf(size - Buffer.byteLength(head + tail)).toString("utf8") + tail;
}

function digest(data, type) {
  return { type, length: data.length, sha256: createHash("sha256").update(data).digest("hex") };
}

// Resolves to [ws, next]. The recorder is attached before the handshake completes: frames that
// arrive in the same read as the 101 are emitted before a promise continuation could attach it.
function open(path, protocols, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, protocols, { maxPayload: MAX_SIZE, perMessageDeflate: false, ...options });
    const next = recorder(ws);
    ws.once("open", () => resolve([ws, next]));
    ws.once("error", reject);
    ws.once("unexpected-response", (request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
      request.destroy();
    });
  });
}

// Messages, pings and the close event in arrival order, so a case can await the next of each.
function recorder(ws) {
  const queue = [];
  const waiting = [];
  const push = (item) => (waiting.length ? waiting.shift()(item) : queue.push(item));
  ws.on("message", (data, isBinary) => push({ kind: "message", data, isBinary }));
  ws.on("ping", (data) => push({ kind: "ping", data }));
  ws.on("pong", (data) => push({ kind: "pong", data }));
  ws.on("error", (error) => push({ kind: "error", error: String(error) }));
  ws.on("close", (code, reason) => push({ kind: "close", code, reason: reason.toString("utf8") }));
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve)));
}

async function closeNormally(ws, next) {
  ws.close(1000);
  let event;
  do event = await next(); while (event.kind !== "close");
  return event.code;
}

const cases = {
  // {kind: "text"|"binary"|"json", sizes: [...]}: one connection per message.
  async echo({ kind, sizes }) {
    const results = [];
    for (const size of sizes) {
      const [ws, next] = await open(kind === "json" ? "/json" : "/echo");
      let ok;
      if (kind === "json") {
        const encoded = jsonOf(size);
        ws.send(encoded);
        const reply = await next();
        ok = !reply.isBinary && isDeepStrictEqual(JSON.parse(reply.data.toString("utf8")), JSON.parse(encoded));
      } else {
        const message = kind === "text" ? textOf(size) : randomBytes(size);
        ws.send(message, { binary: kind === "binary" });
        const reply = await next();
        ok = reply.kind === "message" && reply.isBinary === (kind === "binary") && message.equals(reply.data);
      }
      results.push({ size, ok, closed: await closeNormally(ws, next) });
    }
    return results;
  },

  // Fragments with {fin: false}: a text cut inside a two-byte character and an empty fragment, a
  // binary message in 10 fragments, and a ping between fragments.
  async fragments() {
    const [ws, next] = await open("/digest");
    const text = textOf(70_000);
    const cuts = [0, 1, 12, 12, 30_001, text.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      ws.send(text.subarray(cuts[i], cuts[i + 1]), { binary: false, fin: i + 2 === cuts.length });
    }
    const textDigest = JSON.parse((await next()).data.toString("utf8"));
    const data = randomBytes(70_000);
    for (let start = 0; start < data.length; start += 7_000) {
      ws.send(data.subarray(start, start + 7_000), { binary: true, fin: start + 7_000 >= data.length });
    }
    const binaryDigest = JSON.parse((await next()).data.toString("utf8"));
    ws.send(Buffer.from("first "), { binary: false, fin: false });
    ws.ping(Buffer.from("in the middle"));
    ws.send(Buffer.from("last"), { binary: false, fin: true });
    const pong = await next();
    const interleaved = JSON.parse((await next()).data.toString("utf8"));
    return {
      text: isDeepStrictEqual(textDigest, digest(text, "text")),
      binary: isDeepStrictEqual(binaryDigest, digest(data, "binary")),
      pong: pong.kind === "pong" && pong.data.toString() === "in the middle",
      interleaved: isDeepStrictEqual(interleaved, digest(Buffer.from("first last"), "text")),
      closed: await closeNormally(ws, next),
    };
  },

  // bolt sends every message in 1,000-byte fragments (the fragmenting server); ws reassembles them.
  async fragmentsFromBolt() {
    const [ws, next] = await open("/echo");
    const text = textOf(100_000);
    ws.send(text, { binary: false });
    const textReply = await next();
    const data = randomBytes(100_000);
    ws.send(data);
    const binaryReply = await next();
    return {
      text: !textReply.isBinary && text.equals(textReply.data),
      binary: binaryReply.isBinary && data.equals(binaryReply.data),
      closed: await closeNormally(ws, next),
    };
  },

  async ping() {
    const [ws, next] = await open("/echo");
    const pongs = [];
    for (const payload of [Buffer.alloc(0), Buffer.from("client-ping"), Buffer.from([...Array(125).keys()])]) {
      ws.ping(payload);
      const pong = await next();
      pongs.push(pong.kind === "pong" && payload.equals(pong.data));
    }
    return { pongs, closed: await closeNormally(ws, next) };
  },

  async serverPing() {
    const [ws, next] = await open("/server-ping");
    const ping = await next();
    const message = await next();
    return { ping: ping.kind === "ping" ? ping.data.toString() : null, message: message.data.toString(), closed: await closeNormally(ws, next) };
  },

  // {codes, reasons}: bolt closes with each code and reason.
  async closeByServer({ codes, reasons }) {
    const results = [];
    for (const [index, code] of codes.entries()) {
      const [ws, next] = await open(`/close/${code}?reason=${encodeURIComponent(reasons[index])}`);
      const event = await next();
      results.push({ kind: event.kind, code: event.code, reason: event.reason });
    }
    return results;
  },

  // {codes, reasons, prefix}: the client closes with each code; bolt answers with the same code.
  async closeByClient({ codes, reasons, prefix }) {
    const results = [];
    for (const [index, code] of codes.entries()) {
      const [ws, next] = await open(`/record/${prefix}-${code}`);
      const ready = await next();
      ws.close(code, reasons[index]);
      const event = await next();
      results.push({ ready: ready.data.toString(), kind: event.kind, code: event.code, reason: event.reason });
    }
    return results;
  },

  // ws.close() with no code sends a close frame with no payload.
  async closeWithoutCode({ key }) {
    const [ws, next] = await open(`/record/${key}`);
    const ready = await next();
    ws.close();
    const event = await next();
    return { ready: ready.data.toString(), kind: event.kind, code: event.code, reason: event.reason };
  },

  async closeBeforeAccept() {
    const [, next] = await open("/token?token=wrong");
    const event = await next();
    return { kind: event.kind, code: event.code, reason: event.reason };
  },

  // {offered}: the subprotocol ws reports and the one the handler says it chose.
  async subprotocol({ offered }) {
    const [ws, next] = await open("/subprotocol", offered);
    const said = await next();
    return { protocol: ws.protocol, said: said.data.toString(), closed: await closeNormally(ws, next) };
  },

  // {sizes}: permessage-deflate on (ws's defaults: it offers client_max_window_bits and compresses
  // messages of 1 KiB and more). One connection: per size, a text then random bytes. Returns the
  // extensions ws reports, the server's Sec-WebSocket-Extensions, and each echo's verdict.
  async deflateEcho({ sizes }) {
    let header = null;
    const [ws, next] = await new Promise((resolve, reject) => {
      const ws = new WebSocket(base + "/echo", { maxPayload: MAX_SIZE, perMessageDeflate: true });
      const next = recorder(ws);
      ws.once("upgrade", (response) => (header = response.headers["sec-websocket-extensions"] ?? null));
      ws.once("open", () => resolve([ws, next]));
      ws.once("error", reject);
    });
    const results = [];
    for (const size of sizes) {
      for (const kind of ["text", "binary"]) {
        const message = kind === "text" ? textOf(size) : randomBytes(size);
        ws.send(message, { binary: kind === "binary" });
        const reply = await next();
        results.push({ size, kind, ok: reply.kind === "message" && reply.isBinary === (kind === "binary") && message.equals(reply.data) });
      }
    }
    return { extensions: ws.extensions, header, results, closed: await closeNormally(ws, next) };
  },

  async refused({ path }) {
    try {
      const [ws] = await open(path);
      ws.terminate();
      return { status: null };
    } catch (error) {
      return { status: error.status ?? null, error: String(error.message) };
    }
  },
};

const timer = setTimeout(() => {
  process.stdout.write(JSON.stringify({ error: `case ${name} timed out` }) + "\n");
  process.exit(2);
}, 60_000);

try {
  if (!(name in cases)) throw new Error(`unknown case ${name}`);
  const result = await cases[name](args);
  process.stdout.write(JSON.stringify({ result }) + "\n");
  clearTimeout(timer);
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error && error.stack ? error.stack : error) }) + "\n");
  process.exit(1);
}
