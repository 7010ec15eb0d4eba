// node `ws` (Debian's node-ws) WebSocket peer for bench/ws.sh: /echo echoes, /sub
// subscribes the connection, every message on /pub is sent to every subscriber — framed
// once, as uWebSockets and our hub do (ws's WebSocket.Server broadcast recipe with a
// prepared frame is not public API, so each send frames again: what ws users write).
const http = require('http');
const { WebSocketServer } = require('ws');

const port = parseInt(process.argv[2] || '8891', 10);
const server = http.createServer();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const subscribers = new Set();

server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (req.url === '/echo') {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    } else if (req.url === '/sub') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
    } else if (req.url === '/pub') {
      ws.on('message', (data, isBinary) => {
        for (const s of subscribers) s.send(data, { binary: isBinary });
      });
    } else {
      ws.close(1008, 'no such path');
    }
  });
});
server.listen(port, '127.0.0.1', 4096);
