// src/util.js
var Emitter = class {
  constructor() {
    this._on = {};
  }
  on(name, fn) {
    var _a;
    ((_a = this._on)[name] || (_a[name] = [])).push(fn);
    return this;
  }
  off(name, fn) {
    this._on[name] = (this._on[name] || []).filter((f) => f !== fn);
    return this;
  }
  once(name, fn) {
    const w = (...a) => {
      this.off(name, w);
      fn.apply(this, a);
    };
    return this.on(name, w);
  }
  emit(name, ...args) {
    for (const fn of (this._on[name] || []).slice()) {
      try {
        fn.apply(this, args);
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
    return (this._on[name] || []).length > 0;
  }
};
function backoff(n, { base = 500, max = 3e4, jitter = 0.5 } = {}, rand = Math.random) {
  const d = Math.min(max, base * 2 ** Math.min(n, 30));
  return Math.round(d * (1 - jitter * rand()));
}
var Dedupe = class {
  constructor(size = 1e3) {
    this.size = size;
    this.set = /* @__PURE__ */ new Set();
  }
  // seen reports whether id was added before, and adds it.
  seen(id) {
    if (this.set.has(id)) return true;
    this.set.add(id);
    if (this.set.size > this.size) this.set.delete(this.set.values().next().value);
    return false;
  }
};
function convId(peers) {
  return md5([...new Set(peers)].sort().join(":"));
}
function md5(s) {
  const m = new TextEncoder().encode(s);
  const n = (m.length + 8 >> 6) + 1;
  const w = new Uint32Array(n * 16);
  for (let i = 0; i < m.length; i++) w[i >> 2] |= m[i] << i % 4 * 8;
  w[m.length >> 2] |= 128 << m.length % 4 * 8;
  w[n * 16 - 2] = m.length * 8;
  w[n * 16 - 1] = Math.floor(m.length / 536870912);
  const K = [];
  for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0;
  const R = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  let a0 = 1732584193;
  let b0 = 4023233417;
  let c0 = 2562383102;
  let d0 = 271733878;
  for (let o = 0; o < w.length; o += 16) {
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      const r = i >> 4;
      let f, g;
      if (r === 0) {
        f = b & c | ~b & d;
        g = i;
      } else if (r === 1) {
        f = d & b | ~d & c;
        g = (5 * i + 1) % 16;
      } else if (r === 2) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = 7 * i % 16;
      }
      const x = a + f + K[i] + w[o + g] | 0;
      const sh = R[r * 4 + i % 4];
      a = d;
      d = c;
      c = b;
      b = b + (x << sh | x >>> 32 - sh) | 0;
    }
    a0 = a0 + a | 0;
    b0 = b0 + b | 0;
    c0 = c0 + c | 0;
    d0 = d0 + d | 0;
  }
  let hex = "";
  for (const v of [a0, b0, c0, d0]) for (let i = 0; i < 4; i++) hex += (v >>> i * 8 & 255).toString(16).padStart(2, "0");
  return hex;
}
var sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((resolve, reject) => {
    t = setTimeout(() => reject(new Error(what + " timed out after " + ms + " ms")), ms);
  })]).finally(() => clearTimeout(t));
}
function clientId() {
  const c = globalThis.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
}

