#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// TLS 1.3-only test peer (node:tls, needs Node.js 24 / OpenSSL 3.5 for the
// ML-KEM hybrid groups) that logs, per connection, what the client offered and
// which group the server picked, read straight from the handshake bytes.
//
// Usage:
//   node node-tls-server.js [--host 127.0.0.1] [--port 0]
//        [--mode hybrid-preferred|pq-only|classical-first|hrr-classical|hrr-pq]
//        [--groups LIST] [--cert FILE --key FILE] [--alpn h2,http/1.1]
//        [--ready-file FILE] [--log-file FILE] [--idle-timeout-ms 10000]
//        [--client-preference] [--exit-on-stdin-eof]
//
//   Defaults: 127.0.0.1, port 0 (ephemeral), hybrid-preferred, a fresh
//   self-signed ECDSA P-256 cert for CN=localhost (openssl CLI, temp dir
//   removed at once), server group preference on. After a completed handshake
//   it sends one JSON line (protocol, cipher, group, hrr) and closes.
//
//   --groups overrides the mode's list (OpenSSL group-list syntax, passed to
//   ecdhCurve as is, so OpenSSL 3.5 tuples "A:B/C" work too).
//   Once listening it writes "HOST PORT\n" to stdout and, atomically, to
//   --ready-file. Every other line it prints goes to stderr: one JSON object per
//   connection, written when the connection closes (the client hung up, the
//   handshake failed, or --idle-timeout-ms passed without traffic). A client
//   that sends a ClientHello and then stops is normal: its line carries the
//   ServerHello/HelloRetryRequest the server sent, with no full handshake.
//   --log-file also appends each line to FILE (synchronously).
//   Exits 0 on SIGTERM/SIGINT/SIGHUP, and on its own when its parent process
//   dies (ppid polled every 250 ms) or, with --exit-on-stdin-eof, when stdin
//   closes. Exit 2 on bad usage or a group list OpenSSL rejects.
//
// How OpenSSL 3.5 picks the group (verified with node v24.21.0 / OpenSSL
// 3.5.8, server and node 24 clients on 127.0.0.1, server preference on):
//   1. The list is split into tuples at "/"; without "/" it is one tuple.
//   2. Tuples are tried in order. In the first tuple holding a group the client
//      both supports and sent a key share for, the server takes, in its own
//      order (SSL_OP_CIPHER_SERVER_PREFERENCE, i.e. honorCipherOrder, on by
//      default here), the first group of that tuple with a share. No HRR.
//   3. Only if no tuple has a group with a share does it send a
//      HelloRetryRequest, for its first (server order) mutually supported
//      group; if there is none, a cleartext fatal handshake_failure alert.
//   So within one tuple a present share beats a preferred group without one:
//   "X25519:X25519MLKEM768" never sends an HRR to a client that has a share
//   for either, and forcing an HRR needs a tuple split ("A/B").
//   With --client-preference (node's default, honorCipherOrder false) the
//   tuple order still rules, but within a tuple the client's supported_groups
//   order decides (e.g. classical-first then picks X25519MLKEM768 for a client
//   that lists it first and sends shares for both).
//
// Modes and results. Client profiles, as node 24 ecdhCurve strings ("*" marks
// a group that gets a key share; otherwise only the first one does):
//   both    "*X25519MLKEM768:*X25519:P-256:P-384"  (chrome-pq like)
//   pqshare "X25519MLKEM768:X25519"    (PQ share only, X25519 supported)
//   xshare  "X25519:X25519MLKEM768"    (X25519 share only, PQ supported)
//   classic "X25519:P-256"             (no PQ at all)
//   p256pq  "P-256:X25519MLKEM768"     (P-256 share only)
//   p521    "P-521:X25519:X25519MLKEM768" (share for a group no mode accepts)
//
//   hybrid-preferred  X25519MLKEM768:X25519:SecP256r1MLKEM768:
//                     SecP384r1MLKEM1024:P-256:P-384
//     both -> X25519MLKEM768; pqshare -> X25519MLKEM768; xshare -> X25519;
//     classic -> X25519; p256pq -> P-256 (all without HRR);
//     p521 -> HRR(X25519MLKEM768) then X25519MLKEM768.
//     "SecP256r1MLKEM768:P-256" -> SecP256r1MLKEM768 (no HRR).
//   pq-only           X25519MLKEM768:SecP256r1MLKEM768:SecP384r1MLKEM1024
//     both, pqshare -> X25519MLKEM768 (no HRR);
//     xshare, p256pq, p521 -> HRR(X25519MLKEM768) then X25519MLKEM768;
//     "P-384:SecP384r1MLKEM1024" -> HRR(SecP384r1MLKEM1024);
//     classic -> alert handshake_failure (no shared group).
//   classical-first   X25519:X25519MLKEM768
//     both -> X25519 (server order among groups with a share, no HRR);
//     pqshare -> X25519MLKEM768, NO HRR (one tuple, see above);
//     xshare, classic -> X25519; p256pq -> HRR(X25519MLKEM768);
//     p521 -> HRR(X25519); P-256/P-384/SecP* only -> handshake_failure.
//   hrr-classical     X25519/X25519MLKEM768
//     both, xshare, classic -> X25519 (no HRR);
//     pqshare -> HRR(X25519) then X25519 (the way to make a PQ-share-only
//     client retry classically); p256pq -> HRR(X25519MLKEM768);
//     p521 -> HRR(X25519).
//   hrr-pq            X25519MLKEM768/X25519
//     both, pqshare -> X25519MLKEM768; classic -> X25519 (no HRR);
//     xshare, p256pq, p521 -> HRR(X25519MLKEM768) then X25519MLKEM768.
//
// A ClientHello whose X25519MLKEM768 share is not a valid ML-KEM-768
// encapsulation key (e.g. random bytes) gets a cleartext fatal
// illegal_parameter alert (47) whenever the server picks that group;
// modes that pick X25519 from the same hello answer normally.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { Duplex } = require('node:stream');
const { execFileSync } = require('node:child_process');

