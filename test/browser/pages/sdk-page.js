// Test glue for sdk.html: RTGate.Client instances; every event recorded in
// window.S.events (and shown in the table).
(function () {
  var S = { events: [], clients: {} };
  function show(ev, data) {
    var tr = document.createElement('tr');
    var a = document.createElement('td'); a.className = 'ev'; a.textContent = ev;
    var b = document.createElement('td'); b.textContent = JSON.stringify(data);
    tr.appendChild(a); tr.appendChild(b);
    document.getElementById('log').appendChild(tr);
  }
  function record(name, ev, data) {
    var copy = data && data.raw ? Object.assign({}, data, { raw: undefined }) : data;
    S.events.push({ client: name, ev: ev, data: copy, at: Date.now() });
    show(name + ' ' + ev, copy);
  }
  // connect(name, opts): a new client, connected; resolves {transport, dialect, ms}.
  S.connect = async function (name, opts) {
    var c = new RTGate.Client(opts);
    S.clients[name] = c;
    ['open', 'online', 'offline', 'message', 'disconnect', 'reconnecting', 'reconnect', 'close',
      'joined', 'left', 'membersJoined', 'membersLeft', 'receipt', 'error'].forEach(function (ev) {
      c.on(ev, function (d) { record(name, ev, d === undefined ? null : d); });
    });
    var t0 = performance.now();
    await c.connect();
    var ms = Math.round(performance.now() - t0);
    document.getElementById('status').textContent = name + ' connected over ' + c.transport + ' in ' + ms + ' ms';
    record(name, 'connected', { transport: c.transport, dialect: c.conn && c.conn.dialect, ms: ms });
    return { transport: c.transport, dialect: c.conn && c.conn.dialect, ms: ms };
  };
  S.call = async function (name, method, args) {
    try {
      var r = await S.clients[name][method].apply(S.clients[name], args);
      record(name, method + ' ok', r === undefined ? null : r);
      return r === undefined ? null : r;
    } catch (e) {
      record(name, method + ' failed', String(e && e.message || e));
      throw e;
    }
  };
  window.S = S;
})();