// src/msgpack.js
var te = new TextEncoder();
var td = new TextDecoder();
var MAX_DEPTH = 64;
function encode(value) {
  const w = { buf: new Uint8Array(256), len: 0 };
  put(w, value);
  return w.buf.subarray(0, w.len);
}
function room(w, n) {
  if (w.len + n <= w.buf.length) return;
  let size = w.buf.length * 2;
  while (size < w.len + n) size *= 2;
  const b = new Uint8Array(size);
  b.set(w.buf.subarray(0, w.len));
  w.buf = b;
}
function byte(w, b) {
  room(w, 1);
  w.buf[w.len++] = b;
}
function num(w, tag, size, v) {
  room(w, 1 + size);
  const dv = new DataView(w.buf.buffer, w.buf.byteOffset + w.len);
  dv.setUint8(0, tag);
  if (size === 1) dv.setUint8(1, Number(v) & 255);
  else if (size === 2) dv.setUint16(1, Number(v) & 65535);
  else if (tag === 202) dv.setFloat32(1, v);
  else if (size === 4) dv.setUint32(1, Number(v) >>> 0);
  else if (tag === 203) dv.setFloat64(1, v);
  else if (tag === 207) dv.setBigUint64(1, BigInt(v));
  else dv.setBigInt64(1, BigInt(v));
  w.len += 1 + size;
}
function head(w, n, fix, fixMax, t8, t16, t32) {
  if (n <= fixMax) byte(w, fix | n);
  else if (t8 && n < 256) num(w, t8, 1, n);
  else if (n < 65536) num(w, t16, 2, n);
  else num(w, t32, 4, n);
}
function int(w, v) {
  if (typeof v === "bigint" && v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER) v = Number(v);
  if (v >= 0) {
    if (v < 128) byte(w, v);
    else if (v < 256) num(w, 204, 1, v);
    else if (v < 65536) num(w, 205, 2, v);
    else if (v < 4294967296) num(w, 206, 4, v);
    else num(w, 207, 8, v);
  } else {
    if (v >= -32) byte(w, v & 255);
    else if (v >= -128) num(w, 208, 1, v);
    else if (v >= -32768) num(w, 209, 2, v);
    else if (v >= -2147483648) num(w, 210, 4, v);
    else num(w, 211, 8, v);
  }
}
function put(w, v) {
  switch (typeof v) {
    case "undefined":
      byte(w, 192);
      return;
    case "boolean":
      byte(w, v ? 195 : 194);
      return;
    case "bigint":
      int(w, v);
      return;
    case "number":
      if (Number.isSafeInteger(v)) int(w, v);
      else num(w, 203, 8, v);
      return;
    case "string": {
      const b = te.encode(v);
      head(w, b.length, 160, 31, 217, 218, 219);
      room(w, b.length);
      w.buf.set(b, w.len);
      w.len += b.length;
      return;
    }
  }
  if (v === null) {
    byte(w, 192);
    return;
  }
  if (v instanceof Uint8Array) {
    head(w, v.length, 0, -1, 196, 197, 198);
    room(w, v.length);
    w.buf.set(v, w.len);
    w.len += v.length;
    return;
  }
  if (Array.isArray(v)) {
    head(w, v.length, 144, 15, 0, 220, 221);
    for (const x of v) put(w, x);
    return;
  }
  const keys = Object.keys(v).filter((k) => v[k] !== void 0);
  head(w, keys.length, 128, 15, 0, 222, 223);
  for (const k of keys) {
    put(w, k);
    put(w, v[k]);
  }
}
function decode(bytes) {
  const r = { b: bytes, dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), p: 0 };
  const v = get(r, 0);
  if (r.p !== bytes.length) throw new Error("msgpack: data after the value");
  return v;
}
function need(r, n) {
  if (n > r.b.length - r.p) throw new Error("msgpack: truncated");
}
function str(r, n) {
  need(r, n);
  const s = td.decode(r.b.subarray(r.p, r.p + n));
  r.p += n;
  return s;
}
function bin(r, n) {
  need(r, n);
  const s = r.b.slice(r.p, r.p + n);
  r.p += n;
  return s;
}
function arr(r, n, depth2) {
  need(r, n);
  const a = [];
  for (let i = 0; i < n; i++) a.push(get(r, depth2));
  return a;
}
function map(r, n, depth2) {
  need(r, n * 2);
  const m = {};
  for (let i = 0; i < n; i++) {
    const k = get(r, depth2);
    if (typeof k !== "string") throw new Error("msgpack: map key is not a string");
    const v = get(r, depth2);
    if (k === "__proto__") continue;
    m[k] = v;
  }
  return m;
}
function big(v) {
  return v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v;
}
function get(r, depth2) {
  need(r, 1);
  const t = r.b[r.p++];
  const dv = r.dv;
  const at = (n) => {
    need(r, n);
    const p = r.p;
    r.p += n;
    return p;
  };
  if (t < 128) return t;
  if (t >= 224) return t - 256;
  if (t >= 160 && t <= 191) return str(r, t & 31);
  if (t >= 128 && t <= 159) {
    if (depth2 >= MAX_DEPTH) throw new Error("msgpack: nesting too deep");
    return t < 144 ? map(r, t & 15, depth2 + 1) : arr(r, t & 15, depth2 + 1);
  }
  switch (t) {
    case 192:
      return null;
    case 194:
      return false;
    case 195:
      return true;
    case 196:
      return bin(r, dv.getUint8(at(1)));
    case 197:
      return bin(r, dv.getUint16(at(2)));
    case 198:
      return bin(r, dv.getUint32(at(4)));
    case 199:
      at(1);
      return ext(r, dv.getUint8(r.p - 1));
    case 200:
      at(2);
      return ext(r, dv.getUint16(r.p - 2));
    case 201:
      at(4);
      return ext(r, dv.getUint32(r.p - 4));
    case 202:
      return dv.getFloat32(at(4));
    case 203:
      return dv.getFloat64(at(8));
    case 204:
      return dv.getUint8(at(1));
    case 205:
      return dv.getUint16(at(2));
    case 206:
      return dv.getUint32(at(4));
    case 207:
      return big(dv.getBigUint64(at(8)));
    case 208:
      return dv.getInt8(at(1));
    case 209:
      return dv.getInt16(at(2));
    case 210:
      return dv.getInt32(at(4));
    case 211:
      return big(dv.getBigInt64(at(8)));
    case 212:
      return ext(r, 1);
    case 213:
      return ext(r, 2);
    case 214:
      return ext(r, 4);
    case 215:
      return ext(r, 8);
    case 216:
      return ext(r, 16);
    case 217:
      return str(r, dv.getUint8(at(1)));
    case 218:
      return str(r, dv.getUint16(at(2)));
    case 219:
      return str(r, dv.getUint32(at(4)));
    case 220:
    case 221:
    case 222:
    case 223: {
      const n = t & 1 ? dv.getUint32(at(4)) : dv.getUint16(at(2));
      if (depth2 >= MAX_DEPTH) throw new Error("msgpack: nesting too deep");
      return t < 222 ? arr(r, n, depth2 + 1) : map(r, n, depth2 + 1);
    }
  }
  throw new Error("msgpack: bad format byte 0x" + t.toString(16));
}
function ext(r, n) {
  need(r, n + 1);
  r.p += n + 1;
  return null;
}

// src/frame.js
var MAX_FRAME = 64 * 1024;
function varint(n) {
  if (n < 64) return Uint8Array.of(n);
  if (n < 16384) return Uint8Array.of(64 | n >> 8, n & 255);
  if (n < 1073741824) return Uint8Array.of(128 | n >>> 24, n >> 16 & 255, n >> 8 & 255, n & 255);
  throw new RangeError("frame too large");
}
function readVarint(b, p) {
  if (p >= b.length) return null;
  const size = 1 << (b[p] >> 6);
  if (p + size > b.length) return null;
  let v = b[p] & 63;
  for (let i = 1; i < size; i++) v = v * 256 + b[p + i];
  return [v, size];
}
function encodeFrame(cmd) {
  const body = encode(cmd);
  const pre = varint(body.length);
  const out = new Uint8Array(pre.length + body.length);
  out.set(pre);
  out.set(body, pre.length);
  return out;
}
var FrameReader = class {
  constructor(max = MAX_FRAME) {
    this.max = max;
    this.buf = new Uint8Array(0);
  }
  push(chunk) {
    let b = this.buf;
    if (b.length) {
      const n = new Uint8Array(b.length + chunk.length);
      n.set(b);
      n.set(chunk, b.length);
      b = n;
    } else b = chunk;
    const out = [];
    let p = 0;
    for (; ; ) {
      const v = readVarint(b, p);
      if (!v) break;
      if (v[0] > this.max) throw new RangeError("frame of " + v[0] + " bytes is over the limit");
      if (p + v[1] + v[0] > b.length) break;
      p += v[1];
      out.push(decode(b.subarray(p, p + v[0])));
      p += v[0];
    }
    this.buf = b.slice(p);
    return out;
  }
  // pending reports whether a partial frame is buffered.
  get pending() {
    return this.buf.length > 0;
  }
};

