// SPDX-License-Identifier: MIT
// The lab's post-quantum TLS server (shakedown --server node-pq*): Node.js 24
// with its bundled OpenSSL 3.5, started by the harness inside the server
// namespace, one JSON line per connection event on stdout.
//
// Compiled into the shakedown binary and run as `node -e` by
// src/endpoint/peer.c; the harness is its only user, and this is the
// protocol between them (stable only within one build):
//
//   fd 0  a pipe the harness holds open: end of file means "exit now" (the
//         harness died or stopped the lab; SIGKILL from the kernel's
//         PR_SET_PDEATHSIG is the other way out).
//   fd 1  lines out, each one JSON object:
//           {"ev":"listening","port":P,"node":V,"openssl":V,"groups":G,
//            "startup_ms":T}
//           {"ev":"conn",...}   a connection's whole record, again after
//                               every change (the last one wins)
//           {"ev":"fatal","error":E} then exit 2 (bad config, listen failed)
//   fd 2  the same pipe as fd 1 (node's own crash messages end up there).
//   fd 3  the config, one JSON object, read once:
//           host, port, ipv6_only, groups (OpenSSL 3.5 group list, "/" splits
//           tuples), cert (PEM chain, leaf first), key (PEM), keylog_fd (an
//           open O_APPEND file, or null), idle_ms.
//
// A record says what a server can tell from the bytes it read and wrote
// (watched on the TCP socket, below node:tls) and from node:tls's events:
// every read as libuv handed it over (one read(2) each, like the OpenSSL
// endpoint's recv()s), the ClientHello(s), the ServerHello or
// HelloRetryRequest it sent and the group in it, cleartext alerts both ways,
// whether the handshake completed, node's error, how the TCP connection
// ended. Alerts sent under handshake keys are encrypted and not seen.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const { Duplex } = require('node:stream');

function out(obj) {
  // Synchronous: a line is whole in the pipe before the next event runs.
  fs.writeSync(1, JSON.stringify(obj) + '\n');
}

function fatal(msg) {
  try { out({ ev: 'fatal', error: String(msg).split('\n')[0] }); } catch (_) { /* gone */ }
  process.exit(2);
}

let cfg;
try {
  cfg = JSON.parse(fs.readFileSync(3, 'utf8'));
  fs.closeSync(3);
} catch (e) {
  fatal(`reading the config from fd 3: ${e.message}`);
}

// SHA-256("HelloRetryRequest"): the random of an HRR (RFC 8446 §4.1.3).
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
const MAX_LIST = 64;

// Reassembles one direction's records (RFC 8446 §5.1) and the cleartext
// handshake messages in them (§4); stops looking once application_data
// records (everything encrypted) begin. change_cipher_spec is only the
// middlebox-compatibility dummy (Appendix D.4): a second ClientHello after
// an HRR still comes in clear after it.
class Flow {
  constructor(onMessage, onAlert) {
    this.buf = Buffer.alloc(0);
    this.hs = Buffer.alloc(0);
    this.encrypted = false;
    this.onMessage = onMessage;
    this.onAlert = onAlert;
  }

  push(chunk) {
    if (this.encrypted) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (!this.encrypted && this.buf.length >= 5) {
      const type = this.buf[0];
      const len = this.buf.readUInt16BE(3);
      if (this.buf.length < 5 + len) break;
      const frag = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      if (type === 23) {
        this.encrypted = true;
      } else if (type === 21 && len === 2) {
        this.onAlert(frag[0], frag[1]);
      } else if (type === 22) {
        this.hs = this.hs.length ? Buffer.concat([this.hs, frag]) : frag;
        while (this.hs.length >= 4) {
          const mlen = this.hs.readUIntBE(1, 3);
          if (this.hs.length < 4 + mlen) break;
          this.onMessage(this.hs[0], this.hs.subarray(0, 4 + mlen));
          this.hs = this.hs.subarray(4 + mlen);
        }
      }
    }
    if (this.encrypted) this.buf = this.hs = Buffer.alloc(0);
  }
}

