#!/usr/bin/env node
// The Node Socket.IO server Herald is measured against: socket.io 4.8 with plain rooms, no
// adapter, no persistence, compression off (perMessageDeflate and httpCompression).
//
//   join     "room" (or {room}): joins it; an ack callback, if any, gets {type:"welcome",room}
//   publish  payload: relayed as `message` with the same payload to every socket of the rooms
//            this socket joined, itself included (as Herald's publisher gets its message).
//            The publisher joins first too.
//   GET /ping  ok
//
//   node bench/systems/socketio-node/server.mjs --port 9000
import { createServer } from "node:http";
import { Server } from "socket.io";

const args = process.argv.slice(2);
const portAt = args.indexOf("--port");
const port = portAt >= 0 ? Number(args[portAt + 1]) : 9000;

const http = createServer((req, res) => {
  // socket.io answers its own path (/socket.io/); everything else lands here.
  if (req.url === "/ping") res.end("ok");
  else res.writeHead(404).end();
});

const io = new Server(http, { perMessageDeflate: false, httpCompression: false, serveClient: false, cors: { origin: "*" } });

io.on("connection", (socket) => {
  socket.on("join", (arg, ack) => {
    const room = typeof arg === "string" ? arg : arg?.room;
    if (typeof room !== "string" || room.length === 0) {
      if (typeof ack === "function") ack({ type: "error", code: "invalid_field", message: "join takes a room name" });
      return;
    }
    socket.join(room);
    if (typeof ack === "function") ack({ type: "welcome", room });
  });
  socket.on("publish", (payload) => {
    const rooms = [...socket.rooms].filter((room) => room !== socket.id);
    if (rooms.length > 0) io.to(rooms).emit("message", payload); // once per socket, however many rooms
  });
});

http.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ ready: `http://127.0.0.1:${port}` })));

const stop = () => io.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Started by bench/systems.mjs: stop when it is gone (its end of our stdin closes).
if (process.env.HERALD_BENCH_WATCH_PARENT === "1") {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