// src/command.js
var ORDER = [
  "cmd",
  "op",
  "peerId",
  "appId",
  "installationId",
  "sessionPeerIds",
  "onlineSessionPeerIds",
  "status",
  "fromPeerId",
  "toPeerIds",
  "roomId",
  "roomPeerIds",
  "byPeerId",
  "msg",
  "id",
  "ids",
  "uid",
  "timestamp",
  "t",
  "s",
  "n",
  "sp",
  "transient",
  "r",
  "offline",
  "c",
  "code",
  "reason",
  "i"
];
var OPS = {
  session: "open opened add added remove removed query query-result close closed",
  room: "join joined invite invited kick kicked leave left members-joined members-left reject"
};
var CMDS = "direct ack ackreq rcp presence login error".split(" ");
var TYPES = {};
for (const k of "cmd op peerId appId installationId status fromPeerId roomId byPeerId msg id uid s reason".split(" ")) TYPES[k] = "S";
for (const k of "sessionPeerIds onlineSessionPeerIds toPeerIds roomPeerIds ids".split(" ")) TYPES[k] = "L";
for (const k of "i timestamp c code".split(" ")) TYPES[k] = "I";
for (const k of "sp transient offline".split(" ")) TYPES[k] = "B";
var I64 = 2n ** 63n;
var ProtocolError = class extends Error {
  constructor(kind2, message) {
    super(message);
    this.kind = kind2;
  }
};
var bad = (m) => {
  throw new ProtocolError("malformed", m);
};
function kindOf(c) {
  if (c.cmd == null) return "{}";
  return OPS[c.cmd] ? c.cmd + (c.op || "") : c.cmd;
}
function integer(k, v) {
  if (typeof v === "bigint") {
    if (v < -I64 || v >= I64) bad(k + " overflows int64");
    return v;
  }
  if (typeof v !== "number" || !Number.isInteger(v)) bad(k + " is not an integer");
  if (Math.abs(v) >= 2 ** 63) bad(k + " overflows int64");
  return v;
}
function depth(v, d) {
  if (d > 64) bad("nesting too deep");
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    for (const k in v) depth(v[k], d + 1);
  }
}
function check(f) {
  if (!f || typeof f !== "object" || Array.isArray(f) || f instanceof Uint8Array) bad("frame is not a map");
  const cmd = f.cmd;
  if (cmd == null) return {};
  if (typeof cmd !== "string") bad("cmd is not a string");
  const ops = OPS[cmd];
  if (ops) {
    if (typeof f.op !== "string" && f.op != null) bad("op is not a string");
    if (!f.op || !ops.split(" ").includes(f.op)) throw new ProtocolError("unknown", "unknown " + cmd + " op " + f.op);
  } else if (!CMDS.includes(cmd)) throw new ProtocolError("unknown", "unknown cmd " + cmd);
  const out = {};
  for (const k of Object.keys(f)) {
    let v = f[k];
    if (v === null || v === void 0) continue;
    const t = TYPES[k];
    if (t === "S") {
      if (typeof v !== "string") bad(k + " is not a string");
      v = wellFormed(v);
    } else if (t === "L") {
      if (!Array.isArray(v)) bad(k + " is not a list");
      v = v.filter((x) => x !== null);
      for (const x of v) if (typeof x !== "string") bad(k + " has a non-string entry");
      v = v.map(wellFormed);
    } else if (t === "I") v = integer(k, v);
    else if (t === "B") {
      if (typeof v !== "boolean") bad(k + " is not a boolean");
    } else if (k === "n") {
      if (typeof v === "number" || typeof v === "bigint") v = String(v);
      else if (typeof v !== "string") bad("n is not a string");
    } else if (k === "r") v = v === true || v === 1;
    else if (k !== "t") depth(v, 1);
    out[k] = v;
  }
  if (!ops) delete out.op;
  if (out.t !== void 0) {
    const ms = out.cmd === "ack" || out.cmd === "rcp";
    if (ms) out.t = integer("t", out.t);
    else if (typeof out.t === "number" || typeof out.t === "bigint") out.t = String(out.t);
    else if (typeof out.t !== "string") bad("t is not a number or string");
  }
  if (!out.r) delete out.r;
  return out;
}
function wellFormed(s) {
  return s.toWellFormed ? s.toWellFormed() : s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\uFFFD");
}
function ordered(cmd) {
  const out = {};
  for (const k of ORDER) if (cmd[k] !== void 0) out[k] = cmd[k];
  for (const k of Object.keys(cmd)) if (!Object.prototype.hasOwnProperty.call(out, k) && cmd[k] !== void 0) out[k] = cmd[k];
  const t = out.t;
  if (typeof t === "string" && /^(0|[1-9][0-9]{0,19})$/.test(t) && BigInt(t) < 2n ** 64n) {
    out.t = Number.isSafeInteger(+t) ? +t : BigInt(t);
  }
  return out;
}

