#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Sends a raw TLS record stream (e.g. one ClientHello) over plain TCP and
// saves whatever the server answers, without speaking TLS itself.
//
// Usage: node raw-exchange.js HOST PORT INFILE OUTFILE
//             [--timeout-ms 3000] [--quiet-ms 200] [--silent]
//
// Reading stops at the first of:
//   - the server closes (FIN or reset);
//   - at least one complete TLS record holding a ServerHello/HelloRetryRequest
//     (handshake type 2) or an alert has arrived, then nothing more came for
//     --quiet-ms (so the rest of the server's flight is kept too);
//   - --timeout-ms since the start (connect included).
// OUTFILE always gets the bytes received (maybe none). Exit 0 if any bytes
// were received, 1 if none (or on a connect/IO error), 2 on bad usage. One
// summary line goes to stderr (on success only without --silent).
// Runs on any Node.js >= 12; it needs no TLS support of its own.
'use strict';

const fs = require('node:fs');
const net = require('node:net');

function usage(msg) {
  if (msg) process.stderr.write(`raw-exchange: ${msg}\n`);
  process.stderr.write('usage: raw-exchange.js HOST PORT INFILE OUTFILE ' +
    '[--timeout-ms N] [--quiet-ms N] [--silent]\n');
  process.exit(2);
}

const pos = [];
let timeoutMs = 3000;
let quietMs = 200;
let silent = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  let a = argv[i];
  let v;
  const eq = a.indexOf('=');
  if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq); }
  if (a === '--timeout-ms' || a === '--quiet-ms') {
    if (v === undefined) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      v = argv[++i];
    }
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) usage(`bad ${a}: ${v}`);
    if (a === '--timeout-ms') timeoutMs = n; else quietMs = n;
  } else if (a === '--silent') {
    silent = true;
  } else if (a === '-h' || a === '--help') {
    usage();
  } else if (a.startsWith('--')) {
    usage(`unknown option ${a}`);
  } else {
    pos.push(argv[i]);
  }
}
if (pos.length !== 4) usage('need HOST PORT INFILE OUTFILE');
const [host, portStr, inFile, outFile] = pos;
const port = Number(portStr);
if (!Number.isInteger(port) || port < 1 || port > 65535) usage(`bad port: ${portStr}`);

let payload;
try {
  payload = fs.readFileSync(inFile);
} catch (e) {
  process.stderr.write(`raw-exchange: cannot read ${inFile}: ${e.message}\n`);
  process.exit(1);
}

const t0 = Date.now();
const chunks = [];
let received = 0;
let scanOff = 0;        // start of the next unparsed record in the joined stream
let sawAnswer = null;   // 'ServerHello', 'HelloRetryRequest' or 'alert(...)'
let quietTimer = null;
let done = false;
let sockErr = null;

// SHA-256("HelloRetryRequest"), the ServerHello.random of an HRR.
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

// Look at complete records received so far for the first ServerHello/HRR or
// alert. A record that is not TLS-shaped stops the scan (still saved, though).
function scan() {
  const all = Buffer.concat(chunks);
  while (!sawAnswer && all.length - scanOff >= 5) {
    const type = all[scanOff];
    const major = all[scanOff + 1];
    const len = all.readUInt16BE(scanOff + 3);
    if (type < 20 || type > 24 || major !== 3) { scanOff = all.length; return; }
    if (all.length - scanOff < 5 + len) return;
    const frag = all.subarray(scanOff + 5, scanOff + 5 + len);
    if (type === 21 && len >= 2) {
      sawAnswer = `alert(level=${frag[0]},desc=${frag[1]})`;
    } else if (type === 22 && len >= 1 && frag[0] === 2) {
      const hrr = frag.length >= 4 + 2 + 32 &&
        frag.subarray(6, 38).equals(HRR_RANDOM);
      sawAnswer = hrr ? 'HelloRetryRequest' : 'ServerHello';
    }
    scanOff += 5 + len;
  }
}

function finish(reason) {
  if (done) return;
  done = true;
  clearTimeout(overall);
  clearTimeout(quietTimer);
  sock.destroy();
  const data = Buffer.concat(chunks);
  try {
    fs.writeFileSync(outFile, data);
  } catch (e) {
    process.stderr.write(`raw-exchange: cannot write ${outFile}: ${e.message}\n`);
    process.exit(1);
  }
  const ms = Date.now() - t0;
  const sent = sock.bytesWritten || 0;
  const what = sawAnswer ? `, first answer ${sawAnswer}` : '';
  if (data.length > 0) {
    if (!silent) {
      process.stderr.write(`raw-exchange: ${host}:${port}: sent ${sent} B, ` +
        `received ${data.length} B in ${ms} ms (${reason}${what})\n`);
    }
    process.exit(0);
  }
  const why = sockErr ? `${reason}: ${sockErr}` : reason;
  process.stderr.write(`raw-exchange: ${host}:${port}: sent ${sent} of ${payload.length} B, ` +
    `received nothing in ${ms} ms (${why})\n`);
  process.exit(1);
}

const overall = setTimeout(() => finish('timeout'), timeoutMs);

const sock = net.connect({ host, port });
sock.setNoDelay(true);
sock.on('connect', () => {
  sock.write(payload, (err) => { if (err && !sockErr) sockErr = err.code || err.message; });
});
sock.on('data', (d) => {
  chunks.push(d);
  received += d.length;
  if (!sawAnswer) scan();
  if (sawAnswer) {
    clearTimeout(quietTimer);
    quietTimer = setTimeout(() => finish('quiet'), quietMs);
  }
});
sock.on('end', () => finish('server closed'));
sock.on('error', (e) => {
  sockErr = e.code || e.message;
  // A reset after an answer is still an answer; report it by reason.
  finish(received > 0 ? `connection error ${sockErr}` : 'connection failed');
});
sock.on('close', () => finish('server closed'));
