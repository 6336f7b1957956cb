// wharf web app: progressive enhancement of the server-rendered page.
// Without this script every form still works (it posts and the server
// redirects back). With it, forms go to the JSON API, chat messages and
// server statistics arrive live over Server-Sent Events (/api/events), and
// the dashboard draws charts. No dependencies, no build step.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const SVG = 'http://www.w3.org/2000/svg';

  const body = document.body;
  let me = body.dataset.user ? { user_id: Number(body.dataset.userId), username: body.dataset.user } : null;
  const hasStats = body.dataset.stats === 'true';

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
      throw err;
    }
    return data;
  }

  function capitalize(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

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
      const errEl = $('.form-error', form);
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
    if (es) { es.close(); es = null; }
    try {
      await api('/api/logout');
    } catch (e) {
      connect();
      throw e;
    }
    setUser(null, true);
    flash('You are logged out.', 'ok');
    $('#login-username').focus();
  });

  const sayText = $('#say-text');
  enhance($('#say-form'), async (v) => {
    if (!v.text.trim()) throw new Error('Write something first.');
    await api('/api/say', { text: v.text });
    sayText.value = '';
    sayText.focus();
  });
  sayText.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('#say-form').requestSubmit();
    }
  });

  // setUser switches between the logged-out and the chat views.
  function setUser(u, reconnect) {
    const was = me ? me.username : null;
    me = u;
    $('#auth').hidden = !!u;
    $('#chat').hidden = !u;
    $('#who').hidden = !u;
    $('#who-name').textContent = u ? u.username : '';
    if (u) { body.dataset.user = u.username; body.dataset.userId = String(u.user_id); } else { delete body.dataset.user; delete body.dataset.userId; }
    if (!u || (was && was.toLowerCase() !== u.username.toLowerCase())) clearMessages();
    if (reconnect) connect();
  }

  // ---------------------------------------------------------------- chat

  const list = $('#messages');
  const empty = $('#empty');
  const MAX_MESSAGES = 500;
  const seen = new Set();
  const keyOf = (m) => m.ts + '\u0000' + m.from + '\u0000' + m.text;

  function clock(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // The server rendered the history already; remember it and show local times.
  for (const li of $$('li.msg', list)) {
    const ts = Number(li.dataset.ts);
    seen.add(keyOf({ ts: ts, from: li.dataset.from, text: $('.text', li).textContent }));
    const t = $('time', li);
    t.textContent = clock(ts);
    t.title = new Date(ts).toLocaleString();
  }
  scrollToEnd(true);

  function clearMessages() {
    list.replaceChildren();
    seen.clear();
    empty.hidden = false;
  }

  function nearEnd() { return list.scrollHeight - list.scrollTop - list.clientHeight < 60; }
  function scrollToEnd(force) { if (force || nearEnd()) list.scrollTop = list.scrollHeight; }

  // addMessage inserts m in time order, once.
  function addMessage(m) {
    const k = keyOf(m);
    if (seen.has(k)) return;
    seen.add(k);
    const stick = nearEnd();
    const li = document.createElement('li');
    li.className = 'msg' + (me && m.from.toLowerCase() === me.username.toLowerCase() ? ' mine' : '');
    li.dataset.ts = String(m.ts);
    li.dataset.from = m.from;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = m.from;
    const time = document.createElement('time');
    time.dateTime = new Date(m.ts).toISOString();
    time.textContent = clock(m.ts);
    time.title = new Date(m.ts).toLocaleString();
    meta.append(from, ' ', time);
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = m.text; // never innerHTML: messages are user input
    li.append(meta, text);
    let before = null;
    for (let n = list.lastElementChild; n && Number(n.dataset.ts) > m.ts; n = n.previousElementSibling) before = n;
    list.insertBefore(li, before);
    while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove();
    empty.hidden = true;
    if (stick) scrollToEnd(true);
  }

  // ---------------------------------------------------------------- live events

  let es = null;
  let retryTimer = 0;

  function connect() {
    if (es) es.close();
    clearTimeout(retryTimer);
    setConn('connecting');
    es = new EventSource('/api/events');
    const src = es;
    es.addEventListener('open', () => setConn('live'));
    es.addEventListener('error', () => {
      if (src !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (503: too many viewers, or shutting down): try later.
        setConn('offline');
        retryTimer = setTimeout(connect, 5000);
      } else {
        setConn('reconnecting');
      }
    });
    es.addEventListener('hello', (e) => {
      const d = JSON.parse(e.data);
      if (!d.user && me) {
        setUser(null, false);
        flash('Your session has ended. Log in again.', 'error');
      } else if (d.user && (!me || me.user_id !== d.user.user_id)) {
        setUser(d.user, false);
      }
    });
    es.addEventListener('history', (e) => {
      for (const m of JSON.parse(e.data).messages) addMessage(m);
    });
    es.addEventListener('message', (e) => addMessage(JSON.parse(e.data)));
    es.addEventListener('stats', (e) => onStats(JSON.parse(e.data)));
    es.addEventListener('logout', () => {
      setUser(null, true);
      flash('Your session has ended. Log in again.', 'error');
    });
  }

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

  const dashSub = $('#dash-sub');
  if (!hasStats && dashSub) dashSub.textContent = 'No statistics are available';
  connect();
})();