// src/transports.js
var Conn = class {
  constructor(name) {
    this.name = name;
    this.dialect = "json";
    this.closed = false;
    this.onframe = () => {
    };
    this.onclose = () => {
    };
  }
  deliver(raw) {
    let cmd;
    try {
      cmd = check(typeof raw === "string" ? JSON.parse(raw) : raw);
    } catch (e) {
      return;
    }
    if (!this.closed) this.onframe(cmd);
  }
  finish(code, reason = "") {
    if (this.closed) return;
    this.closed = true;
    this.onclose({ code, reason });
  }
};
var WS_PROTOCOLS = { msgpack: "rtgate.msgpack.1", json: "rtgate.json.1" };
function openWebSocket(o) {
  return new Promise((resolve, reject) => {
    const WS = o.WebSocket || globalThis.WebSocket;
    if (!WS) return reject(new Error("WebSocket is not available here"));
    const proto = WS_PROTOCOLS[o.dialect || "msgpack"];
    const ws = proto ? new WS(o.url, proto) : new WS(o.url);
    ws.binaryType = "arraybuffer";
    const c = new Conn("websocket");
    let opened = false;
    const timer = setTimeout(() => {
      ws.onclose = null;
      ws.close();
      reject(new Error("websocket: no connection within " + o.timeout + " ms"));
    }, o.timeout);
    ws.onopen = () => {
      clearTimeout(timer);
      opened = true;
      c.dialect = ws.protocol === WS_PROTOCOLS.msgpack ? "msgpack" : ws.protocol === WS_PROTOCOLS.json ? "json" : "v1";
      resolve(c);
    };
    ws.onerror = () => {
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      if (!opened) reject(new Error("websocket: closed before opening (" + e.code + ")"));
      else c.finish(e.code, e.reason);
    };
    ws.onmessage = (e) => {
      c.deliver(typeof e.data === "string" ? e.data : safeDecode(new Uint8Array(e.data)));
    };
    c.send = (cmd) => {
      if (ws.readyState !== 1) return;
      ws.send(c.dialect === "msgpack" ? encode(ordered(cmd)) : JSON.stringify(ordered(cmd)));
    };
    c.close = () => {
      try {
        ws.close(1e3);
      } catch (e) {
      }
      c.finish(1e3, "closed by the client");
    };
  });
}
function safeDecode(b) {
  try {
    return decode(b);
  } catch (e) {
    return null;
  }
}
function certificateHashes(list3) {
  return list3.map((h) => {
    if (typeof h !== "string") return h;
    const bytes = /^[0-9a-f]{64}$/i.test(h) ? Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16)) : Uint8Array.from(atob(h), (ch) => ch.charCodeAt(0));
    return { algorithm: "sha-256", value: bytes };
  });
}
async function openWebTransport(o) {
  const WT = globalThis.WebTransport;
  if (!WT) throw new Error("WebTransport is not available here");
  const url = o.url + (o.datagrams === false ? "" : (o.url.includes("?") ? "&" : "?") + "datagrams=1");
  const wt = new WT(url, o.hashes && o.hashes.length ? { serverCertificateHashes: certificateHashes(o.hashes) } : {});
  wt.closed.catch(() => {
  });
  let stream;
  try {
    await withTimeout(wt.ready, o.timeout, "webtransport");
    stream = await withTimeout(wt.createBidirectionalStream(), o.timeout, "webtransport stream");
  } catch (e) {
    try {
      wt.close();
    } catch (e2) {
    }
    throw e;
  }
  const c = new Conn("webtransport");
  c.dialect = "msgpack";
  const writer = stream.writable.getWriter();
  c.send = (cmd) => {
    if (!c.closed) writer.write(encodeFrame(ordered(cmd))).catch(() => {
    });
  };
  c.close = () => {
    try {
      wt.close({ closeCode: 1e3, reason: "closed by the client" });
    } catch (e) {
    }
    c.finish(1e3, "closed by the client");
  };
  const end = async (fallback) => {
    const info = await Promise.race([
      wt.closed.then((i) => ({ code: i.closeCode, reason: i.reason }), (e) => ({ code: 1006, reason: e.message })),
      sleep(1e3).then(() => fallback)
    ]);
    try {
      wt.close();
    } catch (e) {
    }
    c.finish(info.code || fallback.code, info.reason || fallback.reason);
  };
  (async () => {
    const reader = stream.readable.getReader();
    const frames = new FrameReader(o.maxFrame);
    try {
      for (; ; ) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const cmd of frames.push(value)) c.deliver(cmd);
      }
      end({ code: frames.pending ? 1006 : 1e3, reason: "" });
    } catch (e) {
      end({ code: 1006, reason: String(e && e.message) });
    }
  })();
  (async () => {
    try {
      const dr = wt.datagrams.readable.getReader();
      for (; ; ) {
        const { value, done } = await dr.read();
        if (done) return;
        c.deliver(safeDecode(value));
      }
    } catch (e) {
    }
  })();
  return c;
}
var HTTPError = class extends Error {
  constructor(status, body) {
    super("HTTP " + status + (body && body.error ? ": " + body.error : ""));
    this.status = status;
    this.body = body;
  }
};
async function fetchJSON(url, init = {}, ms = 1e4, f = globalThis.fetch) {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  if (init.signal) init.signal.addEventListener("abort", () => ac.abort());
  try {
    const res = await f(url, { ...init, signal: ac.signal, cache: "no-store" });
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (e) {
    }
    if (!res.ok) throw new HTTPError(res.status, body);
    return body;
  } finally {
    clearTimeout(t);
  }
}
async function openLongPoll(o) {
  const f = o.fetch || globalThis.fetch;
  if (!f) throw new Error("fetch is not available here");
  const base = o.url.replace(/\/$/, "") + "/lp/";
  const post = { method: "POST", headers: { "Content-Type": "application/json" } };
  const info = await fetchJSON(base + "open", { ...post, body: JSON.stringify({ dialect: o.dialect === "v1" ? "v1" : "rtgate.json.1" }) }, o.timeout, f);
  const sid = encodeURIComponent(info.sid);
  const hold = (info.pingInterval || 25e3) + 1e4;
  const grace = info.pingTimeout || 2e4;
  const c = new Conn("longpoll");
  c.dialect = info.dialect === "v1" ? "v1" : "json";
  c.sid = info.sid;
  const stop = new AbortController();
  let seq = 0;
  let cseq = 0;
  let queue = [];
  let sending = false;
  const finish = (code, reason) => {
    stop.abort();
    c.finish(code, reason);
  };
  c.send = (cmd) => {
    if (c.closed) return;
    queue.push({ cseq: ++cseq, d: ordered(cmd) });
    flush();
  };
  c.close = () => {
    if (c.closed) return;
    f(base + "close?sid=" + sid, { method: "POST" }).catch(() => {
    });
    finish(1e3, "closed by the client");
  };
  async function retry(fn) {
    let since = 0;
    for (; ; ) {
      try {
        return await fn();
      } catch (e) {
        if (c.closed) throw e;
        if (e.status === 404) return finish(4107, "long-poll session expired");
        if (e.status === 410) return null;
        if (e.status >= 400 && e.status < 500) return finish(1007, e.message);
        since = since || Date.now();
        if (Date.now() - since > grace) return finish(1006, "long-poll server unreachable");
        await sleep(500);
      }
    }
  }
  async function flush() {
    if (sending || c.closed || !queue.length) return;
    sending = true;
    const batch = queue.slice(0, 64);
    const res = await retry(() => fetchJSON(base + "send?sid=" + sid, { ...post, body: JSON.stringify(batch), signal: stop.signal }, 15e3, f)).catch(() => null);
    const ack = res ? res.ack : batch[batch.length - 1].cseq;
    queue = queue.filter((x) => x.cseq > ack);
    sending = false;
    flush();
  }
  ;
  (async () => {
    while (!c.closed) {
      const r = await retry(() => fetchJSON(base + "poll?sid=" + sid + "&ack=" + seq, { signal: stop.signal }, hold, f)).catch(() => null);
      if (!r) continue;
      for (const fr of r.frames || []) {
        if (fr.seq > seq) {
          seq = fr.seq;
          c.deliver(fr.d);
        }
      }
      if (r.close) finish(r.close.code, r.close.reason);
    }
  })();
  return c;
}

