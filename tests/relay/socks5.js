// socks5.js -- a minimal SOCKS5 proxy (RFC 1928, no authentication, CONNECT only) for the tests:
// it records every CONNECT (the address type and destination the client asked for) and pipes
// the bytes, so a test can check that routstr's relay traffic went through TOR_PROXY_URL with
// the host name unresolved, as Tor needs for .onion addresses.
//
// `startSocks5()` resolves {port, url, controlURL, connects, close()}; GET <controlURL>/ gives
// {"connects":[...]} to the C tests. Destinations are only dialled on 127.0.0.1 ("localhost"
// and any name map there), so tests can use made-up names.
import http from 'node:http';
import net from 'node:net';

export async function startSocks5({ host = '127.0.0.1' } = {}) {
  const proxy = { connects: [], sockets: new Set() };

  const server = net.createServer((sock) => {
    proxy.sockets.add(sock);
    sock.on('close', () => proxy.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    let stage = 'greet';
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'greet') {
        if (buf.length < 2 || buf.length < 2 + buf[1]) return;
        if (buf[0] !== 5) return sock.destroy();
        const methods = buf.subarray(2, 2 + buf[1]);
        buf = buf.subarray(2 + methods.length);
        if (!methods.includes(0)) return sock.end(Buffer.from([5, 0xff]));
        sock.write(Buffer.from([5, 0]));
        stage = 'request';
      }
      if (stage === 'request') {
        if (buf.length < 5) return;
        const atyp = buf[3];
        const alen = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + buf[4] : -1;
        if (alen < 0 || buf[1] !== 1) return sock.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
        if (buf.length < 4 + alen + 2) return;
        let dest;
        if (atyp === 1) dest = [...buf.subarray(4, 8)].join('.');
        else if (atyp === 3) dest = buf.subarray(5, 5 + buf[4]).toString('latin1');
        else dest = buf.subarray(4, 20).toString('hex');
        const port = buf.readUInt16BE(4 + alen);
        const rest = buf.subarray(4 + alen + 2);
        proxy.connects.push({ atyp, host: dest, port, at: Date.now() });
        stage = 'pipe';
        sock.off('data', onData);
        const up = net.connect(port, '127.0.0.1', () => {
          sock.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]));
          if (rest.length) up.write(rest);
          sock.pipe(up);
          up.pipe(sock);
        });
        up.on('error', () => {
          if (!sock.destroyed) sock.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
        });
        sock.on('close', () => up.destroy());
        up.on('close', () => sock.destroy());
      }
    };
    sock.on('data', onData);
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  proxy.port = server.address().port;
  proxy.url = `socks5://${host}:${proxy.port}`;

  const ctl = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ connects: proxy.connects }));
  });
  await new Promise((resolve) => ctl.listen(0, host, resolve));
  proxy.controlURL = `http://${host}:${ctl.address().port}`;

  proxy.close = async () => {
    for (const s of proxy.sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => ctl.close(resolve));
  };
  return proxy;
}