const MODES = {
  'hybrid-preferred':
    'X25519MLKEM768:X25519:SecP256r1MLKEM768:SecP384r1MLKEM1024:P-256:P-384',
  'pq-only': 'X25519MLKEM768:SecP256r1MLKEM768:SecP384r1MLKEM1024',
  'classical-first': 'X25519:X25519MLKEM768',
  'hrr-classical': 'X25519/X25519MLKEM768',
  'hrr-pq': 'X25519MLKEM768/X25519',
};

// IANA TLS Supported Groups registry (the ones a test is likely to meet).
const GROUP_NAMES = {
  0x0017: 'P-256', 0x0018: 'P-384', 0x0019: 'P-521',
  0x001d: 'X25519', 0x001e: 'X448',
  0x001f: 'brainpoolP256r1tls13', 0x0020: 'brainpoolP384r1tls13',
  0x0021: 'brainpoolP512r1tls13',
  0x0100: 'ffdhe2048', 0x0101: 'ffdhe3072', 0x0102: 'ffdhe4096',
  0x0103: 'ffdhe6144', 0x0104: 'ffdhe8192',
  0x0200: 'MLKEM512', 0x0201: 'MLKEM768', 0x0202: 'MLKEM1024',
  0x11eb: 'SecP256r1MLKEM768', 0x11ec: 'X25519MLKEM768',
  0x11ed: 'SecP384r1MLKEM1024',
  0x6399: 'X25519Kyber768Draft00', 0x639a: 'SecP256r1Kyber768Draft00',
};

const ALERT_NAMES = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac',
  22: 'record_overflow', 40: 'handshake_failure', 42: 'bad_certificate',
  43: 'unsupported_certificate', 44: 'certificate_revoked',
  45: 'certificate_expired', 46: 'certificate_unknown',
  47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied',
  50: 'decode_error', 51: 'decrypt_error', 70: 'protocol_version',
  71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled',
  109: 'missing_extension', 110: 'unsupported_extension',
  112: 'unrecognized_name', 116: 'certificate_required',
  120: 'no_application_protocol',
};

// SHA-256("HelloRetryRequest"): the ServerHello.random of an HRR (RFC 8446 4.1.3).
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

function groupName(id) {
  if ((id & 0x0f0f) === 0x0a0a && (id >> 8) === (id & 0xff)) return 'GREASE';
  return GROUP_NAMES[id] || `0x${id.toString(16).padStart(4, '0')}`;
}
function hex4(id) { return `0x${id.toString(16).padStart(4, '0')}`; }