// A bounds-checked reader: every read that would pass the end throws, and the
// caller keeps what it had (a malformed hello is OpenSSL's to judge).
class Cur {
  constructor(b) { this.b = b; this.o = 0; }
  need(n) { if (this.o + n > this.b.length) throw new RangeError('short'); }
  u8() { this.need(1); return this.b[this.o++]; }
  u16() { this.need(2); const v = this.b.readUInt16BE(this.o); this.o += 2; return v; }
  u24() { this.need(3); const v = this.b.readUIntBE(this.o, 3); this.o += 3; return v; }
  bytes(n) { this.need(n); const v = this.b.subarray(this.o, this.o + n); this.o += n; return v; }
  vec(lenBytes) {
    const n = lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u24();
    return new Cur(this.bytes(n));
  }
  left() { return this.b.length - this.o; }
}

function pushCapped(list, v) { if (list.length < MAX_LIST) list.push(v); }

// ClientHello (RFC 8446 §4.1.2), message with its 4-byte header.
function parseClientHello(msg, rec) {
  try {
    const c = new Cur(msg);
    c.u8();
    const body = new Cur(c.bytes(c.u24()));
    rec.legacy_version = body.u16();
    body.bytes(32);
    body.vec(1);                       // legacy_session_id
    body.vec(2);                       // cipher_suites
    body.vec(1);                       // legacy_compression_methods
    const exts = body.vec(2);
    rec.ext_types = []; rec.next = 0;
    rec.groups = []; rec.ngroups = 0;
    rec.shares = []; rec.nshares = 0;
    while (exts.left() > 0) {
      const type = exts.u16();
      const data = exts.vec(2);
      pushCapped(rec.ext_types, type); rec.next++;
      if (type === 10) {                // supported_groups, §4.2.7
        const v = data.vec(2);
        while (v.left() > 0) { pushCapped(rec.groups, v.u16()); rec.ngroups++; }
      } else if (type === 51) {         // key_share, §4.2.8
        const v = data.vec(2);
        while (v.left() > 0) { pushCapped(rec.shares, v.u16()); v.vec(2); rec.nshares++; }
      }
    }
  } catch (_) { /* keep what was read */ }
}

// ServerHello or HelloRetryRequest (§4.1.3, §4.1.4): cipher, key_share group.
function parseServerHello(msg) {
  const r = { hrr: false, cipher: 0, group: 0 };
  try {
    const c = new Cur(msg);
    c.u8();
    const body = new Cur(c.bytes(c.u24()));
    body.u16();
    r.hrr = body.bytes(32).equals(HRR_RANDOM);
    body.vec(1);
    r.cipher = body.u16();
    body.u8();
    const exts = body.vec(2);
    while (exts.left() > 0) {
      const type = exts.u16();
      const data = exts.vec(2);
      if (type === 51 && data.left() >= 2) r.group = data.u16();
    }
  } catch (_) { /* keep what was read */ }
  return r;
}