// src/client.js
var TRANSPORTS = ["webtransport", "websocket", "longpoll"];
var TIMEOUTS = { webtransport: 3e3, websocket: 5e3, longpoll: 1e4 };
var FATAL = [4100, 4103, 4108];
var REPLY = "sessionopened sessionadded sessionremoved sessionquery-result sessionclosed ack roomjoined roominvited roomkicked roomleft roomreject error".split(" ");
var list = (x) => x == null ? [] : [].concat(x);
var noAuth = () => Promise.resolve({});
var Client = class extends Emitter {
  // See README.md for every option.
  constructor(opts) {
    super();
    if (!opts || !opts.appId) throw new Error("appId is required");
    if (!opts.peerId) throw new Error("peerId is required");
    this.opts = {
      transports: TRANSPORTS,
      wsDialect: "msgpack",
      longpollDialect: "json",
      requestTimeout: 1e4,
      keepAlive: 25e3,
      reconnect: true,
      backoff: {},
      datagrams: true,
      ...opts
    };
    this.appId = opts.appId;
    this.peerId = opts.peerId;
    this.auth = opts.auth || noAuth;
    this.groupAuth = opts.groupAuth || noAuth;
    this.watching = new Set(list(opts.watch || opts.watchingPeerIds));
    this.online = /* @__PURE__ */ new Set();
    this.groups = /* @__PURE__ */ new Set();
    this.state = "idle";
    this.conn = null;
    this.lastError = null;
    this._seq = 0;
    this._pending = /* @__PURE__ */ new Map();
    this._acks = [];
    this._held = [];
    this._early = [];
    this._dedupe = new Dedupe(opts.dedupeSize || 1e3);
    this._attempt = 0;
  }
  // transport is the name of the transport in use, or null.
  get transport() {
    return this.conn && !this.conn.closed ? this.conn.name : null;
  }
  // connect opens a transport and the session; it rejects when no
  // transport works or the server refuses the session.
  async connect() {
    if (this.state === "open") return this;
    this.state = "connecting";
    try {
      await this._connectOnce();
    } catch (e) {
      this.state = "closed";
      throw e;
    }
    return this;
  }
  // endpoints resolves the URLs of every transport (through the router
  // when opts.router is set) and the WebTransport certificate hashes.
  async _endpoints() {
    const o = this.opts;
    let base = o.url || globalThis.location && globalThis.location.origin;
    if (o.router) {
      if (!this._route || Date.now() > this._route.expires) {
        const secure2 = o.secure || globalThis.location && globalThis.location.protocol === "https:";
        const r = await fetchJSON(o.router.replace(/\/$/, "") + "/v1/route?appId=" + encodeURIComponent(this.appId) + (secure2 ? "&secure=1" : ""), {}, 1e4, o.fetch);
        this._route = { ...r, expires: Date.now() + (r.ttl || 3600) * 1e3 };
      }
      base = this._route.server;
    }
    if (!base) throw new Error("url is required outside a browser page");
    const u = new URL(base);
    const secure = u.protocol === "https:" || u.protocol === "wss:";
    const e = {
      http: (secure ? "https://" : "http://") + u.host,
      ws: u.protocol.startsWith("ws") ? u.href : (secure ? "wss://" : "ws://") + u.host + "/",
      wt: o.webtransport || (secure ? "https://" + u.host + "/wt" : null),
      hashes: o.serverCertificateHashes
    };
    if (o.devCertificate && !e.hashes && this.opts.transports.includes("webtransport")) {
      try {
        const info = await fetchJSON(o.certinfo || e.http + "/certinfo", {}, 5e3, o.fetch);
        e.hashes = [info.sha256Base64 || info.sha256];
        e.wt = e.wt || info.webtransport || null;
      } catch (err) {
      }
    }
    return e;
  }
  async _connectOnce() {
    const o = this.opts;
    const e = await this._endpoints();
    const errors = [];
    for (const name of o.transports) {
      const timeout = typeof o.connectTimeout === "number" ? o.connectTimeout : (o.connectTimeout || {})[name] || TIMEOUTS[name];
      let conn;
      try {
        if (name === "webtransport") {
          if (!e.wt) throw new Error("no WebTransport URL (set webtransport, or use an https url)");
          conn = await openWebTransport({ url: e.wt, hashes: e.hashes, timeout, datagrams: o.datagrams });
        } else if (name === "websocket") {
          conn = await openWebSocket({ url: e.ws, dialect: o.wsDialect, timeout, WebSocket: o.WebSocket });
        } else if (name === "longpoll") {
          conn = await openLongPoll({ url: e.http, dialect: o.longpollDialect, timeout, fetch: o.fetch });
        } else throw new Error("unknown transport " + name);
      } catch (err2) {
        errors.push(name + ": " + err2.message);
        continue;
      }
      try {
        await this._open(conn);
        return;
      } catch (err2) {
        conn.close();
        if (err2.fatal) throw err2;
        errors.push(name + ": " + err2.message);
      }
    }
    const err = new Error("rtgate: no transport could connect (" + errors.join("; ") + ")");
    this.lastError = err;
    throw err;
  }
  // _open runs the session open on conn and makes it the current one.
  async _open(conn) {
    this.conn = conn;
    let closedEarly;
    conn.onframe = (cmd) => this._frame(cmd);
    conn.onclose = (ev) => {
      closedEarly = ev;
      this._dropped(conn, ev);
    };
    const sig = await this.auth(this.peerId, [...this.watching], !!this.opts.sp);
    if (sig && sig.watchingPeerIds) this.watching = new Set(list(sig.watchingPeerIds));
    let reply;
    try {
      reply = await this._request({ cmd: "session", op: "open", sessionPeerIds: [...this.watching], sp: this.opts.sp || void 0, ...signature(sig) }, true);
    } catch (err) {
      if (closedEarly && FATAL.includes(closedEarly.code)) err.fatal = true;
      throw err;
    }
    this.state = "open";
    this.opened = reply;
    this._attempt = 0;
    const now = new Set(reply.onlineSessionPeerIds);
    const gone = [...this.online].filter((p) => !now.has(p));
    this.online = now;
    this._keepAlive();
    this.emit("open", { transport: conn.name, dialect: conn.dialect, online: [...now] });
    if (gone.length) this.emit("offline", gone);
    this.emit("online", [...now]);
    const early = this._early;
    this._early = [];
    for (const cmd of early) this._message(cmd);
    return reply;
  }
  // _dropped handles the end of a transport: pending requests fail, and
  // the client reconnects unless it was closed or the close is fatal.
  _dropped(conn, ev) {
    if (conn !== this.conn) return;
    clearTimeout(this._kaTimer);
    this._early = [];
    const why = "connection closed: " + ev.code + (ev.reason ? " " + ev.reason : "");
    for (const [, p] of this._pending) p.reject(Object.assign(new Error(why), { code: ev.code, reason: ev.reason, lost: true, dialect: conn.dialect }));
    this._pending.clear();
    if (this.state !== "open") return;
    this.emit("disconnect", ev);
    if (!this.opts.reconnect || FATAL.includes(ev.code)) {
      this.state = "closed";
      this.emit("close", ev);
      return;
    }
    this._reconnect();
  }
  async _reconnect() {
    this.state = "reconnecting";
    const max = this.opts.maxRetries ?? Infinity;
    while (this.state === "reconnecting") {
      if (this._attempt >= max) {
        this.state = "closed";
        this.emit("close", { code: 1006, reason: "gave up reconnecting" });
        return;
      }
      const delay = backoff(this._attempt++, this.opts.backoff);
      this.emit("reconnecting", { attempt: this._attempt, delay });
      await sleep(delay);
      if (this.state !== "reconnecting") return;
      try {
        await this._connectOnce();
        this.emit("reconnect", { transport: this.transport });
        return;
      } catch (err) {
        if (err.fatal) {
          this.state = "closed";
          this.emit("close", { code: 4108, reason: err.message });
          return;
        }
        this.state = "reconnecting";
      }
    }
  }
  _keepAlive() {
    clearTimeout(this._kaTimer);
    const conn = this.conn;
    const ms = this.opts.keepAlive;
    if (!ms || conn.name === "longpoll") return;
    this._lastRecv = Date.now();
    const tick = () => {
      if (conn.closed) return;
      if (Date.now() - this._lastRecv > 2 * ms) {
        this._dropped(conn, { code: 4107, reason: "no answer to keepalive" });
        conn.close();
        return;
      }
      conn.send({});
      this._kaTimer = setTimeout(tick, ms);
    };
    this._kaTimer = setTimeout(tick, ms);
  }
  // _request sends cmd with a fresh i and resolves with its reply.
  _request(cmd, opening) {
    return new Promise((resolve, reject) => {
      const conn = this.conn;
      if (!conn || conn.closed || !opening && this.state !== "open") return reject(new Error("not connected"));
      const i = this._seq = this._seq % 2147483647 + 1;
      const timer = setTimeout(() => {
        this._pending.delete(i);
        reject(new Error(kind(cmd) + " timed out"));
      }, this.opts.requestTimeout);
      const done = (f) => (v) => {
        clearTimeout(timer);
        this._pending.delete(i);
        f(v);
      };
      this._pending.set(i, { resolve: done(resolve), reject: done(reject) });
      conn.send({ ...cmd, peerId: this.peerId, appId: this.appId, i });
    });
  }
  // request waits for the connection when it is being re-established.
  async request(cmd) {
    if (this.state === "reconnecting" || this.state === "connecting") await this._whenOpen();
    return this._request(cmd);
  }
  _whenOpen() {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off("open", ok);
        reject(new Error("not connected"));
      }, this.opts.requestTimeout);
      const ok = () => {
        clearTimeout(t);
        resolve();
      };
      this.once("open", ok);
    });
  }
  // write sends a command that gets no reply.
  write(cmd) {
    if (this.conn && !this.conn.closed) this.conn.send({ ...cmd, peerId: this.peerId, appId: this.appId });
  }
  _frame(cmd) {
    this._lastRecv = Date.now();
    const k = kind(cmd);
    if (k === "direct") return this._message(cmd);
    const p = cmd.i != null && REPLY.includes(k) && this._pending.get(cmd.i);
    this.emit("command", cmd);
    if (p) {
      if (k === "error") p.reject(Object.assign(new Error(cmd.reason || "error " + cmd.code), { code: cmd.code }));
      else if (k === "roomreject") p.reject(Object.assign(new Error("rejected by the server"), { code: "reject", peers: cmd.roomPeerIds }));
      else p.resolve(cmd);
    }
    const peers = cmd.sessionPeerIds || [];
    const group = { group: cmd.roomId, by: cmd.byPeerId, peers: cmd.roomPeerIds || [] };
    switch (k) {
      case "sessionadded":
        for (const x of cmd.onlineSessionPeerIds) this.online.add(x);
        this.emit("online", cmd.onlineSessionPeerIds);
        break;
      case "presence":
        for (const x of peers) cmd.status === "on" ? this.online.add(x) : this.online.delete(x);
        this.emit(cmd.status === "on" ? "online" : "offline", peers);
        break;
      case "rcp":
        this.emit("receipt", { id: cmd.id, timestamp: cmd.t, raw: cmd });
        break;
      case "roomjoined":
        this.groups.add(cmd.roomId);
        this.emit("joined", group);
        break;
      case "roomleft":
        this.groups.delete(cmd.roomId);
        this.emit("left", group);
        break;
      case "roommembers-joined":
        this.emit("membersJoined", group);
        break;
      case "roommembers-left":
        this.emit("membersLeft", group);
        break;
      case "error":
        if (!p) this.emit("error", Object.assign(new Error(cmd.reason), { code: cmd.code }));
        break;
    }
  }
  _message(cmd) {
    if (this.state !== "open") {
      if (this._early.push(cmd) > 1e3) this._early.shift();
      return;
    }
    if (cmd.id && !cmd.transient) this._ack(cmd.id);
    if (cmd.id && this._dedupe.seen(cmd.id)) return;
    this.emit("command", cmd);
    const m = {
      id: cmd.id,
      from: cmd.fromPeerId,
      text: cmd.msg,
      group: cmd.roomId,
      timestamp: cmd.timestamp,
      offline: !!cmd.offline,
      transient: !!cmd.transient,
      raw: cmd
    };
    if (!(this._on.message || []).length) {
      if (this._held.push(m) > 1e3) this._held.shift();
    } else this.emit("message", m);
  }
  on(name, fn) {
    super.on(name, fn);
    if (name === "message" && this._held.length) {
      queueMicrotask(() => {
        const held = this._held;
        this._held = [];
        for (const m of held) this.emit("message", m);
      });
    }
    return this;
  }
  // _ack acknowledges ids in one command per tick.
  _ack(id) {
    this._acks.push(id);
    if (this._acks.length > 1) return;
    queueMicrotask(() => {
      const ids = this._acks;
      this._acks = [];
      this.write({ cmd: "ack", ids });
    });
  }
  // send sends text to one peer or several. Persistent messages resolve
  // with {id, timestamp} once stored; transient ones resolve at once.
  // opts: {transient, receipt, id}. A persistent message carries a client
  // id (opts.id, random unless given); when the connection drops before
  // its ack, it is sent again on the next connection, and in the modern
  // dialects the server acks the repeat with the first message's id and
  // stores and delivers it once. In the v1 dialect (no de-duplication)
  // the send rejects instead.
  send(to, text, opts = {}) {
    return this._direct({ toPeerIds: list(to) }, text, opts);
  }
  sendToGroup(groupId, text, opts = {}) {
    return this._direct({ roomId: groupId }, text, opts);
  }
  async _direct(target, text, opts) {
    const cmd = { cmd: "direct", ...target, msg: String(text), transient: opts.transient || void 0, r: opts.receipt || void 0 };
    if (opts.transient) {
      if (this.state !== "open") await this._whenOpen();
      this.write(cmd);
      return {};
    }
    cmd.id = opts.id || clientId();
    const deadline = Date.now() + this.opts.requestTimeout;
    for (; ; ) {
      try {
        const ack = await this.request(cmd);
        return { id: ack.uid, timestamp: ack.t };
      } catch (err) {
        if (!err.lost || err.dialect === "v1" || this.state === "closed" || Date.now() > deadline) throw err;
      }
    }
  }
  // watch adds peers to the watch list; resolves with those online.
  async watch(peers) {
    const sig = await this.auth(this.peerId, list(peers), !!this.opts.sp);
    const ids = list(sig && sig.watchingPeerIds || peers);
    for (const p of ids) this.watching.add(p);
    const r = await this.request({ cmd: "session", op: "add", sessionPeerIds: ids, ...signature(sig) });
    return r.onlineSessionPeerIds;
  }
  async unwatch(peers) {
    for (const p of list(peers)) {
      this.watching.delete(p);
      this.online.delete(p);
    }
    await this.request({ cmd: "session", op: "remove", sessionPeerIds: list(peers) });
  }
  // query resolves with the peers of the list that are online (they need
  // not be watched).
  async query(peers) {
    return (await this.request({ cmd: "session", op: "query", sessionPeerIds: list(peers) })).onlineSessionPeerIds;
  }
  // createGroup creates a group (you are its first member); resolves with
  // its id. joinGroup joins an existing one.
  createGroup(opts = {}) {
    return this.joinGroup(void 0, opts);
  }
  async joinGroup(groupId, opts = {}) {
    const sig = await this.groupAuth(this.peerId, groupId || "", "join", []);
    const r = await this.request({ cmd: "room", op: "join", roomId: groupId, transient: opts.open || void 0, ...signature(sig) });
    return r.roomId;
  }
  async invite(groupId, peers) {
    return this._members("invite", groupId, peers);
  }
  async kick(groupId, peers) {
    return this._members("kick", groupId, peers);
  }
  async _members(op, groupId, peers) {
    const sig = await this.groupAuth(this.peerId, groupId, op, list(peers));
    const r = await this.request({ cmd: "room", op, roomId: groupId, roomPeerIds: list(sig && sig.groupPeerIds || peers), ...signature(sig) });
    return r.roomPeerIds;
  }
  async leaveGroup(groupId) {
    await this.request({ cmd: "room", op: "leave", roomId: groupId });
  }
  // history returns stored messages, newest first, through the REST API:
  // target is a peer id (the conversation with it) or {group: id}.
  // opts: {limit, maxTs, msgId}.
  async history(target, opts = {}) {
    const e = await this._endpoints();
    const conv = typeof target === "string" ? convId([this.peerId, target]) : target.group;
    let q = "convid=" + encodeURIComponent(conv);
    if (opts.limit) q += "&limit=" + opts.limit;
    if (opts.maxTs) q += "&max_ts=" + opts.maxTs;
    if (opts.msgId) q += "&msgid=" + encodeURIComponent(opts.msgId);
    const headers = { "X-LC-Id": this.appId };
    if (this.opts.appKey) headers["X-LC-Key"] = this.opts.appKey;
    const rows = await fetchJSON(e.http + "/1.1/rtm/messages/logs?" + q, { headers }, 1e4, this.opts.fetch);
    return rows.map((r) => ({ id: r["msg-id"], from: r.from, text: r.data, timestamp: r.timestamp, group: r["is-room"] ? r["conv-id"] : void 0, to: r.to }));
  }
  // close ends the session and the connection; no reconnection follows.
  async close() {
    const was = this.state;
    this.state = "closed";
    const conn = this.conn;
    if (conn && !conn.closed) {
      conn.send({ cmd: "session", op: "close", peerId: this.peerId, appId: this.appId });
      await sleep(20);
      conn.close();
    }
    clearTimeout(this._kaTimer);
    if (was !== "closed") this.emit("close", { code: 1e3, reason: "closed by the client" });
  }
};
function kind(c) {
  if (c.cmd == null) return "{}";
  return c.cmd === "session" || c.cmd === "room" ? c.cmd + c.op : c.cmd;
}
function signature(sig) {
  if (!sig) return {};
  const out = {};
  if (sig.s != null) out.s = String(sig.s);
  if (sig.t != null) out.t = String(sig.t);
  if (sig.n != null) out.n = String(sig.n);
  return out;
}
function connect(opts) {
  return new Client(opts).connect();
}