function usage(msg) {
  if (msg) process.stderr.write(`node-tls-server: ${msg}\n`);
  process.stderr.write(
    'usage: node-tls-server.js [--host H] [--port P] [--mode ' +
    Object.keys(MODES).join('|') + '] [--groups LIST] [--cert F --key F] ' +
    '[--alpn LIST] [--ready-file F] [--log-file F] [--idle-timeout-ms N] ' +
    '[--client-preference] [--exit-on-stdin-eof]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: 0, mode: 'hybrid-preferred', groups: null,
    cert: null, key: null, alpn: null, readyFile: null, logFile: null,
    idleMs: 10000, exitOnStdinEof: false, clientPreference: false,
  };
  const valued = {
    '--host': 'host', '--port': 'port', '--mode': 'mode', '--groups': 'groups',
    '--cert': 'cert', '--key': 'key', '--alpn': 'alpn',
    '--ready-file': 'readyFile', '--log-file': 'logFile',
    '--idle-timeout-ms': 'idleMs',
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
    if (a === '-h' || a === '--help') usage();
    if (a === '--exit-on-stdin-eof') { o.exitOnStdinEof = true; continue; }
    if (a === '--client-preference') { o.clientPreference = true; continue; }
    const k = valued[a];
    if (!k) usage(`unknown argument: ${argv[i]}`);
    if (v === undefined) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      v = argv[++i];
    }
    o[k] = v;
  }
  o.port = Number(o.port);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  o.idleMs = Number(o.idleMs);
  if (!Number.isFinite(o.idleMs) || o.idleMs <= 0) usage('bad --idle-timeout-ms');
  if (!MODES[o.mode]) usage(`unknown --mode ${o.mode}`);
  if ((o.cert === null) !== (o.key === null)) usage('--cert and --key go together');
  return o;
}

// Self-signed ECDSA P-256 certificate for CN=localhost, made with the openssl
// CLI in a private temp dir that is removed before this function returns.
function selfSignedCert() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-node-peer-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-sha256',
      '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Passive parsing of the cleartext part of a TLS 1.3 handshake.

function parseExtensions(c, end) {
  const exts = [];
  if (c.off + 2 > end) return exts;
  const total = c.buf.readUInt16BE(c.off); c.off += 2;
  const stop = Math.min(end, c.off + total);
  while (c.off + 4 <= stop) {
    const type = c.buf.readUInt16BE(c.off);
    const len = c.buf.readUInt16BE(c.off + 2);
    c.off += 4;
    if (c.off + len > stop) break;
    exts.push({ type, data: c.buf.subarray(c.off, c.off + len) });
    c.off += len;
  }
  return exts;
}

function parseClientHello(body) {
  const out = { groups: [], key_shares: [], versions: [], sni: null, alpn: [] };
  const c = { buf: body, off: 0 };
  if (body.length < 2 + 32 + 1) return out;
  out.legacy_version = hex4(body.readUInt16BE(0));
  c.off = 34;
  c.off += 1 + body[c.off];                         // session id
  if (c.off + 2 > body.length) return out;
  c.off += 2 + body.readUInt16BE(c.off);            // cipher suites
  if (c.off + 1 > body.length) return out;
  c.off += 1 + body[c.off];                         // compression methods
  for (const e of parseExtensions(c, body.length)) {
    const d = e.data;
    try {
      if (e.type === 10) {                          // supported_groups
        const n = d.readUInt16BE(0);
        for (let i = 2; i + 2 <= 2 + n && i + 2 <= d.length; i += 2) {
          out.groups.push(groupName(d.readUInt16BE(i)));
        }
      } else if (e.type === 51) {                   // key_share
        const n = d.readUInt16BE(0);
        let i = 2;
        while (i + 4 <= 2 + n && i + 4 <= d.length) {
          const g = d.readUInt16BE(i);
          const l = d.readUInt16BE(i + 2);
          out.key_shares.push({ group: groupName(g), len: l });
          i += 4 + l;
        }
      } else if (e.type === 43) {                   // supported_versions
        for (let i = 1; i + 2 <= 1 + d[0] && i + 2 <= d.length; i += 2) {
          out.versions.push(hex4(d.readUInt16BE(i)));
        }
      } else if (e.type === 0 && d.length > 5) {    // server_name
        const l = d.readUInt16BE(3);
        out.sni = d.subarray(5, 5 + l).toString('latin1');
      } else if (e.type === 16) {                   // ALPN
        for (let i = 2; i < d.length; i += 1 + d[i]) {
          out.alpn.push(d.subarray(i + 1, i + 1 + d[i]).toString('latin1'));
        }
      }
    } catch (_) { /* malformed extension: keep what was read */ }
  }
  return out;
}

function parseServerHello(body) {
  const out = { hrr: false, group: null, version: null, cipher: null };
  if (body.length < 2 + 32 + 1) return out;
  out.hrr = body.subarray(2, 34).equals(HRR_RANDOM);
  const c = { buf: body, off: 34 };
  c.off += 1 + body[c.off];
  if (c.off + 3 > body.length) return out;
  out.cipher = hex4(body.readUInt16BE(c.off));
  c.off += 3;
  for (const e of parseExtensions(c, body.length)) {
    if (e.type === 43 && e.data.length >= 2) out.version = hex4(e.data.readUInt16BE(0));
    if (e.type === 51 && e.data.length >= 2) out.group = groupName(e.data.readUInt16BE(0));
  }
  return out;
}