// The accepted TCP socket as the stream node:tls reads and writes, so that
// both directions are seen as they cross the socket.
class Tap extends Duplex {
  constructor(raw, conn) {
    super({ allowHalfOpen: false });
    this.raw = raw;
    this.conn = conn;
    raw.on('data', (d) => {
      conn.onRead(d);
      // Once node:tls is done with the connection (a failed handshake), the
      // rest is read and counted, not parsed: drain until the client closes.
      if (this.destroyed) return;
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => { if (!this.destroyed) this.push(null); });
  }
  _read() { this.raw.resume(); }
  _write(chunk, enc, cb) {
    this.conn.onWrite(chunk);
    if (this.raw.destroyed) { cb(); return; }
    this.raw.write(chunk, () => { this.conn.onWritten(chunk.length); cb(); });
  }
  _final(cb) { cb(); }
  // node:tls destroys its stream when the handshake fails: the alert it
  // wrote goes out, then our FIN, and the socket stays open for reading,
  // as the OpenSSL endpoint half-closes and drains.
  _destroy(err, cb) {
    if (!this.raw.destroyed) this.raw.end();
    cb(null);
  }
  get remoteAddress() { return this.raw.remoteAddress; }
  get remotePort() { return this.raw.remotePort; }
  get remoteFamily() { return this.raw.remoteFamily; }
  setTimeout() { return this; }
  setNoDelay(v) { this.raw.setNoDelay(v); return this; }
  setKeepAlive(v, d) { this.raw.setKeepAlive(v, d); return this; }
}

const live = new Set();
let nextSeq = 0;
const t0Real = BigInt(Math.round((performance.timeOrigin) * 1000));
const realUs = () => t0Real + BigInt(Math.round(performance.now() * 1000));

class Conn {
  constructor(raw) {
    this.raw = raw;
    this.t0 = process.hrtime.bigint();
    this.pendingWrites = 0;
    this.flightPhase = false;
    this.scheduled = false;
    this.rec = {
      ev: 'conn', seq: nextSeq++,
      addr: raw.remoteAddress || '', port: raw.remotePort || 0,
      accepted_us: Number(realUs()),
      reads: [], nreads: 0, bytes_in: 0,
      hello_complete: false, hello_len: 0, hello2_len: 0, hellos: 0, legacy_version: 0,
      ext_types: [], next: 0, groups: [], ngroups: 0, shares: [], nshares: 0,
      hrr: false, hrr_group: 0, group: 0, cipher: 0,
      flight_sent: false, handshake_done: false, failed: false,
      alert_sent: null, alert_recv: null, error: '',
      bytes_out: 0, hrr_bytes: 0, flight_bytes: 0, app_bytes_in: 0,
      first_byte_us: 0, hello_us: 0, flight_us: 0, handshake_us: 0, end_us: 0,
      end: 'open', end_error: '', final: false, closed: false,
    };
    this.inFlow = new Flow((type, msg) => {
      if (type !== 1) return;
      const r = this.rec;
      r.hellos++;
      if (r.hellos === 1) {
        r.hello_complete = true;
        r.hello_len = msg.length;
        r.hello_us = this.since();
        parseClientHello(msg, r);
      } else if (r.hellos === 2) {
        r.hello2_len = msg.length;
      }
    }, (level, desc) => {
      if (!this.rec.alert_recv) this.rec.alert_recv = [level, desc];
    });
    this.outFlow = new Flow((type, msg) => {
      if (type !== 2) return;
      const sh = parseServerHello(msg);
      if (sh.hrr) {
        this.rec.hrr = true;
        this.rec.hrr_group = sh.group;
      } else {
        this.rec.group = sh.group;
        this.rec.cipher = sh.cipher;
        this.flightPhase = true;
      }
    }, (level, desc) => {
      if (!this.rec.alert_sent) this.rec.alert_sent = [level, desc];
    });
  }

  since() {
    const us = Number((process.hrtime.bigint() - this.t0) / 1000n);
    return us > 0 ? us : 1;
  }

  onRead(d) {
    const r = this.rec;
    if (r.reads.length < MAX_LIST) r.reads.push([d.length, this.since()]);
    r.nreads++;
    r.bytes_in += d.length;
    if (!r.first_byte_us) r.first_byte_us = this.since();
    // The server's flight is what it wrote between its ServerHello and the
    // next thing the client sent (its Finished, or an alert).
    if (this.flightPhase && r.flight_bytes) this.flightPhase = false;
    this.inFlow.push(d);
    this.changed();
  }

  onWrite(chunk) {
    const r = this.rec;
    this.outFlow.push(chunk);
    if (this.flightPhase) r.flight_bytes += chunk.length;
    else if (r.hrr && !r.group && !r.failed) r.hrr_bytes += chunk.length;
    this.pendingWrites++;
    this.changed();
  }

  onWritten(n) {
    const r = this.rec;
    this.pendingWrites--;
    r.bytes_out += n;
    if (r.group && !r.flight_sent && this.pendingWrites === 0) {
      r.flight_sent = true;
      r.flight_us = this.since();
    }
    this.changed();
  }