// src/avchat.js
var list2 = (x) => [].concat(x == null ? [] : x);
function AVChatClient(settings) {
  if (!(this instanceof AVChatClient)) return new AVChatClient(settings);
  if (!settings) throw new Error("settings");
  if (!settings.appId) throw new Error("settings.appId");
  if (!settings.peerId) throw new Error("settings.peerId");
  if (settings.auth && typeof settings.auth !== "function") throw new Error("sesstings.auth");
  if (settings.groupAuth && typeof settings.groupAuth !== "function") throw new Error("sesstings.groupAuth");
  const auth = settings.auth || ((peerId2, ids) => Promise.resolve({ watchingPeerIds: ids || [] }));
  const groupAuth = settings.groupAuth || ((peerId2, groupId, action, ids) => Promise.resolve({ groupPeerIds: ids || [] }));
  const emitter = new Emitter();
  const peerId = settings.peerId;
  let watching = list2(settings.watchingPeerIds);
  let client = null;
  let closeSent = false;
  const sig = (d) => ({ s: d && d.s, t: d && d.t != null ? String(d.t) : void 0, n: d && d.n != null ? String(d.n) : void 0 });
  function make() {
    const c = new Client({ reconnect: false, ...settings, watch: watching, auth, groupAuth });
    c.on("open", () => {
      closeSent = false;
    });
    c.on("command", (d) => {
      const k = d.cmd === "session" || d.cmd === "room" ? d.cmd + d.op : d.cmd;
      if (k === "sessionopened" || k === "sessionadded") emitter.emit("online", d.onlineSessionPeerIds);
      else if (k === "presence") emitter.emit(d.status === "on" ? "online" : "offline", d.sessionPeerIds);
      else if (k === "direct") emitter.emit("message", d);
      else if (k === "roommembers-joined") emitter.emit("membersJoined", d);
      else if (k === "roommembers-left") emitter.emit("membersLeft", d);
      else if (k === "roomjoined") emitter.emit("joined", d);
      else if (k === "roomleft") emitter.emit("left", d);
    });
    const closed = (e) => {
      if (!closeSent) {
        closeSent = true;
        emitter.emit("close", e);
      }
    };
    c.on("disconnect", closed);
    c.on("close", closed);
    return c;
  }
  const request = (cmd) => client ? client.request(cmd) : Promise.reject(new Error("not open"));
  this.open = function() {
    if (client && (client.state === "connecting" || client.state === "reconnecting")) return Promise.reject(0);
    if (client && client.state === "open") return Promise.resolve();
    client = make();
    return client.connect().then(() => client.opened);
  };
  this.close = function() {
    if (client) client.close();
    return Promise.resolve();
  };
  this.send = function(msg, to, transient) {
    const cmd = { cmd: "direct", msg, toPeerIds: list2(to), transient: transient === true || void 0 };
    if (cmd.transient) {
      if (client) client.write(cmd);
      return Promise.resolve();
    }
    return request(cmd);
  };
  this.on = function(name, fn) {
    emitter.on(name, fn);
  };
  this.watch = function(peers) {
    return auth(peerId, list2(peers)).then((d) => {
      const ids = list2(d.watchingPeerIds);
      for (const p of ids) {
        if (!watching.includes(p)) watching.push(p);
        if (client) client.watching.add(p);
      }
      return request({ cmd: "session", op: "add", sessionPeerIds: ids, ...sig(d) });
    });
  };
  this.unwatch = function(peers) {
    watching = watching.filter((p) => !list2(peers).includes(p));
    if (client) for (const p of list2(peers)) client.watching.delete(p);
    return request({ cmd: "session", op: "remove", sessionPeerIds: list2(peers) });
  };
  this.getStatus = function(peers) {
    return request({ cmd: "session", op: "query", sessionPeerIds: list2(peers) });
  };
  this.joinGroup = function(groupId) {
    return groupAuth(peerId, groupId, "join", []).then((d) => request({ cmd: "room", op: "join", roomId: groupId || void 0, ...sig(d) }));
  };
  this.sendToGroup = function(msg, groupId, transient) {
    const cmd = { cmd: "direct", msg, roomId: groupId, transient: transient === true || void 0 };
    if (cmd.transient) {
      if (client) client.write(cmd);
      return Promise.resolve();
    }
    return request(cmd);
  };
  this.inviteToGroup = function(groupId, groupPeerIds) {
    return groupAuth(peerId, groupId, "invite", list2(groupPeerIds)).then((d) => request({ cmd: "room", op: "invite", roomId: groupId, roomPeerIds: list2(d.groupPeerIds), ...sig(d) }));
  };
  this.kickFromGroup = function(groupId, groupPeerIds) {
    return groupAuth(peerId, groupId, "kick", list2(groupPeerIds)).then((d) => request({ cmd: "room", op: "kick", roomId: groupId, roomPeerIds: list2(groupPeerIds), ...sig(d) }));
  };
  this.leaveGroup = function(groupId) {
    return request({ cmd: "room", op: "leave", roomId: groupId });
  };
  Object.defineProperty(this, "client", { get: () => client });
  Object.defineProperty(this, "transport", { get: () => client && client.transport });
}

// src/index.js
var version = "0.1.0";
export {
  AVChatClient,
  Client,
  Dedupe,
  Emitter,
  FrameReader,
  MAX_FRAME,
  ORDER,
  ProtocolError,
  TRANSPORTS,
  backoff,
  certificateHashes,
  check,
  connect,
  convId,
  decode,
  encode,
  encodeFrame,
  fetchJSON,
  kindOf,
  md5,
  openLongPoll,
  openWebSocket,
  openWebTransport,
  ordered,
  readVarint,
  varint,
  version
};