// Follows one direction of a connection: reassembles records and cleartext
// handshake messages, and stops looking inside once encryption starts.
class FlowParser {
  constructor(onHandshake, onAlert) {
    this.buf = Buffer.alloc(0);
    this.hs = Buffer.alloc(0);
    this.encrypted = false;
    this.bytes = 0;
    this.onHandshake = onHandshake;
    this.onAlert = onAlert;
  }
  push(chunk) {
    this.bytes += chunk.length;
    if (this.encrypted && this.buf.length === 0 && this.bytes > 1 << 20) return;
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 5) {
      const type = this.buf[0];
      const len = this.buf.readUInt16BE(3);
      if (this.buf.length < 5 + len) break;
      const frag = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      if (type === 21 && len === 2) {
        this.onAlert(frag[0], frag[1]);
      } else if (type === 23) {
        // TLS 1.3 change_cipher_spec (type 20) is only a middlebox-compat
        // dummy: the second ClientHello and the ServerHello after an HRR
        // still come in cleartext after it. Only application_data means
        // the encrypted part has begun.
        this.encrypted = true;
      } else if (type === 22 && !this.encrypted) {
        this.hs = Buffer.concat([this.hs, frag]);
        while (this.hs.length >= 4) {
          const mlen = this.hs.readUIntBE(1, 3);
          if (this.hs.length < 4 + mlen) break;
          this.onHandshake(this.hs[0], this.hs.subarray(4, 4 + mlen));
          this.hs = this.hs.subarray(4 + mlen);
        }
      }
    }
  }
}

// A Duplex over the accepted TCP socket that lets both directions be watched
// before node:tls sees (or after it produced) the bytes.
class TapStream extends Duplex {
  constructor(raw, onIn, onOut) {
    super({ allowHalfOpen: false });
    this.raw = raw;
    this.onOut = onOut;
    raw.on('data', (d) => {
      try { onIn(d); } catch (_) { /* never let logging break the peer */ }
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (e) => this.destroy(e));
    raw.on('close', () => this.destroy());
  }
  _read() { this.raw.resume(); }
  _write(chunk, enc, cb) {
    try { this.onOut(chunk); } catch (_) { /* ignore */ }
    if (this.raw.destroyed) { cb(); return; }
    this.raw.write(chunk, () => cb());
  }
  _final(cb) { this.raw.end(); cb(); }
  _destroy(err, cb) { this.raw.destroy(); cb(err); }
  get remoteAddress() { return this.raw.remoteAddress; }
  get remotePort() { return this.raw.remotePort; }
  get remoteFamily() { return this.raw.remoteFamily; }
  setTimeout(ms, fn) { this.raw.setTimeout(ms, fn); return this; }
  setNoDelay(v) { this.raw.setNoDelay(v); return this; }
  setKeepAlive(v, d) { this.raw.setKeepAlive(v, d); return this; }
}

// ---------------------------------------------------------------------------

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const groups = opts.groups || MODES[opts.mode];
  const modeName = opts.groups ? 'custom' : opts.mode;

  let cred;
  try {
    cred = opts.cert
      ? { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }
      : selfSignedCert();
  } catch (e) {
    process.stderr.write(`node-tls-server: cannot load/make certificate: ${
      String(e.stderr || e.message).trim().split('\n')[0]}\n`);
    process.exit(2);
  }

  const tlsOpts = {
    cert: cred.cert, key: cred.key, ecdhCurve: groups,
    minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
    // SSL_OP_CIPHER_SERVER_PREFERENCE: without it OpenSSL walks the
    // *client's* supported_groups order, and the mode's order means little.
    honorCipherOrder: !opts.clientPreference,
  };
  if (opts.alpn) tlsOpts.ALPNProtocols = opts.alpn.split(',').filter(Boolean);
  let secureContext;
  try {
    secureContext = tls.createSecureContext(tlsOpts);
  } catch (e) {
    process.stderr.write(`node-tls-server: OpenSSL ${process.versions.openssl} (node ` +
      `${process.version}) rejects groups "${groups}": ${e.message}; the ML-KEM ` +
      'groups need OpenSSL >= 3.5: use the node from tools/setup-peers.sh\n');
    process.exit(2);
  }

  const logLine = (obj) => {
    const line = JSON.stringify(obj) + '\n';
    process.stderr.write(line);
    if (opts.logFile) {
      try { fs.appendFileSync(opts.logFile, line); } catch (_) { /* ignore */ }
    }
  };