  setEnd(end, err) {
    const r = this.rec;
    if (r.end !== 'open') return;
    r.end = end;
    r.end_error = err || '';
    r.end_us = this.since();
  }

  // One line per turn of the event loop, however many events it had.
  changed() {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.scheduled = false; this.emit(); });
  }

  emit() {
    const r = this.rec;
    r.final = r.closed || ((r.handshake_done || r.failed) && this.pendingWrites === 0);
    out(r);
  }
}

function main() {
  const opts = {
    cert: cfg.cert, key: cfg.key, ecdhCurve: cfg.groups,
    minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
    // SSL_OP_CIPHER_SERVER_PREFERENCE: OpenSSL 3.5 then takes groups in the
    // server's order (within a "/" tuple), not the client's.
    honorCipherOrder: true,
  };
  let secureContext;
  try {
    secureContext = tls.createSecureContext(opts);
  } catch (e) {
    fatal(`node ${process.version} (OpenSSL ${process.versions.openssl}) rejects the ` +
      `groups "${cfg.groups}": ${e.message}; the ML-KEM groups need node 24 (OpenSSL 3.5)`);
  }
  const keylogFd = Number.isInteger(cfg.keylog_fd) ? cfg.keylog_fd : -1;

  const tcp = net.createServer({ allowHalfOpen: false, noDelay: true }, (raw) => {
    const c = new Conn(raw);
    live.add(c);
    raw.setTimeout(cfg.idle_ms || 5000, () => {
      c.setEnd('timeout');
      raw.destroy();
    });
    raw.on('end', () => c.setEnd('client-fin'));
    raw.on('error', (e) => {
      c.setEnd(e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'client-rst' : 'error',
        e.code || e.message);
    });
    raw.on('close', () => {
      c.rec.closed = true;
      if (!c.rec.end_us) c.rec.end_us = c.since();
      live.delete(c);
      c.changed();
    });
    const tap = new Tap(raw, c);
    tap.on('error', () => { /* node:tls reports it */ });
    const ts = new tls.TLSSocket(tap, {
      isServer: true, secureContext, requestCert: false, rejectUnauthorized: false,
    });
    if (keylogFd >= 0) {
      // NSS key log lines, one write(2) each on an O_APPEND file. A listener
      // on the socket itself is what turns OpenSSL's keylog callback on.
      ts.on('keylog', (line) => {
        try { fs.writeSync(keylogFd, line); } catch (_) { /* full disk: lose the line */ }
      });
    }
    ts.on('secure', () => {
      c.rec.handshake_done = true;
      c.rec.handshake_us = c.since();
      c.changed();
    });
    ts.on('data', (d) => { c.rec.app_bytes_in += d.length; c.changed(); });
    ts.on('error', (err) => {
      const r = c.rec;
      if (!r.handshake_done) r.failed = true;
      // OpenSSL's reason without the thread id and source position node adds.
      if (!r.error) r.error = [err.code, err.reason || err.message.trim()].filter(Boolean).join(': ');
      // The alert node:tls wrote goes out, then our FIN (Tap._destroy).
      if (!raw.destroyed) c.setEnd('server-fin');
      c.changed();
      ts.destroy();
    });
    c.changed();
  });

  tcp.on('error', (e) => fatal(`listen on ${cfg.host} port ${cfg.port}: ${e.message}`));
  tcp.listen({ host: cfg.host, port: cfg.port, ipv6Only: !!cfg.ipv6_only }, () => {
    out({
      ev: 'listening', port: tcp.address().port, node: process.version,
      openssl: process.versions.openssl, groups: cfg.groups,
      startup_ms: Math.round(performance.now() * 10) / 10,   // since the process began
    });
  });

  const stop = () => {
    for (const c of live) {
      c.setEnd('stopped');
      c.rec.closed = true;
      c.emit();
    }
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, stop);
}

main();
