// SPDX-License-Identifier: MIT
// The lab's Node.js client (shakedown --client node-pq): Node.js 24 with its
// bundled OpenSSL 3.5, whose default groups put X25519MLKEM768 first, so its
// ClientHello is a real post-quantum one (~1.9 KB, two segments at MSS 1460).
//
// Compiled into the shakedown binary and run as `node -e SCRIPT CONFIG` by
// src/endpoint/client.c inside the client namespace; CONFIG is one JSON
// object: host, port, servername (the SNI, or null for none), keylog (a file
// to append NSS key log lines to, or null). The harness judges the connection from the captures and
// kills this process as soon as the outcome is known; what it prints is
// only for people (the last line shows in errors).
'use strict';

const fs = require('node:fs');
const tls = require('node:tls');

const cfg = JSON.parse(process.argv[process.argv.length - 1]);
// No servername: node sends no SNI to an IP address, like the other clients.
const sock = tls.connect({
  host: cfg.host, port: cfg.port, rejectUnauthorized: false, minVersion: 'TLSv1.3',
  ...(cfg.servername ? { servername: cfg.servername } : {}),
});
if (cfg.keylog) {
  // One appendFileSync per line: whole lines, in order, even if killed.
  sock.on('keylog', (line) => {
    try { fs.appendFileSync(cfg.keylog, line); } catch (_) { /* lose the line */ }
  });
}
sock.on('secureConnect', () => {
  console.log(`handshake completed: ${sock.getProtocol()} ${sock.getCipher().name}`);
  sock.end();
});
sock.on('error', (e) => {
  console.log(`error: ${e.code || ''} ${e.message}`);
  process.exitCode = 1;
});