  const live = new Set();
  let nextId = 1;

  const server = net.createServer((raw) => {
    const t0 = Date.now();
    const rec = {
      event: 'conn', id: nextId++, mode: modeName,
      peer: `${raw.remoteAddress}:${raw.remotePort}`,
      client_hellos: 0, client_groups: null, client_key_shares: null,
      client_versions: null, sni: null, client_alpn: null,
      hrr: false, hrr_group: null, selected_group: null,
      version: null, cipher: null, protocol: null, alpn: null,
      handshake_complete: false, alert_sent: null, alert_received: null,
      error: null, bytes_in: 0, bytes_out: 0, idle_timeout: false, ms: 0,
    };
    let logged = false;
    const finish = () => {
      if (logged) return;
      logged = true;
      live.delete(raw);
      rec.bytes_in = inFlow.bytes;
      rec.bytes_out = outFlow.bytes;
      rec.ms = Date.now() - t0;
      logLine(rec);
    };
    const alertStr = (lvl, desc) =>
      `${lvl === 2 ? 'fatal' : 'warning'}:${ALERT_NAMES[desc] || desc}`;
    const inFlow = new FlowParser((type, body) => {
      if (type !== 1) return;
      const ch = parseClientHello(body);
      rec.client_hellos++;
      rec.client_groups = ch.groups;
      rec.client_key_shares = ch.key_shares;
      rec.client_versions = ch.versions;
      rec.sni = ch.sni;
      rec.client_alpn = ch.alpn;
    }, (lvl, desc) => { rec.alert_received = alertStr(lvl, desc); });
    const outFlow = new FlowParser((type, body) => {
      if (type !== 2) return;
      const sh = parseServerHello(body);
      if (sh.hrr) {
        rec.hrr = true;
        rec.hrr_group = sh.group;
      } else {
        rec.selected_group = sh.group;
        rec.version = sh.version;
        rec.cipher = sh.cipher;
      }
    }, (lvl, desc) => { rec.alert_sent = alertStr(lvl, desc); });

    live.add(raw);
    raw.setTimeout(opts.idleMs, () => {
      rec.idle_timeout = true;
      raw.destroy();
    });
    raw.on('error', (e) => { if (!rec.error) rec.error = e.code || e.message; });
    raw.on('close', finish);

    const tap = new TapStream(raw, (d) => inFlow.push(d), (d) => outFlow.push(d));
    tap.on('error', () => { /* reported through the TLS socket or raw */ });
    const ts = new tls.TLSSocket(tap, {
      isServer: true, secureContext, requestCert: false, rejectUnauthorized: false,
      ALPNProtocols: tlsOpts.ALPNProtocols,
    });
    ts.on('error', (e) => {
      if (!rec.error) rec.error = e.code ? `${e.code}: ${e.message.trim()}` : e.message;
      ts.destroy();
    });
    ts.on('secure', () => {
      rec.handshake_complete = true;
      rec.protocol = ts.getProtocol();
      rec.alpn = ts.alpnProtocol || null;
      const c = ts.getCipher();
      // Tell the client what it got, then hang up.
      ts.end(JSON.stringify({
        server: 'shakedown-node-tls-server', mode: modeName,
        protocol: rec.protocol, cipher: c && c.name, alpn: rec.alpn,
        group: rec.selected_group, hrr: rec.hrr, hrr_group: rec.hrr_group,
      }) + '\n');
    });
    ts.on('close', () => raw.destroy());
  });

  let exiting = false;
  const shutdown = (why, code = 0) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`node-tls-server: exiting (${why})\n`);
    server.close();
    for (const s of live) s.destroy();
    // Give 'close' handlers a tick to log, then go.
    setImmediate(() => process.exit(code));
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => shutdown(sig));

  const ppid0 = process.ppid;
  setInterval(() => {
    if (process.ppid !== ppid0) shutdown(`parent ${ppid0} gone`);
  }, 250).unref();
  if (opts.exitOnStdinEof) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }

  server.on('error', (e) => {
    process.stderr.write(`node-tls-server: listen ${opts.host}:${opts.port}: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const a = server.address();
    const line = `${a.address} ${a.port}\n`;
    if (opts.readyFile) {
      const tmp = `${opts.readyFile}.tmp${process.pid}`;
      fs.writeFileSync(tmp, line);
      fs.renameSync(tmp, opts.readyFile);
    }
    process.stdout.write(line);
    process.stderr.write(`node-tls-server: listening on ${a.address}:${a.port} ` +
      `mode=${modeName} groups=${groups} node=${process.version} ` +
      `openssl=${process.versions.openssl}\n`);
  });
}

main();
