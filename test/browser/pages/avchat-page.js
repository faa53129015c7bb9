// Test glue for avchat.html: one AVChatClient per page; every event it
// emits is recorded in window.T.events and shown in the table.
(function () {
  var T = { events: [], client: null };
  function show(ev, data) {
    var tr = document.createElement('tr');
    var a = document.createElement('td'); a.className = 'ev'; a.textContent = ev;
    var b = document.createElement('td'); b.textContent = JSON.stringify(data);
    tr.appendChild(a); tr.appendChild(b);
    document.getElementById('log').appendChild(tr);
  }
  function record(ev, data) {
    T.events.push({ ev: ev, data: data, at: Date.now() });
    show(ev, data);
  }
  T.create = function (peerId, watching) {
    T.client = new AVChatClient({ appId: 'dev', peerId: peerId, watchingPeerIds: watching });
    ['online', 'offline', 'message', 'joined', 'left', 'membersJoined', 'membersLeft'].forEach(function (ev) {
      T.client.on(ev, function (data) { record(ev, data); });
    });
    T.client.on('close', function (e) { record('close', { code: e && e.code }); });
    document.getElementById('who').textContent = 'peer ' + peerId + ', watching ' + JSON.stringify(watching);
  };
  // call runs a client method and records its outcome (the reply frame).
  T.call = function (method, args) {
    return T.client[method].apply(T.client, args).then(function (reply) {
      record(method + ' ok', reply === undefined ? null : reply);
      return reply === undefined ? null : reply;
    }, function (err) {
      record(method + ' failed', String(err));
      throw new Error(method + ' failed: ' + err);
    });
  };
  window.T = T;
})();
