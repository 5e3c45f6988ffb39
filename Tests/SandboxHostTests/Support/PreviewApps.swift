/// Small servers the preview tests run inside a sandbox.
enum PreviewApps {
    /// A Python server bound to 127.0.0.1 only (a dev server that binds to localhost): a page
    /// whose script fetches /api/data, its request headers as JSON, a redirect to itself, an
    /// upload digest, and a streamed body of any size.
    static let python = #"""
    import hashlib, http.server, json, sys
    PORT = int(sys.argv[1])
    PAGE = b"""<!doctype html><html><body><h1>Preview works</h1><div id="out">loading</div>
    <script>fetch('/api/data').then(r => r.json()).then(d => { document.getElementById('out').textContent = d.message; });</script>
    </body></html>"""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def reply(self, status, body, kind="application/json", extra=()):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra: self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            if self.path == "/" or self.path.startswith("/?"):
                self.reply(200, PAGE, "text/html")
            elif self.path == "/api/data":
                self.reply(200, json.dumps({"message": "hello from the sandbox"}).encode())
            elif self.path.startswith("/headers"):
                self.reply(200, json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode())
            elif self.path == "/redirect":
                self.reply(302, b"", extra=[("Location", f"http://localhost:{PORT}/target?x=1")])
            elif self.path.startswith("/big"):
                megabytes = int(self.path.split("=")[1])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(megabytes << 20))
                self.end_headers()
                block = b"z" * (1 << 20)
                for _ in range(megabytes): self.wfile.write(block)
            else:
                self.reply(404, b'{"error":"no such page"}')
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            digest, left = hashlib.sha256(), length
            while left:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk: break
                digest.update(chunk); left -= len(chunk)
            self.reply(200, json.dumps({"length": length - left, "sha256": digest.hexdigest()}).encode())

    print(f"listening on {PORT}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
    """#

    /// A Node HTTP server with a WebSocket echo (the handshake and frames by hand: Node 20 has
    /// no WebSocket server built in), bound to localhost. Deliberately fragile: with no `error`
    /// handler on its sockets, a connection torn down without a closing handshake kills it — so
    /// the test's second connection checks that the proxy closes politely.
    static let node = #"""
    const http = require('http'), crypto = require('crypto');
    const port = Number(process.argv[2]);
    const server = http.createServer((req, res) => { res.writeHead(200, {'Content-Type': 'text/plain'}); res.end('node says hi'); });
    server.on('upgrade', (req, socket) => {
      const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      const protocol = req.headers['sec-websocket-protocol'] ? `Sec-WebSocket-Protocol: ${req.headers['sec-websocket-protocol'].split(',')[0].trim()}\r\n` : '';

      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${protocol}\r\n`);
      let buffer = Buffer.alloc(0);
      socket.on('data', (data) => {
        buffer = Buffer.concat([buffer, data]);
        while (buffer.length >= 2) {
          const opcode = buffer[0] & 0x0f; let length = buffer[1] & 0x7f, offset = 2;
          if (length === 126) { length = buffer.readUInt16BE(2); offset = 4; } else if (length === 127) { length = Number(buffer.readBigUInt64BE(2)); offset = 10; }
          const masked = (buffer[1] & 0x80) !== 0; const mask = masked ? buffer.subarray(offset, offset + 4) : null; if (masked) offset += 4;
          if (buffer.length < offset + length) break;
          const payload = Buffer.from(buffer.subarray(offset, offset + length)); buffer = buffer.subarray(offset + length);
          if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
          if (opcode === 8) { socket.end(Buffer.from([0x88, 0])); return; }
          if (opcode !== 1 && opcode !== 2) continue;
          const text = opcode === 1 ? Buffer.from('echo: ' + payload.toString()) : payload;
          let head;
          if (text.length < 126) head = Buffer.from([0x80 | opcode, text.length]);
          else if (text.length < 65536) head = Buffer.from([0x80 | opcode, 126, text.length >> 8, text.length & 0xff]);
          else { head = Buffer.alloc(10); head[0] = 0x80 | opcode; head[1] = 127; head.writeBigUInt64BE(BigInt(text.length), 2); }
          socket.write(Buffer.concat([head, text]));
        }
      });
    });
    server.listen(port, 'localhost', () => console.log(`listening on ${port}`));
    """#
}

extension PreviewApps {
    /// A WebSocket client with the handshake and frames by hand: connects to the host on
    /// 127.0.0.1 with the given Host and path, asks for a subprotocol, sends each message, and
    /// prints the 101's protocol and each echo, one per line. A message `sleep:S` waits S seconds.
    static let webSocketClient = #"""
    import base64, os, socket, struct, sys, time
    port, host, path, cookie = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    messages = sys.argv[5:]
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vite-hmr\r\n"
               f"Cookie: {cookie}\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    print(lines[0])
    print(next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("sec-websocket-protocol:")), "-"))
    if " 101 " not in lines[0]: sys.exit(0)
    def recv_exact(n):
        global rest
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk: raise SystemExit("closed")
            rest += chunk
        out, rest = rest[:n], rest[n:]
        return out
    for message in messages:
        if message.startswith("sleep:"):
            time.sleep(float(message[6:]))
            continue
        payload = message.encode() if not message.startswith("big:") else b"x" * int(message[4:])
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(payload)) if len(payload) < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", len(payload)))
        s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        first, second = recv_exact(2)
        length = second & 0x7f
        if length == 126: length = struct.unpack(">H", recv_exact(2))[0]
        elif length == 127: length = struct.unpack(">Q", recv_exact(8))[0]
        text = recv_exact(length).decode()
        print(text if len(text) < 200 else f"{text[:6]}…{len(text)}")
    s.sendall(bytes([0x88, 0x82]) + b"\0\0\0\0" + struct.pack(">H", 1000))
    """#
}
