/* SPDX-License-Identifier: MIT */
/*
 * The HTML matrix report's behaviour (inlined by mreport_html.c): filters
 * over the server-rendered heatmaps, #cell=ID deep links and the per-cell
 * drill-down. Every node is built with createElement and text nodes, so
 * nothing in the data ever becomes markup.
 */
(function () {
  'use strict';

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  var doc = readJSON('sd-data');
  var meta = readJSON('sd-outcomes') || {};
  if (!doc || typeof doc !== 'object') return;
  var cells = Array.isArray(doc.cells) ? doc.cells : [];
  var byId = new Map();
  cells.forEach(function (c) {
    if (c && typeof c.id === 'string' && !byId.has(c.id)) byId.set(c.id, c);
  });
  var dd = document.getElementById('drilldown');
  var heat = Array.prototype.slice.call(document.querySelectorAll('#heatmaps [data-cell-id]'));

  /* ---- small helpers ---- */

  function h(tag, props) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k === 'style') Object.keys(v).forEach(function (s) { e.style[s] = v[s]; });
        else e.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(e, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(e, k); }); return; }
    e.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function isObj(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function obj(v) { return isObj(v) ? v : {}; }
  function int(v) { return isNum(v) ? v.toLocaleString('en-US') : '\u2014'; }
  function str(v) { return v === null || v === undefined || v === '' ? '\u2014' : String(v); }
  function yesno(v) { return v === true ? 'yes' : v === false ? 'no' : '\u2014'; }
  function na(text) { return h('span', { class: 'na' }, text || '\u2014'); }
  function known(o) { return Object.prototype.hasOwnProperty.call(meta, o); }

  function badge(outcome) {
    var o = String(outcome);
    return h('span', { class: 'badge o-' + (known(o) ? o : 'unknown') },
      h('span', { class: 'sym', 'aria-hidden': 'true' }, known(o) ? meta[o].sym : '?'), ' ' + o);
  }
  function kv(pairs) {
    var dl = h('dl', { class: 'kv' });
    pairs.forEach(function (p) { if (p) add(dl, [h('dt', null, p[0]), h('dd', null, p[1])]); });
    return dl;
  }
  function section(title, id) {
    return h('section', { id: id, class: id }, h('h3', null, title));
  }

  /* ---- filters ---- */

  var state = { outcomes: new Set(), pass: '', text: '' };
  var bar = document.getElementById('filters');
  var fcount;

  function buildFilters() {
    if (!bar) return;
    var counts = {};
    cells.forEach(function (c) { counts[c.outcome] = (counts[c.outcome] || 0) + 1; });
    var names = Object.keys(meta).filter(function (o) { return counts[o]; });
    Object.keys(counts).forEach(function (o) { if (!known(o)) names.push(o); });

    var grp = h('div', { class: 'grp', role: 'group', 'aria-label': 'filter by outcome' },
      h('span', { class: 'lbl' }, 'outcome'));
    names.forEach(function (o) {
      var b = badge(o);
      var btn = h('button', { type: 'button', class: b.className, 'aria-pressed': 'false', 'data-filter-outcome': o },
        Array.prototype.slice.call(b.childNodes), ' ', h('b', null, String(counts[o])));
      btn.addEventListener('click', function () {
        if (state.outcomes.has(o)) state.outcomes.delete(o); else state.outcomes.add(o);
        btn.setAttribute('aria-pressed', state.outcomes.has(o) ? 'true' : 'false');
        apply();
      });
      grp.appendChild(btn);
    });

    var sel = h('select', { id: 'f-pass', 'aria-label': 'filter by result' },
      h('option', { value: '' }, 'all results'),
      h('option', { value: 'true' }, 'met expectation'),
      h('option', { value: 'false' }, 'missed expectation'));
    sel.addEventListener('change', function () { state.pass = sel.value; apply(); });

    var inp = h('input', { id: 'f-text', type: 'search', placeholder: 'profile or path  ( / )',
      'aria-label': 'search profiles and paths', autocomplete: 'off', spellcheck: 'false' });
    inp.addEventListener('input', function () { state.text = inp.value.trim().toLowerCase(); apply(); });

    var clear = h('button', { type: 'button', class: 'reset' }, 'clear');
    clear.addEventListener('click', function () {
      state.outcomes.clear(); state.pass = ''; state.text = '';
      sel.value = ''; inp.value = '';
      grp.querySelectorAll('button').forEach(function (b) { b.setAttribute('aria-pressed', 'false'); });
      apply();
    });

    fcount = h('span', { class: 'fcount', id: 'f-count', 'aria-live': 'polite' });
    add(bar, [grp, h('div', { class: 'grp' }, h('span', { class: 'lbl' }, 'result'), sel),
      h('div', { class: 'grp' }, h('span', { class: 'lbl' }, 'search'), inp, clear), fcount]);
    bar.hidden = false;
    /* the filter buttons carry the counts now */
    var counts0 = document.getElementById('s-outcomes');
    if (counts0) counts0.hidden = true;
    apply();
  }

  function matches(el) {
    var c = byId.get(el.dataset.cellId) || {};
    if (state.outcomes.size && !state.outcomes.has(el.dataset.outcome)) return false;
    if (state.pass && el.dataset.pass !== state.pass) return false;
    if (state.text) {
      var hay = [c.profile, c.path, c.id].map(function (s) { return String(s || '').toLowerCase(); });
      if (!hay.some(function (s) { return s.indexOf(state.text) >= 0; })) return false;
    }
    return true;
  }

  function apply() {
    var shown = 0;
    heat.forEach(function (el) {
      var m = matches(el);
      el.classList.toggle('dim', !m);
      if (m) shown++;
    });
    document.querySelectorAll('#heatmaps tbody tr').forEach(function (tr) {
      var any = tr.querySelector('[data-cell-id]:not(.dim)');
      tr.classList.toggle('rowdim', !any);
    });
    if (bar) bar.classList.toggle('none-pressed', state.outcomes.size === 0);
    if (fcount) fcount.textContent = shown + ' of ' + heat.length + ' cells shown';
  }

  /* ---- drill-down ---- */

  function header(id, c) {
    var close = h('button', { type: 'button', class: 'dd-close', title: 'close (Esc)', 'aria-label': 'close' }, '\u00d7');
    close.addEventListener('click', closeCell);
    var head = h('header', { class: 'dd-head' }, close, h('h2', { class: 'dd-id' }, id));
    if (c) {
      add(head, h('div', { class: 'row' }, badge(c.outcome),
        c.pass ? h('span', { class: 'verdict-pass' }, '\u2713 met expectation')
               : h('span', { class: 'verdict-miss' }, '\u2717 missed expectation'),
        h('span', null, 'expected ', h('code', null, str(c.expected)))));
    }
    return head;
  }

  function verdict(c) {
    var d = obj(c.detail), n = obj(c.negotiated), t = obj(c.truncation);
    var s = section('Verdict', 'dd-verdict');
    add(s, h('p', { class: 'evidence' + (c.pass ? '' : ' miss'), id: 'dd-evidence' }, str(d.text)));
    var left = kv([
      ['outcome', badge(c.outcome)],
      ['expected', h('code', null, str(c.expected))],
      ['rule', h('code', null, str(c.rule))],
      ['breaking hop', d.breaking ? h('strong', null, String(d.breaking)) : na('none')],
      ['ICMP reached client', yesno(d.icmp_reached_client)],
      c.client_end ? ['client', str(c.client) + ': ' + str(c.client_end)] : ['engine end', str(c.engine_end)]
    ]);
    var right = kv([
      ['group', n.group ? String(n.group) + (isNum(n.group_id) ? ' (0x' + n.group_id.toString(16).padStart(4, '0') + ')' : '') : na('none')],
      ['HelloRetryRequest', yesno(n.hrr)],
      ['handshake completed', yesno(n.handshake_completed)],
      ['client bytes sent', int(t.sent)],
      ['delivered to server', int(t.delivered)],
      isNum(t.first_missing_offset) ? ['first missing byte', h('span', null, int(t.first_missing_offset),
        t.field ? ' \u2014 ' + t.field : '')] : null
    ]);
    add(s, h('div', { class: 'cols' }, left, right));
    add(s, h('p', { class: 'na', style: { fontSize: '.82rem', margin: '8px 0 0' } },
      [c.profile, c.path, c.server, c.shape, c.family].map(str).join(' \u00b7 '),
      ' \u00b7 client ' + str(c.client) + ' \u00b7 seed ' + str(c.seed) + ' \u00b7 group ' + str(c.group) +
      ' \u00b7 index ' + str(c.index)));
    return s;
  }

  /* ["a", "a", "b"] -> "2 \u00d7 a, b" */
  function runs(list) {
    var out = [];
    list.forEach(function (x) {
      var last = out[out.length - 1];
      if (last && last.x === x) last.n++; else out.push({ x: x, n: 1 });
    });
    return out.map(function (r) { return (r.n > 1 ? r.n + ' \u00d7 ' : '') + r.x; }).join(', ');
  }

  function flight(c) {
    var f = obj(c.flight);
    var s = section('Flight', 'dd-flight');
    var segs = arr(f.segments), recs = arr(f.record_lengths), rtx = arr(f.retransmissions), pm = arr(f.pmtu);
    add(s, kv([
      ['ClientHello', int(f.clienthello_bytes) + ' bytes (handshake length ' + int(f.handshake_length) + ')'],
      ['on the wire', int(f.wire_bytes) + ' bytes'],
      ['TLS records', int(f.records) + (recs.length ? ': ' + recs.map(int).join(' + ') : '')],
      ['TCP segments', segs.length + (segs.length ? ': ' + segs.map(int).join(' + ') : '')],
      ['retransmissions', rtx.length ? runs(rtx.map(function (r) { return int(obj(r).length) + ' bytes at ' + int(obj(r).offset); })) : na('none')],
      ['IP fragments', int(f.ip_fragments)],
      ['server MSS', int(f.server_mss)],
      ['ICMP PMTU', pm.length ? pm.map(function (p) { return 'mtu ' + int(obj(p).mtu) + (obj(p).ignored ? ' (ignored)' : ''); }).join(', ') : na('none')]
    ]));
    return s;
  }

  /* The ClientHello field map, scaled by offset/length, with the truncation point. */
  function fields(c) {
    var s = section('ClientHello field map', 'dd-fields');
    var fs = arr(c.hello_fields).filter(function (f) { return isObj(f) && isNum(f.offset) && isNum(f.length); });
    var t = obj(c.truncation), fl = obj(c.flight);
    if (!fs.length) { add(s, na('no field map in this cell')); return s; }
    var cut = isNum(t.first_missing_offset) ? t.first_missing_offset : null;
    var total = Math.max(1, isNum(t.sent) ? t.sent : 0, isNum(fl.wire_bytes) ? fl.wire_bytes : 0,
      Math.max.apply(null, fs.map(function (f) { return f.offset + f.length; })));
    function pct(x) { return (100 * Math.min(Math.max(x, 0), total) / total).toFixed(3) + '%'; }
    /* the width of [off, off+len) clipped to the scale */
    function wpct(off, len) { return (100 * Math.max(Math.min(off + len, total) - Math.max(off, 0), 0) / total).toFixed(3) + '%'; }
    function kind(f) {
      var n = String(f.name || '');
      if (/GREASE/.test(n)) return 'grease';
      if (/mlkem|kyber/i.test(n) && (f.depth || 0) > 0) return 'pq';
      if (!/^extension|^key_share/.test(n)) return 'hdr';
      return '';
    }
    var depth = function (f) { return isNum(f.depth) ? f.depth : 0; };
    var hit = -1;
    if (cut !== null) {
      fs.forEach(function (f, i) {
        if (f.offset <= cut && cut < f.offset + f.length && (hit < 0 || depth(f) >= depth(fs[hit]))) hit = i;
      });
    }
    function state(f, i) {
      if (cut === null) return '';
      if (i === hit) return 'cut';
      if (f.offset <= cut && cut < f.offset + f.length) return 'cut-parent';
      if (f.offset >= cut) return 'lost';
      return '';
    }

    var cap = h('p', { class: 'fm-caption' });
    if (cut !== null) {
      add(cap, ['Bytes stopped at stream offset ', h('b', null, int(cut)), ' of ' + int(total),
        t.field ? [', inside ', h('b', null, String(t.field))] : hit >= 0 ? [', inside ', h('b', null, String(fs[hit].name))] : '',
        '. Hatched fields never reached the server.']);
    } else {
      add(cap, int(total) + ' bytes, record headers included; every byte was delivered.');
    }
    add(s, cap);

    /* Overview: top-level fields, nested fields, TCP segments, one scale. */
    var scale = h('div', { class: 'fm-scale', role: 'img',
      'aria-label': 'field map of ' + total + ' bytes' + (cut !== null ? ', cut at ' + cut : '') });
    var lane0 = h('div', { class: 'fm-lane' }), lane1 = h('div', { class: 'fm-lane sub' });
    var alt = false;
    fs.forEach(function (f, i) {
      var k = kind(f), st = state(f, i);
      if (depth(f) === 0 && !k) alt = !alt;
      var box = h('div', { class: ['fm-box', k, depth(f) === 0 && !k && alt ? 'alt' : '', st].join(' ').trim(),
        style: { left: pct(f.offset), width: wpct(f.offset, f.length) },
        title: f.name + ': offset ' + f.offset + ', ' + f.length + ' bytes' + (st === 'cut' ? ' \u2014 the bytes stop here' : st === 'lost' ? ' \u2014 never arrived' : '') });
      (depth(f) === 0 ? lane0 : lane1).appendChild(box);
    });
    add(scale, lane0);
    if (lane1.childNodes.length) add(scale, lane1);
    var segs = arr(fl.segments).filter(isNum);
    if (segs.length) {
      var segl = h('div', { class: 'fm-lane segs', title: 'TCP segments as sent' }), off = 0;
      segs.forEach(function (n, i) {
        if (off >= total) return;
        var w = Math.min(n, total - off);
        add(segl, h('div', { class: 'fm-seg' + (cut !== null && off >= cut ? ' lost' : ''),
          style: { left: pct(off), width: wpct(off, w) },
          title: 'segment ' + (i + 1) + ': ' + n + ' bytes at ' + off }, w / total > 0.07 ? 'seg ' + (i + 1) + ' \u00b7 ' + n : ''));
        off += n;
      });
      add(scale, [h('div', { class: 'fm-lanelbl' }, 'TCP segments'), segl]);
    }
    var recs = arr(fl.record_lengths).filter(isNum);
    if (recs.length > 1) {
      var recl = h('div', { class: 'fm-lane segs', title: 'TLS records' }), roff = 0;
      recs.forEach(function (n, i) {
        if (roff >= total) return;
        add(recl, h('div', { class: 'fm-seg rec' + (cut !== null && roff >= cut ? ' lost' : ''),
          style: { left: pct(roff), width: wpct(roff, n + 5) },
          title: 'record ' + (i + 1) + ': 5 + ' + n + ' bytes at ' + roff }, (n + 5) / total > 0.07 ? 'rec ' + (i + 1) + ' \u00b7 ' + n : ''));
        roff += n + 5;
      });
      add(scale, [h('div', { class: 'fm-lanelbl' }, 'TLS records'), recl]);
    }
    if (cut !== null) {
      add(scale, h('div', { id: 'dd-truncation', class: 'fm-cut' + (cut / total > 0.7 ? ' flip' : ''),
        style: { left: pct(cut) }, 'data-offset': cut, title: 'first missing byte: offset ' + cut },
        h('span', { class: 'fm-cutlbl' }, '\u2702 ' + int(cut))));
    }
    add(s, scale);

    /* The table: one bar per field on the same scale. */
    var tb = h('tbody');
    fs.forEach(function (f, i) {
      var st = state(f, i), k = kind(f);
      var track = h('div', { class: 'fm-track' },
        h('div', { class: ['fm-bar', k, st].join(' ').trim(),
          style: { left: pct(f.offset), width: wpct(f.offset, f.length) } }));
      if (cut !== null) add(track, h('div', { class: 'fm-cutline', style: { left: pct(cut) } }));
      add(tb, h('tr', { class: ['fm-row', 'd' + Math.min(depth(f), 2), st].join(' ').trim(), 'data-offset': f.offset },
        h('td', { class: 'nm', title: String(f.name) }, String(f.name), st === 'cut' ? h('span', { class: 'where' }, '\u2702 bytes stop here') : null),
        h('td', { class: 'n' }, int(f.offset)), h('td', { class: 'n' }, int(f.length)), h('td', { class: 'barc' }, track)));
    });
    add(s, h('table', { class: 'tbl fm-table' },
      h('colgroup', null, h('col', { class: 'c-nm' }), h('col', { class: 'c-n' }), h('col', { class: 'c-n' }), h('col', { class: 'c-bar' })),
      h('thead', null, h('tr', null, h('th', null, 'field'), h('th', { class: 'n' }, 'offset'), h('th', { class: 'n' }, 'length'), h('th', null, ''))), tb));
    return s;
  }

  /* What crossed each link, row by row: a sequence diagram over the hops. */
  function ladder(c) {
    var L = obj(c.ladder), links = arr(L.links), rows = arr(L.rows);
    var s = section('Ladder', 'dd-ladder');
    if (!links.length && !rows.length) { add(s, na('no ladder in this cell')); return s; }
    var hr = h('tr', null, h('th', { class: 't' }, 't (ms)'));
    links.forEach(function (l, i) {
      var from = i === 0 ? 'client' : str(obj(links[i - 1]).name);
      add(hr, h('th', { class: 'lk' }, from + ' \u2192 ' + str(obj(l).name),
        isNum(obj(l).mtu) ? h('span', { class: 'mtu' }, 'mtu ' + obj(l).mtu) : null));
    });
    add(hr, h('th', null, 'packet'));
    var tb = h('tbody');
    rows.forEach(function (r) {
      r = obj(r);
      var dir = r.dir === 's2c' ? 's2c' : 'c2s', at = arr(r.at);
      var lost = at.indexOf('lost') >= 0;
      var tr = h('tr', { class: 'lr ' + dir + (lost ? ' has-lost' : '') },
        h('td', { class: 't' }, isNum(r.t_us) ? (r.t_us / 1000).toFixed(3) : '\u2014'));
      links.forEach(function (l, i) {
        var m = at[i] === 'seen' || at[i] === 'lost' ? at[i] : 'none';
        var g = m === 'seen' ? (dir === 'c2s' ? '\u2192' : '\u2190') : m === 'lost' ? '\u2715' : '\u00b7';
        add(tr, h('td', { class: 'lk' + (i === links.length - 1 ? ' last' : ''), title: str(obj(l).name) + ': ' + m, 'data-mark': m },
          h('span', { class: 'mk ' + m }, h('span', { class: 'g' }, g))));
      });
      add(tr, h('td', { class: 'what' }, (dir === 'c2s' ? '\u2192 ' : '\u2190 ') + str(r.what)));
      add(tb, tr);
    });
    var table = h('table', { class: 'ladder' }, h('thead', null, hr), tb);
    if (isNum(L.more) && L.more > 0) {
      add(table, h('tfoot', null, h('tr', { class: 'more' }, h('td', { colspan: links.length + 2 },
        '\u2026 ' + L.more + ' more row' + (L.more === 1 ? '' : 's') + ' not shown'))));
    }
    add(s, h('div', { class: 'scroll' }, table));
    add(s, h('div', { class: 'dirs' }, h('span', { class: 'c2s' }, '\u2192 client to server'),
      h('span', { class: 's2c' }, '\u2190 server to client'), h('span', { class: 'lostk' }, '\u2715 lost at that link'),
      h('span', null, '\u00b7 never got there')));
    return s;
  }

  /* Per-hop counters, one column per hop. */
  function hops(c) {
    var hs = arr(c.hops).map(obj);
    var s = section('Hops', 'dd-hops');
    if (!hs.length) { add(s, na('no hops (a direct path)')); return s; }
    var breaking = obj(c.detail).breaking;
    /* A user-space hop's own counters (hop_stats), by hop name. */
    var stats = {};
    arr(c.hop_stats).map(obj).forEach(function (x) { if (typeof x.hop === 'string') stats[x.hop] = x; });
    function st(x) { return stats[x.name]; }
    function dropReasons(x) {
      var s = st(x);
      if (!s) return undefined;
      var d = obj(s.drops), out = [];
      Object.keys(d).forEach(function (k) { if (isNum(d[k]) && d[k] > 0) out.push(k + ' ' + int(d[k])); });
      return out.length ? out.join(', ') : 'none';
    }
    function decision(x) {
      var s = st(x);
      if (!s) return undefined;
      var i = s.inspector;
      if (!i || typeof i !== 'object') return 'forwarded';
      return str(i.behaviour) + ' \u2192 ' + str(i.action) + (i.why ? ': ' + str(i.why) : '');
    }
    function dirv(key, a, b) {
      return function (x) { var d = obj(x[key]); return [d[a], d[b]]; };
    }
    var rows = [
      ['MTU in \u2192 out', function (x) { return int(x.mtu_in) + ' \u2192 ' + int(x.mtu); }],
      ['c\u2192s packets in / out', dirv('client_to_server', 'packets_in', 'packets_out')],
      ['c\u2192s bytes in / out', dirv('client_to_server', 'bytes_in', 'bytes_out')],
      ['c\u2192s drops', function (x) { return obj(x.client_to_server).drops; }, true],
      ['s\u2192c packets in / out', dirv('server_to_client', 'packets_in', 'packets_out')],
      ['s\u2192c bytes in / out', dirv('server_to_client', 'bytes_in', 'bytes_out')],
      ['s\u2192c drops', function (x) { return obj(x.server_to_client).drops; }, true],
      ['oversize drops', function (x) { return x.oversize_drops; }, true],
      ['ICMP too-big sent', function (x) { return x.icmp_too_big_sent; }],
      ['ICMP filtered', function (x) { return x.icmp_filtered; }, true],
      ['IP fragments in / out', function (x) { return [x.fragments_in, x.fragments_out]; }],
      ['RSTs injected', function (x) { return x.rst_injected; }, true],
      ['alerts injected', function (x) { return x.alerts_injected; }, true],
      ['drops by reason (user-space hop)', dropReasons],
      ['emulated device decided', decision]
    ];
    var hr = h('tr', null, h('th', null, 'counter'));
    hs.forEach(function (x) {
      var b = breaking && x.name === breaking;
      add(hr, h('th', { class: 'n' + (b ? ' breaking' : ''), title: b ? 'the breaking hop' : null }, (b ? '\u2691 ' : '') + str(x.name)));
    });
    var tb = h('tbody');
    rows.forEach(function (r) {
      var vals = hs.map(r[1]);
      if (vals.every(function (v) { return v === undefined || (Array.isArray(v) && v.every(function (w) { return w === undefined; })); })) return;
      var tr = h('tr', null, h('th', null, r[0]));
      vals.forEach(function (v) {
        var text = Array.isArray(v) ? v.map(int).join(' / ') : typeof v === 'string' ? v : int(v);
        var hot = r[2] && isNum(v) && v > 0;
        add(tr, h('td', { class: 'n' + (hot ? ' hot' : '') }, text));
      });
      add(tb, tr);
    });
    add(s, h('table', { class: 'tbl hops' }, h('thead', null, hr), tb));
    return s;
  }

  function server(c) {
    var r = obj(c.server_report), t = obj(c.timing_ms);
    var s = section('Server', 'dd-server');
    if (!isObj(c.server_report)) { add(s, na('no server report')); return s; }
    add(s, kv([
      ['reads', arr(r.reads).length ? arr(r.reads).map(int).join(', ') + ' bytes' : na('none')],
      ['bytes in / out', int(r.bytes_in) + ' / ' + int(r.bytes_out)],
      ['ClientHello complete', yesno(r.hello_complete)],
      ['handshake completed', yesno(r.handshake_completed)],
      ['group', str(r.group)],
      ['alert sent', str(r.alert_sent)],
      ['error', r.error ? h('span', { class: 'verdict-miss' }, String(r.error)) : na('none')],
      ['end', str(r.end)],
      ['server flight', int(c.server_flight_bytes) + ' bytes'],
      ['timing', 'cell ' + int(t.cell) + ' ms, exchange ' + int(t.exchange) + ' ms']
    ]));
    return s;
  }

  /* Relative hrefs stay relative; anything that looks like a scheme is made a path. */
  function href(p) {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) p = './' + p;
    return p.split('/').map(encodeURIComponent).join('/');
  }

  function pcaps(c) {
    var list = typeof c.pcaps === 'string' ? [c.pcaps] : arr(c.pcaps);
    var s = section('Captures', 'dd-pcaps');
    list = list.filter(function (p) { return typeof p === 'string' && p; });
    if (!list.length) { add(s, na('no pcaps were written for this cell (run with --pcap-dir)')); return s; }
    add(s, h('ul', { class: 'pcaps' }, list.map(function (p) {
      return h('li', null, h('a', { href: href(p) }, p));
    })));
    return s;
  }

  function raw(c) {
    return h('details', { class: 'raw', id: 'dd-raw' }, h('summary', null, 'cell JSON'),
      h('pre', null, JSON.stringify(c, null, 2)));
  }

  var current = null;

  function openCell(id, focus) {
    var c = byId.get(id);
    current = id;
    heat.forEach(function (el) { el.classList.toggle('selected', el.dataset.cellId === id); });
    while (dd.firstChild) dd.removeChild(dd.firstChild);
    dd.setAttribute('data-cell', id);
    add(dd, header(id, c));
    if (!c) {
      add(dd, h('p', { class: 'dd-missing' }, 'No cell with this id in the report.'));
    } else {
      [verdict, flight, fields, ladder, hops, server, pcaps, raw].forEach(function (f) {
        try { add(dd, f(c)); } catch (e) { add(dd, h('p', { class: 'dd-missing' }, 'cannot show ' + f.name + ': ' + e.message)); }
      });
    }
    dd.hidden = false;
    document.body.classList.add('dd-open');
    dd.scrollTop = 0;
    if (focus) dd.focus({ preventScroll: true });
  }

  function closeCell() {
    var back = heat.filter(function (el) { return el.dataset.cellId === current; })[0];
    current = null;
    dd.hidden = true;
    dd.removeAttribute('data-cell');
    document.body.classList.remove('dd-open');
    heat.forEach(function (el) { el.classList.remove('selected'); });
    if (/^#cell=/.test(location.hash)) {
      try { history.replaceState(null, '', location.pathname + location.search); } catch (e) { location.hash = ''; }
    }
    if (back) back.focus({ preventScroll: true });
  }

  function fromHash(focus) {
    var m = /^#cell=(.*)$/.exec(location.hash);
    if (!m) { if (current !== null) closeCell(); return; }
    var id = m[1];
    try { id = decodeURIComponent(id); } catch (e) { /* keep it as typed */ }
    openCell(id, focus);
  }

  /* ---- wiring ---- */

  buildFilters();
  window.addEventListener('hashchange', function () { fromHash(true); });
  document.addEventListener('keydown', function (e) {
    var typing = e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
    if (e.key === 'Escape' && current !== null) { closeCell(); return; }
    if (e.key === '/' && !typing) {
      var inp = document.getElementById('f-text');
      if (inp) { e.preventDefault(); inp.focus(); }
    }
  });
  fromHash(false);
})();
