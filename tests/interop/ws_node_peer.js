// node `ws` (Debian's node-ws) as a peer of our WebSocket code (test_websocket_client_peers.py).
//
//   node ws_node_peer.js server <deflate 0|1>   checking server for our client: prints
//       "LISTENING <port>", then for its one connection sends each message of MESSAGES,
//       checks that the same message (and type) comes back, closes with 1000, prints
//       "result: ok <n> extensions=<negotiated>" or "result: mismatch ...", and exits.
//   node ws_node_peer.js client <url> <deflate 0|1>   client of our echo server: sends the
//       messages, checks the echoes, closes with 1000, prints "result: ok <n> ..." and exits 0.
"use strict";
const WebSocket = require("ws");

const text = (s) => ({ data: s, binary: false });
const bin = (b) => ({ data: b, binary: true });
const MESSAGES = [
  text("hello"), text(""), text("κόσμε 😀"), text("x".repeat(125)), text("y".repeat(126)),
  text("z".repeat(65536)), text("w".repeat(1 << 20)),
  bin(Buffer.alloc(0)), bin(Buffer.from([0, 255, 0, 255])),
  bin(Buffer.from(Array.from({ length: 256 * 300 }, (_, i) => i % 256))),
];

function same(expected, data, isBinary) {
  if (expected.binary !== isBinary) return false;
  const got = Buffer.from(data);
  const want = expected.binary ? expected.data : Buffer.from(expected.data, "utf8");
  return got.equals(want);
}

// Sends the messages one by one over `ws`, each after the previous echo; calls done(err).
function exchange(ws, done) {
  let i = 0;
  const next = () => {
    if (i === MESSAGES.length) return done(null);
    const m = MESSAGES[i];
    ws.send(m.data, { binary: m.binary });
  };
  ws.on("message", (data, isBinary) => {
    if (!same(MESSAGES[i], data, isBinary)) return done(`echo ${i} differs`);
    i += 1;
    next();
  });
  next();
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "server") {
  const deflate = args[0] === "1";
  const wss = new WebSocket.Server({
    host: "127.0.0.1", port: 0, perMessageDeflate: deflate ? { threshold: 0 } : false,
  });
  wss.on("listening", () => console.log(`LISTENING ${wss.address().port}`));
  wss.on("connection", (ws, req) => {
    const offer = req.headers["sec-websocket-extensions"] || "";
    exchange(ws, (err) => {
      const ext = ws.extensions || "";
      console.log(err ? `result: mismatch ${err}` : `result: ok ${MESSAGES.length} offer=${offer} extensions=${ext}`);
      ws.close(1000, "bye");
      ws.on("close", (code) => {
        console.log(`client close: ${code}`);
        wss.close();
        process.exit(err ? 1 : 0);
      });
    });
  });
} else if (mode === "client") {
  const [url, deflateArg] = args;
  const ws = new WebSocket(url, { perMessageDeflate: deflateArg === "1" });
  let failure = null;
  ws.on("open", () => {
    exchange(ws, (err) => {
      failure = err;
      ws.close(1000, "done");
    });
  });
  ws.on("close", (code) => {
    console.log(failure ? `result: mismatch ${failure}` : `result: ok ${MESSAGES.length} extensions=${ws.extensions} close=${code}`);
    process.exit(failure || code !== 1000 ? 1 : 0);
  });
  ws.on("error", (e) => {
    console.log(`result: error ${e.message}`);
    process.exit(2);
  });
} else {
  console.error("usage: ws_node_peer.js server <0|1> | client <url> <0|1>");
  process.exit(2);
}
