// wharf web app: progressive enhancement of the server-rendered page.
// Without this script every form still works (it posts and the server
// redirects back), in the lobby. With it, forms go to the JSON API, the
// chat has rooms, direct messages, notifications and an online list with
// history on join and recovery after a reconnect, server statistics arrive
// live, and the dashboard draws charts. No dependencies, no build step.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const SVG = 'http://www.w3.org/2000/svg';

  const body = document.body;
  let me = body.dataset.user ? { user_id: Number(body.dataset.userId), username: body.dataset.user } : null;
  const hasStats = body.dataset.stats === 'true';
  let lobby = body.dataset.lobby || 'room:lobby';
  const wsPath = body.dataset.ws || ''; // the packet protocol over WebSocket, when the server offers it

  // ---------------------------------------------------------------- API

  async function api(path, payload) {
    let res;
    try {
      res = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify(payload || {}),
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new Error('Cannot reach the server. Check your connection and try again.');
    }
    let data = {};
    try { data = await res.json(); } catch (e) { /* not JSON: use the status */ }
    if (!res.ok || data.ok === false) {
      const err = new Error(capitalize(data.error || ('request failed (HTTP ' + res.status + ')')));
      err.status = res.status;
      err.reason = data.reason;
      throw err;
    }
    return data;
  }

  function capitalize(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  // ---------------------------------------------------------------- the live channel

  // sseLive is the page's live channel to the server: events pushed to the
  // page (publication, join, leave, direct, stats, logout) and channel
  // requests (subscribe, unsubscribe, publish, direct, presence, history),
  // with the JSON bodies of packet/SPEC.md section 8. Here the events come
  // over Server-Sent Events (/api/events) and the requests are POSTs to
  // /api/channels/. A WebSocket live channel (binary packets, codes 9 to
  // 18) is the same object with another connect and request: nothing else
  // in the page changes. on has: state(name), hello(data), event(name,
  // data), logout().
  function sseLive(on) {
    let es = null;
    let stream = null; // the stream's id, from its hello: subscriptions belong to it
    let retryTimer = 0;
    const self = {
      connect() {
        self.close();
        on.state('connecting');
        es = new EventSource('/api/events');
        const src = es;
        es.addEventListener('open', () => on.state('live'));
        es.addEventListener('error', () => {
          if (src !== es) return;
          stream = null;
          if (es.readyState === EventSource.CLOSED) {
            // Refused (503: too many viewers, or shutting down): try later.
            on.state('offline');
            retryTimer = setTimeout(self.connect, 5000);
          } else {
            on.state('reconnecting'); // EventSource reconnects; a new hello follows
          }
        });
        es.addEventListener('hello', (e) => {
          const d = JSON.parse(e.data);
          stream = d.stream;
          on.hello(d);
        });
        for (const name of ['publication', 'join', 'leave', 'direct', 'stats']) {
          es.addEventListener(name, (e) => on.event(name, JSON.parse(e.data)));
        }
        es.addEventListener('logout', () => on.logout());
      },
      close() {
        clearTimeout(retryTimer);
        if (es) { es.close(); es = null; }
        stream = null;
      },
      // request resolves to the reply body ({"ok": true, ...} or {"ok":
      // false, "reason", "error"}); it rejects when the server cannot be
      // reached or refuses outright (a rate limit).
      async request(op, req) {
        if (op === 'subscribe' || op === 'unsubscribe') req = Object.assign({ stream: stream }, req);
        let res;
        try {
          res = await fetch('/api/channels/' + op, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
            body: JSON.stringify(req),
            credentials: 'same-origin',
          });
        } catch (e) {
          throw new Error('Cannot reach the server. Check your connection and try again.');
        }
        let data = {};
        try { data = await res.json(); } catch (e) { /* not JSON */ }
        if (typeof data.ok !== 'boolean' || res.status === 429) {
          throw new Error(capitalize(data.error || ('request failed (HTTP ' + res.status + ')')));
        }
        return data;
      },
    };
    return self;
  }

  // wsLive is the live channel over WebSocket: the packet protocol itself
  // (packet/SPEC.md: 8-byte header, CRC-32, subprotocol wharf.packet.v1),
  // with the same events and requests as sseLive, which it replaces for a
  // logged-in page when the server serves /ws. The connection logs in with
  // a token the server derives from the page's session (the cookie stays
  // HttpOnly), so it ends with the session.
  const WS_CODES = { subscribe: 9, unsubscribe: 10, publish: 11, presence: 15, history: 16, direct: 17 };
  const WS_PUSHES = { 12: 'publication', 13: 'join', 14: 'leave', 18: 'direct' };
  const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();
  function crc32(b) {
    let c = 0xFFFFFFFF;
    for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xFF] ^ (c >>> 8);
    return (c ^ 0xFFFFFFFF) >>> 0;
  }
  const utf8 = new TextEncoder();
  const fromUTF8 = new TextDecoder();
  function packetOf(code, obj) {
    const bodyBytes = obj === undefined ? new Uint8Array(0) : utf8.encode(JSON.stringify(obj));
    const p = new Uint8Array(8 + bodyBytes.length);
    const v = new DataView(p.buffer);
    v.setUint16(0, p.length);
    v.setUint16(2, code);
    v.setUint32(4, bodyBytes.length ? crc32(bodyBytes) : 0);
    p.set(bodyBytes, 8);
    return p;
  }

  function wsLive(on) {
    let ws = null;
    let ticket = null;     // {token, expires}: reused across reconnections
    let pending = {};      // code -> [{resolve, reject}], oldest first: replies come in order per code
    let pingTimer = 0, retryTimer = 0, backoff = 1000;
    let closed = true;
    function failPending(err) {
      for (const code in pending) for (const w of pending[code]) w.reject(err);
      pending = {};
    }
    function send(code, obj) {
      return new Promise((resolve, reject) => {
        if (!ws || ws.readyState !== WebSocket.OPEN) {
          reject(new Error('Not connected to the server. Try again in a moment.'));
          return;
        }
        (pending[code] = pending[code] || []).push({ resolve: resolve, reject: reject });
        ws.send(packetOf(code, obj));
      });
    }
    function onPacket(code, text) {
      const d = text ? JSON.parse(text) : {};
      if (code === 0) return; // our ping's answer
      if (code === 1) { // an error reply, or a notice (shutdown)
        const w = pending[d.code] && pending[d.code].shift();
        if (w) w.reject(new Error(capitalize(d.error || 'refused')));
        return;
      }
      if (WS_PUSHES[code]) { on.event(WS_PUSHES[code], d); return; }
      if (code === 19) { self.close(); on.logout(); return; } // the login ended
      if (code === 8) return; // chat of codes 7 and 8: the page uses channels
      const w = pending[code] && pending[code].shift();
      if (w) w.resolve(d);
    }
    async function getTicket() {
      if (ticket && ticket.expires > Date.now() + 5000) return ticket;
      ticket = await api('/api/channels/ticket');
      return ticket;
    }
    const self = {
      connect() {
        self.close();
        closed = false;
        on.state('connecting');
        getTicket().then(open, (e) => {
          if (e.status === 401) { on.logout(); return; }
          retry();
        });
      },
      close() {
        closed = true;
        clearTimeout(retryTimer);
        clearInterval(pingTimer);
        if (ws) { ws.onclose = null; ws.close(); ws = null; }
        failPending(new Error('The connection was closed.'));
      },
      async request(op, req) {
        return send(WS_CODES[op], req);
      },
    };
    function retry() {
      if (closed) return;
      on.state('reconnecting');
      retryTimer = setTimeout(self.connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
    function open(t) {
      if (closed) return;
      const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + wsPath;
      ws = new WebSocket(url, 'wharf.packet.v1');
      ws.binaryType = 'arraybuffer';
      const sock = ws;
      sock.onmessage = (e) => {
        const b = new Uint8Array(e.data);
        const v = new DataView(e.data);
        for (let off = 0; off + 8 <= b.length;) { // whole packets, one or more a message
          const n = v.getUint16(off);
          if (n < 8 || off + n > b.length) break;
          onPacket(v.getUint16(off + 2), n > 8 ? fromUTF8.decode(b.subarray(off + 8, off + n)) : '');
          off += n;
        }
      };
      sock.onclose = () => {
        if (sock !== ws) return;
        ws = null;
        clearInterval(pingTimer);
        failPending(new Error('Connection lost. Try again in a moment.'));
        retry();
      };
      sock.onopen = async () => {
        try {
          const r = await send(6, { token: t.token });
          if (!r.ok) { ticket = null; throw new Error(r.error); }
          backoff = 1000;
          on.state('live');
          // A packet ping well within the server's idle timeout.
          pingTimer = setInterval(() => { if (sock.readyState === WebSocket.OPEN) sock.send(packetOf(0)); }, 20000);
          on.hello({ user: { user_id: r.user_id, username: r.name }, stats: false, lobby: lobby });
        } catch (e) {
          ticket = null;
          sock.close();
        }
      };
    }
    return self;
  }

  // liveChannel is the one place that picks the page's live channel:
  // WebSocket (the packet protocol) for a logged-in page when the server
  // serves it, Server-Sent Events and POSTs otherwise (a visitor not logged
  // in, the operators' page, a server without /ws). The rest of the page
  // sees connect, close and request only.
  function liveChannel(on) {
    let impl = null;
    return {
      connect() {
        if (impl) impl.close();
        impl = (me && wsPath && window.WebSocket) ? wsLive(on) : sseLive(on);
        impl.connect();
      },
      close() { if (impl) impl.close(); },
      request(op, req) {
        if (!impl) return Promise.reject(new Error('Not connected to the server.'));
        return impl.request(op, req);
      },
    };
  }

  // ---------------------------------------------------------------- messages to the user

  const flashEl = $('#flash');
  function flash(text, kind) {
    flashEl.textContent = text || '';
    flashEl.className = 'flash' + (text ? ' flash-' + (kind || 'ok') : '');
  }

  const connEl = $('#conn-status');
  function setConn(state) {
    const labels = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline' };
    connEl.textContent = labels[state] || '';
    connEl.dataset.state = state;
  }

  // ---------------------------------------------------------------- forms

  // enhance submits form to the JSON API with fn instead of posting it.
  function enhance(form, fn) {
    if (!form) return;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const errEl = $('.form-error', form) || $('#' + form.id.replace('-form', '-error'));
      const btn = $('button[type=submit]', form);
      if (errEl) errEl.textContent = '';
      if (btn.disabled) return;
      btn.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        await fn(Object.fromEntries(new FormData(form)), form);
      } catch (e) {
        if (errEl) errEl.textContent = e.message; else flash(e.message, 'error');
      } finally {
        btn.disabled = false;
        form.removeAttribute('aria-busy');
      }
    });
  }

  enhance($('#register-form'), async (v, form) => {
    const r = await api('/api/register', { username: v.username, password: v.password });
    form.reset();
    flash('Account ' + v.username + ' created (user #' + r.user_id + '). You can log in now.', 'ok');
    $('#login-username').value = v.username;
    $('#login-error').textContent = '';
    $('#login-password').focus();
  });

  enhance($('#login-form'), async (v, form) => {
    const r = await api('/api/login', { username: v.username, password: v.password });
    form.reset();
    flash('', '');
    setUser({ user_id: r.user_id, username: r.username }, true);
    $('#say-text').focus();
  });

  enhance($('#logout-form'), async () => {
    // The server ends this session's live view with a logout event; close
    // it first so that the event is not taken for an expiry.
    live.close();
    await namesSettled();
    try {
      await api('/api/logout');
    } catch (e) {
      live.connect();
      throw e;
    }
    setUser(null, true);
    flash('You are logged out.', 'ok');
    $('#login-username').focus();
  });

  const sayText = $('#say-text');
  enhance($('#say-form'), async (v) => {
    const text = v.text;
    if (!text.trim()) throw new Error('Write something first.');
    await send(text);
    sayText.value = '';
    sayText.focus();
  });
  sayText.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('#say-form').requestSubmit();
    }
  });

  enhance($('#join-form'), async (v, form) => {
    const name = (v.room || '').trim().replace(/^room:/, '');
    if (!/^[A-Za-z0-9_.\-\/=@+]{1,100}$/.test(name)) {
      throw new Error('A room name is letters, digits and _ . - / = @ +');
    }
    const c = conv('room:' + name);
    form.reset();
    select(c.key);
    if (!c.subscribed) await subscribe(c);
  });

  // setUser switches between the logged-out and the chat views.
  function setUser(u, reconnect) {
    const was = me ? me.user_id : null;
    me = u;
    $('#auth').hidden = !!u;
    $('#chat').hidden = !u;
    $('#who').hidden = !u;
    $('#who-name').textContent = u ? u.username : '';
    if (u) { body.dataset.user = u.username; body.dataset.userId = String(u.user_id); } else { delete body.dataset.user; delete body.dataset.userId; }
    if (!u || was !== u.user_id) resetChat();
    if (reconnect) live.connect();
  }

  // ---------------------------------------------------------------- chat

  // A conversation is a room (a channel of the "room" namespace), the
  // user's notifications (its personal channel "user:<id>", which only the
  // application's backend publishes to) or direct messages with one user
  // ("@<id>"). Rooms and notifications are subscriptions: on (re)connecting
  // the page subscribes with the position of the last publication it
  // showed, and either receives what it missed (recovered) or reloads the
  // history. Direct messages are not kept by the server.
  const convs = new Map(); // key -> conversation
  let current = lobby;
  const MAX_MESSAGES = 500;

  function conv(key) {
    let c = convs.get(key);
    if (c) return c;
    c = { key: key, msgs: [], keys: new Set(), unread: 0, subscribed: false, pos: null, members: new Map() };
    if (key.startsWith('@')) {
      c.kind = 'dm';
      c.user = key.slice(1);
    } else if (key.startsWith('user:')) {
      c.kind = 'notes';
      c.channel = key;
    } else {
      c.kind = 'room';
      c.channel = key;
    }
    convs.set(key, c);
    renderConvs();
    return c;
  }

  function resetChat() {
    convs.clear();
    current = lobby;
    list.replaceChildren();
    empty.hidden = false;
    renderConvs();
    renderOnline();
  }

  const list = $('#messages');
  const empty = $('#empty');
  const chatBody = $('#chat-body');
  $('#convs').hidden = false;
  chatBody.classList.add('has-convs');

  // The page was rendered with the lobby's recent messages for viewers
  // without the script; the lobby's subscription replaces them.
  let serverRendered = true;
  for (const li of $$('li.msg', list)) {
    const t = $('time', li);
    const ts = Number(li.dataset.ts);
    t.textContent = clock(ts);
    t.title = new Date(ts).toLocaleString();
  }
  scrollToEnd(true);

  function clock(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function nearEnd() { return list.scrollHeight - list.scrollTop - list.clientHeight < 60; }
  function scrollToEnd(force) { if (force || nearEnd()) list.scrollTop = list.scrollHeight; }

  // ---- names: publications and presence carry user IDs.
  const names = new Map(); // user ID -> display name
  const wanted = new Set();
  let namesTimer = 0;
  let namesInFlight = Promise.resolve(); // the fetchNames running, if any
  // namesSettled stops asking for names and waits for a request already
  // sent, so that logging out does not race it into a 401.
  function namesSettled() {
    clearTimeout(namesTimer);
    wanted.clear();
    return namesInFlight;
  }
  function nameOf(id) {
    if (!id) return 'server';
    if (me && id === String(me.user_id)) return me.username;
    const n = names.get(id);
    if (n) return n;
    if (!wanted.has(id)) {
      wanted.add(id);
      clearTimeout(namesTimer);
      namesTimer = setTimeout(() => { namesInFlight = fetchNames(); }, 20);
    }
    return 'user ' + id;
  }
  async function fetchNames() {
    const ids = Array.from(wanted).slice(0, 200);
    ids.forEach((id) => wanted.delete(id));
    if (!ids.length || !me) return;
    try {
      const res = await fetch('/api/names?ids=' + encodeURIComponent(ids.join(',')), { credentials: 'same-origin' });
      const data = await res.json();
      for (const id of ids) names.set(id, (data.names && data.names[id]) || id);
    } catch (e) {
      return; // shown by ID; a later message asks again
    }
    renderMessages();
    renderConvs();
    renderOnline();
  }

  // textOf is what a message shows of a publication's data.
  function textOf(data) {
    if (data && typeof data === 'object' && typeof data.text === 'string') return data.text;
    return JSON.stringify(data);
  }

  // addMessage adds m ({key, from, ts, text}) to c once, and shows it if c
  // is the conversation on screen.
  function addMessage(c, m) {
    if (c.keys.has(m.key)) return;
    c.keys.add(m.key);
    let i = c.msgs.length;
    while (i > 0 && c.msgs[i - 1].ts > m.ts) i--;
    c.msgs.splice(i, 0, m);
    while (c.msgs.length > MAX_MESSAGES) c.keys.delete(c.msgs.shift().key);
    if (c.key === current) {
      if (serverRendered) { serverRendered = false; list.replaceChildren(); }
      const stick = nearEnd();
      const before = list.children[i] || null;
      list.insertBefore(renderMessage(m), before);
      while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove();
      empty.hidden = true;
      if (stick) scrollToEnd(true);
    } else {
      c.unread++;
      renderConvs();
    }
  }

  function renderMessage(m) {
    const li = document.createElement('li');
    const mine = me && m.from === String(me.user_id);
    li.className = 'msg' + (mine ? ' mine' : '');
    li.dataset.ts = String(m.ts);
    li.dataset.from = m.from || '';
    const meta = document.createElement('div');
    meta.className = 'meta';
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = nameOf(m.from);
    const time = document.createElement('time');
    time.dateTime = new Date(m.ts).toISOString();
    time.textContent = clock(m.ts);
    time.title = new Date(m.ts).toLocaleString();
    meta.append(from, ' ', time);
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = m.text; // never innerHTML: messages are user input
    li.append(meta, text);
    return li;
  }

  function renderMessages() {
    const c = convs.get(current);
    if (!c || (serverRendered && !c.msgs.length)) return;
    serverRendered = false;
    list.replaceChildren(...c.msgs.map(renderMessage));
    empty.hidden = c.msgs.length > 0;
    empty.textContent = c.kind === 'dm' ? 'No messages yet. Say hello!' :
      c.kind === 'notes' ? 'Nothing yet: the application sends notifications here.' : 'No messages yet. Say hello!';
    scrollToEnd(true);
  }

  // ---- the conversation list and the online list.
  function title(c) {
    if (c.kind === 'dm') return nameOf(c.user);
    if (c.kind === 'notes') return 'Notifications';
    return c.channel.replace(/^room:/, '');
  }

  function convButton(c) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'conv-btn';
    b.dataset.conv = c.key;
    if (c.key === current) b.setAttribute('aria-current', 'true');
    const n = document.createElement('span');
    n.className = 'conv-name';
    n.textContent = (c.kind === 'room' ? '# ' : '') + title(c);
    b.append(n);
    if (c.unread > 0) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = c.unread > 99 ? '99+' : String(c.unread);
      badge.setAttribute('aria-label', c.unread + ' unread');
      b.append(badge);
    }
    b.addEventListener('click', () => select(c.key));
    li.append(b);
    if (c.kind === 'room' && c.key !== lobby) {
      const x = document.createElement('button');
      x.type = 'button';
      x.className = 'leave-btn';
      x.textContent = '×';
      x.title = 'Leave ' + title(c);
      x.setAttribute('aria-label', 'Leave ' + title(c));
      x.addEventListener('click', () => leave(c));
      li.append(x);
    }
    return li;
  }

  function renderConvs() {
    const rooms = [], dms = [];
    for (const c of convs.values()) (c.kind === 'dm' ? dms : rooms).push(c);
    rooms.sort((a, b) => (a.key === lobby ? -1 : b.key === lobby ? 1 : a.kind === b.kind ? a.key.localeCompare(b.key) : a.kind === 'notes' ? 1 : -1));
    $('#room-list').replaceChildren(...rooms.map(convButton));
    $('#dm-list').replaceChildren(...dms.map(convButton));
    $('#dm-empty').hidden = dms.length > 0;
    const c = convs.get(current);
    const t = $('#conv-title');
    t.hidden = !c;
    if (c) {
      t.textContent = c.kind === 'room' ? '# ' + title(c) : c.kind === 'dm' ? 'Direct messages with ' + title(c) : 'Notifications';
    }
    $('#say-form').hidden = !!c && c.kind === 'notes';
    sayText.placeholder = c && c.kind === 'dm' ? 'Write to ' + title(c) + '…' : c ? 'Write to # ' + title(c) + '…' : 'Write a message…';
  }

  function renderOnline() {
    const c = convs.get(current);
    const room = c && c.kind === 'room' ? c : convs.get(lobby);
    $('#online-title').textContent = room ? 'Online in # ' + title(room) : 'Online';
    const items = [];
    if (room) {
      const users = Array.from(room.members.keys()).sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
      for (const id of users) {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'person';
        b.dataset.user = id;
        b.textContent = nameOf(id);
        if (me && id === String(me.user_id)) {
          b.classList.add('me');
          b.disabled = true;
          b.textContent += ' (you)';
        } else {
          b.title = 'Write to ' + nameOf(id);
          b.addEventListener('click', () => { select('@' + id); sayText.focus(); });
        }
        li.append(b);
        items.push(li);
      }
    }
    $('#online').replaceChildren(...items);
  }

  function select(key) {
    const c = conv(key);
    current = key;
    c.unread = 0;
    serverRendered = false;
    renderConvs();
    renderMessages();
    if (c.kind === 'room' && c.subscribed) presence(c);
    renderOnline();
  }

  // ---- requests.
  async function send(text) {
    const c = convs.get(current) || conv(lobby);
    if (c.kind === 'dm') {
      const r = await live.request('direct', { user: c.user, data: { text: text } });
      if (!r.ok) throw new Error(capitalize(r.error));
      // The server does not echo a direct message to its sender.
      addMessage(c, { key: 'sent:' + Date.now() + ':' + Math.random(), from: String(me.user_id), ts: Date.now(), text: text });
      return;
    }
    const r = await live.request('publish', { channel: c.channel, data: { text: text } });
    if (!r.ok) throw new Error(capitalize(r.error));
  }

  // subscribe subscribes to c's channel, recovering from the last
  // publication shown; if that is not possible (first visit, a restart, a
  // long absence) it shows the history instead.
  async function subscribe(c) {
    const req = { channel: c.channel, recover: true };
    if (c.kind === 'room') req.join_leave = true;
    if (c.pos) { req.offset = c.pos.offset; req.epoch = c.pos.epoch; }
    let r = await live.request('subscribe', req);
    if (!r.ok && r.reason === 'no_join_leave') { // a room namespace without the events
      delete req.join_leave;
      r = await live.request('subscribe', req);
    }
    if (!r.ok && r.reason !== 'already_subscribed') throw new Error(capitalize(r.error));
    c.subscribed = true;
    if (!r.recovered) await history(c);
    if (c.kind === 'room') await presence(c);
  }

  async function history(c) {
    const r = await live.request('history', { channel: c.channel, limit: 50 });
    if (!r.ok) return; // a namespace without history
    // A resync: what was shown from another epoch is gone.
    for (const m of c.msgs.slice()) {
      if (m.epoch && m.epoch !== r.epoch) {
        c.msgs.splice(c.msgs.indexOf(m), 1);
        c.keys.delete(m.key);
      }
    }
    for (const p of r.publications || []) publication(c, Object.assign({ epoch: r.epoch }, p), true);
    if (!c.pos || c.pos.epoch !== r.epoch) c.pos = r.offset ? { offset: r.offset, epoch: r.epoch } : null;
    if (c.key === current) renderMessages();
  }

  async function presence(c) {
    const r = await live.request('presence', { channel: c.channel });
    c.members = new Map();
    if (r.ok) for (const m of r.members || []) c.members.set(m.user, m.conns);
    renderOnline();
  }

  async function leave(c) {
    try {
      await live.request('unsubscribe', { channel: c.channel });
    } catch (e) {
      flash(e.message, 'error');
      return;
    }
    convs.delete(c.key);
    if (current === c.key) select(lobby); else renderConvs();
  }

  // publication shows p, a publication of c (a push, or from history),
  // and keeps c's position; a gap in the offsets means a message was lost
  // on the way: subscribe again to recover it.
  function publication(c, p, fromHistory) {
    const key = p.offset ? p.epoch + ':' + p.offset : p.ts + ':' + p.from + ':' + JSON.stringify(p.data);
    addMessage(c, { key: key, from: p.from || '', ts: p.ts, text: textOf(p.data), epoch: p.epoch });
    if (!p.offset) return;
    if (!fromHistory && c.pos && c.pos.epoch === p.epoch && p.offset > c.pos.offset + 1 && c.subscribed) {
      c.subscribed = false;
      live.request('unsubscribe', { channel: c.channel }).then(() => subscribe(c)).catch((e) => flash(e.message, 'error'));
      return;
    }
    if (!c.pos || c.pos.epoch !== p.epoch || p.offset > c.pos.offset) c.pos = { offset: p.offset, epoch: p.epoch };
  }

  // ---------------------------------------------------------------- live events

  const live = liveChannel({
    state: setConn,
    hello(d) {
      if (d.lobby && d.lobby !== lobby) { lobby = d.lobby; resetChat(); }
      if (!d.user && me) {
        setUser(null, false);
        flash('Your session has ended. Log in again.', 'error');
      } else if (d.user && (!me || me.user_id !== d.user.user_id)) {
        setUser(d.user, false);
      }
      if (!me) return;
      // A new stream has no subscriptions: (re)subscribe everything shown.
      conv(lobby);
      conv('user:' + me.user_id);
      for (const c of convs.values()) {
        if (!c.channel) continue;
        c.subscribed = false;
        subscribe(c).catch((e) => flash(e.message, 'error'));
      }
      if (!convs.has(current)) current = lobby;
      renderConvs();
    },
    event(name, d) {
      switch (name) {
        case 'publication': {
          const c = convs.get(d.channel);
          if (c) publication(c, d, false);
          break;
        }
        case 'join':
        case 'leave': {
          const c = convs.get(d.channel);
          if (!c) break;
          if (name === 'join') c.members.set(d.user, 1); else c.members.delete(d.user);
          renderOnline();
          break;
        }
        case 'direct': {
          const c = d.from ? conv('@' + d.from) : conv('user:' + me.user_id);
          addMessage(c, { key: 'dm:' + d.ts + ':' + d.from + ':' + JSON.stringify(d.data), from: d.from || '', ts: d.ts, text: textOf(d.data) });
          break;
        }
        case 'stats':
          onStats(d);
          break;
      }
    },
    logout() {
      setUser(null, true);
      flash('Your session has ended. Log in again.', 'error');
    },
  });

  // ---------------------------------------------------------------- dashboard

  const nf = new Intl.NumberFormat();
  const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
  const fmtCount = (v) => (v == null ? '–' : (Number.isInteger(v) ? nf.format(v) : nf1.format(v)));
  const fmtRate = (v) => (v == null ? '–' : (v < 10 ? nf1.format(v) : nf.format(Math.round(v))));
  function fmtBytes(v) {
    if (v == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? Math.round(v) : nf1.format(v)) + ' ' + units[i];
  }

  const KICKS = ['idle', 'flood', 'slow_reader', 'framing', 'bad_crc', 'limit', 'source_limit'];
  function kickLabel(reason) {
    if (reason === 'bad_crc') return 'Bad CRC';
    const s = reason.replace(/_/g, ' ');
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  const WINDOW = 120; // samples kept for the charts
  const samples = [];
  let prev = null;

  function rate(cur, old, dt) {
    if (cur == null || old == null || dt <= 0) return null;
    return cur >= old ? (cur - old) / dt : 0; // a counter going back means a restart
  }

  // obj reads an object out of the stats, {} if it is missing.
  const obj = (v) => (v && typeof v === 'object' ? v : {});
  // stat reads a number at a dotted path of the stats ("server.online").
  const stat = (s, path) => num(path.split('.').reduce((o, k) => obj(o)[k], s));

  // The stats are the JSON of web.Stats: {"workers", "server": {totals,
  // "kicks": {reason: n}, "transports": {name: engine stats}}, "http"}.
  function onStats(s) {
    const t = performance.now() / 1000;
    const srv = obj(s.server);
    const kicks = obj(srv.kicks);
    const transports = obj(srv.transports);
    const cur = {
      t: t,
      online: num(srv.online),
      pin: num(srv.packets_in), pout: num(srv.packets_out),
      bin: num(srv.bytes_in), bout: num(srv.bytes_out),
      hq: num(srv.handler_queue), sq: num(srv.send_queue),
      kicks: kicks,
    };
    const dt = prev ? t - prev.t : 0;
    const sample = {
      online: cur.online, hq: cur.hq, sq: cur.sq,
      pin: prev ? rate(cur.pin, prev.pin, dt) : null,
      pout: prev ? rate(cur.pout, prev.pout, dt) : null,
      bin: prev ? rate(cur.bin, prev.bin, dt) : null,
      bout: prev ? rate(cur.bout, prev.bout, dt) : null,
    };
    for (const r of KICKS) sample['k_' + r] = prev ? rate(num(kicks[r]) || 0, num(prev.kicks[r]) || 0, dt) : null;
    for (const name of Object.keys(transports)) sample['t_' + name] = num(obj(transports[name]).open);
    prev = cur;
    samples.push(sample);
    if (samples.length > WINDOW) samples.shift();

    updateTiles(s, sample);
    updateKicks(kicks);
    updateNodes(s.cluster);
    $('#dash-sub').textContent = 'Live, updated every second';
    const charts = $('#charts');
    if (charts.hidden) { buildCharts(charts, Object.keys(transports).sort()); charts.hidden = false; }
    for (const c of chartList) drawChart(c);
  }

  function updateTiles(s, sample) {
    const rateKey = { 'server.packets_in': 'pin', 'server.packets_out': 'pout', 'server.bytes_in': 'bin', 'server.bytes_out': 'bout' };
    for (const tile of $$('[data-stat]')) {
      const key = tile.dataset.stat;
      const kind = tile.dataset.kind;
      const v = stat(s, key);
      const vEl = $('.v', tile);
      const uEl = $('.u', tile);
      if (kind === 'rate' || kind === 'bytes') {
        const r = sample[rateKey[key]];
        const fmt = kind === 'bytes' ? fmtBytes : fmtRate;
        if (r != null) {
          vEl.textContent = fmt(r);
          uEl.textContent = '/s';
        } else {
          vEl.textContent = kind === 'bytes' ? fmtBytes(v) : fmtCount(v);
          uEl.textContent = 'total';
        }
        tile.title = 'Total: ' + (kind === 'bytes' ? fmtBytes(v) : fmtCount(v));
      } else {
        vEl.textContent = fmtCount(v);
      }
    }
  }

  // updateNodes redraws the cluster's node table (the columns of
  // templates/index.html) from cluster.node_list.
  function updateNodes(c) {
    const body = $('#nodes tbody');
    if (!body || !c) return;
    const now = Date.now();
    const rows = (Array.isArray(c.node_list) ? c.node_list : []).map((n) => {
      const tr = document.createElement('tr');
      if (n.self) tr.className = 'self';
      const seen = n.self ? '-' : Math.max(0, (now - Date.parse(n.last_seen)) / 1000).toFixed(1) + 's ago';
      const cells = [n.name + (n.self ? ' (here)' : ''), n.connections >= 0 ? fmtCount(n.connections) : '?',
        fmtCount(num(n.presence) || 0), seen, n.synced ? 'in sync' : 'syncing'];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      tr.firstChild.title = 'incarnation ' + n.incarnation;
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function updateKicks(kicks) {
    const dl = $('#kicks');
    for (const reason of Object.keys(kicks).sort()) {
      let row = $('[data-kick="' + CSS.escape(reason) + '"]', dl);
      if (!row) {
        row = document.createElement('div');
        row.dataset.kick = reason;
        const dt = document.createElement('dt');
        dt.textContent = kickLabel(reason);
        row.append(dt, document.createElement('dd'));
        dl.append(row);
      }
      $('dd', row).textContent = fmtCount(num(kicks[reason]) || 0);
    }
  }

  // Charts: SVG polylines in a 300×100 box stretched to the figure's width;
  // numbers and legends are HTML beside it, so text is never stretched.
  const W = 300, H = 100;
  const chartSpecs = [
    // Its series, one per transport after the total, are added by buildCharts.
    { id: 'conn', title: 'Connections', fmt: fmtCount, series: [['online', 'all']] },
    { id: 'packets', title: 'Packets per second', fmt: fmtRate, series: [['pin', 'in'], ['pout', 'out']] },
    { id: 'bytes', title: 'Bytes per second', fmt: fmtBytes, series: [['bin', 'in'], ['bout', 'out']] },
    { id: 'queues', title: 'Queue depth', fmt: fmtCount, series: [['hq', 'handler'], ['sq', 'send']] },
    { id: 'kicks', title: 'Kicks per second', fmt: fmtRate, series: KICKS.map((r) => ['k_' + r, kickLabel(r).toLowerCase().replace('crc', 'CRC')]) },
  ];
  const chartList = [];

  function svg(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }

  // buildCharts makes the charts; transports are the names of the packet
  // server's transports ("kcp", "tcp"), each a series of the connections
  // chart (up to the six colours the style sheet has).
  function buildCharts(root, transports) {
    const conn = chartSpecs.find((c) => c.id === 'conn');
    for (const name of transports.slice(0, 5)) conn.series.push(['t_' + name, name.toUpperCase()]);
    for (const spec of chartSpecs) {
      const fig = document.createElement('figure');
      fig.className = 'chart';
      fig.id = 'chart-' + spec.id;
      const cap = document.createElement('figcaption');
      const title = document.createElement('span');
      title.className = 'chart-title';
      title.textContent = spec.title;
      const now = document.createElement('span');
      now.className = 'chart-now';
      cap.append(title, now);
      const plot = document.createElement('div');
      plot.className = 'plot';
      const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': spec.title });
      for (const f of [0.25, 0.5, 0.75]) {
        s.append(svg('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'grid', 'vector-effect': 'non-scaling-stroke' }));
      }
      const area = svg('path', { class: 'area s1', d: '' });
      s.append(area);
      const lines = spec.series.map((_, i) => {
        const l = svg('polyline', { class: 'line s' + (i + 1), points: '', 'vector-effect': 'non-scaling-stroke' });
        s.append(l);
        return l;
      });
      const ymax = document.createElement('span');
      ymax.className = 'ymax';
      ymax.setAttribute('aria-hidden', 'true');
      plot.append(s, ymax);
      const legend = document.createElement('ul');
      legend.className = 'legend';
      const items = spec.series.map(([, label], i) => {
        const li = document.createElement('li');
        li.className = 's' + (i + 1);
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.setAttribute('aria-hidden', 'true');
        const tx = document.createElement('span');
        li.append(sw, label + ' ', tx);
        legend.append(li);
        return { li: li, value: tx };
      });
      fig.append(cap, plot, legend);
      root.append(fig);
      chartList.push({ spec: spec, svg: s, area: area, lines: lines, ymax: ymax, now: now, items: items });
    }
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function drawChart(c) {
    const n = samples.length;
    let max = 0;
    const present = c.spec.series.map(([key]) => samples.some((s) => s[key] != null));
    for (const [key] of c.spec.series) for (const s of samples) if (s[key] != null && s[key] > max) max = s[key];
    max = niceMax(max);
    const step = W / (WINDOW - 1);
    const x = (i) => W - (n - 1 - i) * step;
    const y = (v) => H - (v / max) * (H - 2) - 1;
    const labels = [];
    c.spec.series.forEach(([key, label], i) => {
      const pts = [];
      samples.forEach((s, j) => { if (s[key] != null) pts.push(x(j).toFixed(1) + ',' + y(s[key]).toFixed(1)); });
      c.lines[i].setAttribute('points', pts.join(' '));
      const last = n ? samples[n - 1][key] : null;
      c.items[i].li.hidden = !present[i];
      c.items[i].value.textContent = last == null ? '' : c.spec.fmt(last);
      if (present[i]) labels.push(label + ' ' + c.spec.fmt(last));
      if (i === 0) {
        c.area.setAttribute('d', pts.length > 1 ? 'M' + pts[0].split(',')[0] + ',' + H + ' L' + pts.join(' L') + ' L' + pts[pts.length - 1].split(',')[0] + ',' + H + ' Z' : '');
      }
    });
    c.ymax.textContent = c.spec.fmt(max);
    const first = samples[n - 1] ? samples[n - 1][c.spec.series[0][0]] : null;
    c.now.textContent = c.spec.id === 'kicks' || first == null ? '' : c.spec.fmt(first);
    c.svg.setAttribute('aria-label', c.spec.title + ': ' + (labels.join(', ') || 'no data yet'));
  }

  // ---------------------------------------------------------------- start

  renderConvs();
  const dashSub = $('#dash-sub');
  if (!hasStats && dashSub) dashSub.textContent = 'No statistics are available';
  live.connect();
})();
