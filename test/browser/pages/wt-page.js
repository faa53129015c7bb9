// Raw WebTransport client for wt.html: no SDK. One bidirectional stream
// carries frames (QUIC varint length + msgpack body, spec/protocol.md
// "Stream framing"); datagrams carry one msgpack command each. Every frame
// sent or received is recorded in window.W.events with how it travelled:
// via 'stream', 'datagram' or 'sent'.
(function () {
  // ---- msgpack (the subset rtgate uses, decoder complete enough to skip
  // anything else) ----
  var te = new TextEncoder(), td = new TextDecoder();
  function encode(v) {
    var out = [];
    function u8(b) { out.push(b & 0xff); }
    function be(n, bytes) { for (var i = bytes - 1; i >= 0; i--) u8(Math.floor(n / Math.pow(2, 8 * i)) & 0xff); }
    function enc(v) {
      if (v === null || v === undefined) return u8(0xc0);
      if (v === true) return u8(0xc3);
      if (v === false) return u8(0xc2);
      if (typeof v === 'number') {
        if (Number.isInteger(v) && v >= 0) {
          if (v < 128) return u8(v);
          if (v < 256) { u8(0xcc); return be(v, 1); }
          if (v < 65536) { u8(0xcd); return be(v, 2); }
          if (v < 4294967296) { u8(0xce); return be(v, 4); }
          u8(0xcf); return be(v, 8);
        }
        if (Number.isInteger(v) && v >= -32) return u8(0xe0 | (v + 32));
        if (Number.isInteger(v) && v >= -2147483648) {
          u8(0xd2); var b4 = new DataView(new ArrayBuffer(4)); b4.setInt32(0, v);
          for (var k = 0; k < 4; k++) u8(b4.getUint8(k)); return;
        }
        u8(0xcb); var b8 = new DataView(new ArrayBuffer(8)); b8.setFloat64(0, v);
        for (var j = 0; j < 8; j++) u8(b8.getUint8(j)); return;
      }
      if (typeof v === 'string') {
        var s = te.encode(v), n = s.length;
        if (n < 32) u8(0xa0 | n); else if (n < 256) { u8(0xd9); be(n, 1); } else if (n < 65536) { u8(0xda); be(n, 2); } else { u8(0xdb); be(n, 4); }
        for (var i = 0; i < n; i++) u8(s[i]); return;
      }
      if (Array.isArray(v)) {
        if (v.length < 16) u8(0x90 | v.length); else if (v.length < 65536) { u8(0xdc); be(v.length, 2); } else { u8(0xdd); be(v.length, 4); }
        v.forEach(enc); return;
      }
      var keys = Object.keys(v).filter(function (k) { return v[k] !== undefined; });
      if (keys.length < 16) u8(0x80 | keys.length); else { u8(0xde); be(keys.length, 2); }
      keys.forEach(function (k) { enc(k); enc(v[k]); });
    }
    enc(v);
    return new Uint8Array(out);
  }
  function decode(bytes) {
    var dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), p = 0;
    function need(n) { if (p + n > bytes.length) throw new Error('msgpack: truncated'); }
    function uint(n) { need(n); var v = 0; for (var i = 0; i < n; i++) v = v * 256 + bytes[p++]; return v; }
    function str(n) { need(n); var s = td.decode(bytes.subarray(p, p + n)); p += n; return s; }
    function bin(n) { need(n); var b = bytes.slice(p, p + n); p += n; return b; }
    function arr(n) { var a = []; for (var i = 0; i < n; i++) a.push(dec()); return a; }
    function map(n) { var o = {}; for (var i = 0; i < n; i++) { var k = dec(); o[k] = dec(); } return o; }
    function dec() {
      need(1);
      var b = bytes[p++], v;
      if (b < 0x80) return b;
      if (b >= 0xe0) return b - 256;
      if ((b & 0xf0) === 0x80) return map(b & 0x0f);
      if ((b & 0xf0) === 0x90) return arr(b & 0x0f);
      if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
      switch (b) {
        case 0xc0: return null;
        case 0xc2: return false;
        case 0xc3: return true;
        case 0xc4: return bin(uint(1));
        case 0xc5: return bin(uint(2));
        case 0xc6: return bin(uint(4));
        case 0xc7: v = uint(1); uint(1); return bin(v);
        case 0xc8: v = uint(2); uint(1); return bin(v);
        case 0xc9: v = uint(4); uint(1); return bin(v);
        case 0xca: need(4); v = dv.getFloat32(p); p += 4; return v;
        case 0xcb: need(8); v = dv.getFloat64(p); p += 8; return v;
        case 0xcc: return uint(1);
        case 0xcd: return uint(2);
        case 0xce: return uint(4);
        case 0xcf: need(8); v = Number(dv.getBigUint64(p)); p += 8; return v;
        case 0xd0: need(1); v = dv.getInt8(p); p += 1; return v;
        case 0xd1: need(2); v = dv.getInt16(p); p += 2; return v;
        case 0xd2: need(4); v = dv.getInt32(p); p += 4; return v;
        case 0xd3: need(8); v = Number(dv.getBigInt64(p)); p += 8; return v;
        case 0xd4: uint(1); return bin(1);
        case 0xd5: uint(1); return bin(2);
        case 0xd6: uint(1); return bin(4);
        case 0xd7: uint(1); return bin(8);
        case 0xd8: uint(1); return bin(16);
        case 0xd9: return str(uint(1));
        case 0xda: return str(uint(2));
        case 0xdb: return str(uint(4));
        case 0xdc: return arr(uint(2));
        case 0xdd: return arr(uint(4));
        case 0xde: return map(uint(2));
        case 0xdf: return map(uint(4));
      }
      throw new Error('msgpack: bad byte 0x' + b.toString(16));
    }
    var r = dec();
    if (p !== bytes.length) throw new Error('msgpack: trailing bytes');
    return r;
  }
  // ---- QUIC varint framing ----
  function frame(cmd) {
    var body = encode(cmd), n = body.length, head;
    if (n < 64) head = [n];
    else if (n < 16384) head = [0x40 | (n >> 8), n & 0xff];
    else head = [0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    var out = new Uint8Array(head.length + n);
    out.set(head, 0); out.set(body, head.length);
    return out;
  }
  function hexToBytes(hex) {
    var b = new Uint8Array(hex.length / 2);
    for (var i = 0; i < b.length; i++) b[i] = parseInt(hex.substr(2 * i, 2), 16);
    return b;
  }

  var W = { events: [], errors: [], wt: null, writer: null, closed: null };
  function show(via, cmd) {
    var tr = document.createElement('tr'); tr.className = via;
    var a = document.createElement('td'); a.className = 'via'; a.textContent = via;
    var b = document.createElement('td'); b.textContent = JSON.stringify(cmd);
    tr.appendChild(a); tr.appendChild(b);
    document.getElementById('log').appendChild(tr);
  }
  function record(via, cmd) { W.events.push({ via: via, cmd: cmd, at: Date.now() }); show(via, cmd); }

  async function readStream(reader) {
    var buf = new Uint8Array(0);
    for (;;) {
      var r = await reader.read();
      if (r.done) { record('stream-end', {}); return; }
      var nb = new Uint8Array(buf.length + r.value.length);
      nb.set(buf, 0); nb.set(r.value, buf.length); buf = nb;
      for (;;) {
        if (buf.length < 1) break;
        var len = 1 << (buf[0] >> 6);
        if (buf.length < len) break;
        var n = buf[0] & 0x3f;
        for (var i = 1; i < len; i++) n = n * 256 + buf[i];
        if (buf.length < len + n) break;
        record('stream', decode(buf.subarray(len, len + n)));
        buf = buf.slice(len + n);
      }
    }
  }
  async function readDatagrams(reader) {
    for (;;) {
      var r = await reader.read();
      if (r.done) return;
      record('datagram', decode(new Uint8Array(r.value)));
    }
  }

  // connect opens the WebTransport session and its one bidi stream.
  W.connect = async function (url, sha256hex) {
    var wt = new WebTransport(url, { serverCertificateHashes: [{ algorithm: 'sha-256', value: hexToBytes(sha256hex) }] });
    W.wt = wt;
    W.closed = wt.closed.then(function (i) { record('closed', i || {}); }, function (e) { record('closed', { error: String(e) }); });
    await wt.ready;
    readDatagrams(wt.datagrams.readable.getReader()).catch(function (e) { W.errors.push('datagrams: ' + e); });
    var bs = await wt.createBidirectionalStream();
    W.writer = bs.writable.getWriter();
    readStream(bs.readable.getReader()).catch(function (e) { W.errors.push('stream: ' + e); });
    document.getElementById('status').textContent = 'connected to ' + url + ' (maxDatagramSize ' + wt.datagrams.maxDatagramSize + ')';
    return { maxDatagramSize: wt.datagrams.maxDatagramSize };
  };
  W.send = async function (cmd) {
    await W.writer.write(frame(cmd));
    record('sent', cmd);
  };
  W.close = async function () {
    try { await W.writer.close(); } catch (e) {}
    W.wt.close({ closeCode: 0, reason: 'done' });
    await W.closed;
  };
  // exported for a self-check from the test
  W.encode = function (v) { return Array.from(encode(v)); };
  W.decode = function (a) { return decode(new Uint8Array(a)); };
  window.W = W;
})();
