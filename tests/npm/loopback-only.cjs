// Force every TCP listener in this Node process onto the loopback interface.
//
// Usage: NODE_OPTIONS="--require /abs/path/to/loopback-only.cjs" node server.js
//
// Servers such as @modelcontextprotocol/server-everything call `app.listen(PORT)`, which binds all
// interfaces. This preload patches net.Server.prototype.listen (which http, https, express and
// http2 servers all inherit) so that a TCP listen without a loopback host binds 127.0.0.1 instead.
// Every call form is handled:
//   listen()                      listen(cb)
//   listen(port[, cb])            listen(port, backlog[, cb])
//   listen(port, host[, backlog][, cb])
//   listen({port, host, ...}[, cb])
// A host that is already loopback (127.x.x.x, ::1, localhost) is kept. IPC listens (a socket path or
// a pipe name) and listens on an existing handle or fd are left untouched.
"use strict";

const net = require("node:net");

const LOOPBACK = "127.0.0.1";
const originalListen = net.Server.prototype.listen;

function isLoopback(host) {
  if (typeof host !== "string") return false;
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

function isPort(value) {
  // Node accepts a number or a numeric string as a port; any other string is an IPC path.
  return typeof value === "number" || (typeof value === "string" && /^\s*\d+\s*$/.test(value));
}

function rewrite(args) {
  const [first] = args;

  // listen() / listen(cb) / listen(undefined|null, ...): a random port on all interfaces.
  if (first === undefined || first === null || typeof first === "function") {
    const rest = first === undefined || first === null ? args.slice(1) : args;
    return [0, LOOPBACK, ...rest];
  }

  // listen(port, ...)
  if (isPort(first)) {
    const second = args[1];
    if (typeof second === "string") {
      // listen(port, host, ...)
      return isLoopback(second) ? args : [first, LOOPBACK, ...args.slice(2)];
    }
    if (second === undefined || second === null) {
      // listen(port) / listen(port, undefined, ...)
      return [first, LOOPBACK, ...args.slice(2)];
    }
    // listen(port, backlog, ...) / listen(port, cb)
    return [first, LOOPBACK, ...args.slice(1)];
  }

  // listen(options, ...): only TCP options (no path, fd or handle) are rewritten; a handle object
  // passed directly (a server or socket: it has `_handle`) is left alone.
  if (typeof first === "object") {
    const isTcpOptions = first.path == null && first.fd == null && first.handle == null && !("_handle" in first);
    if (isTcpOptions && !isLoopback(first.host)) {
      return [{ ...first, host: LOOPBACK }, ...args.slice(1)];
    }
  }

  // IPC path, handle, fd, or already-loopback options.
  return args;
}

// A listen without a host binds at once (the port is known right after listen() returns); one with a
// host first resolves it, even 127.0.0.1, so `server.listen(0); server.address().port` would throw.
// Harnesses such as @modelcontextprotocol/conformance rely on the former, so for host-less calls
// bind 127.0.0.1 synchronously through the same internal step listen() ends in (`_listen2`).
function hostless(args) {
  const [first, second] = args;
  const cb = args.find((arg) => typeof arg === "function");
  if (first === undefined || first === null || typeof first === "function") {
    return { port: 0, backlog: undefined, cb };
  }
  if (isPort(first) && (second === undefined || second === null || typeof second !== "string")) {
    return { port: Number(first), backlog: typeof second === "number" ? second : undefined, cb };
  }
  if (typeof first === "object" && !("_handle" in first)) {
    const keys = Object.keys(first).filter((key) => first[key] !== undefined);
    if (keys.every((key) => key === "port" || key === "backlog") && (first.port == null || isPort(first.port))) {
      return { port: Number(first.port || 0), backlog: first.backlog, cb };
    }
  }
  return null;
}

function listenNow(server, spec) {
  if (typeof server._listen2 !== "function" || server._handle || require("node:cluster").isWorker) {
    return false;
  }
  if (spec.cb) server.once("listening", spec.cb);
  server._listeningId = (server._listeningId || 0) + 1;
  server._listen2(LOOPBACK, spec.port, 4, spec.backlog || 511, undefined, 0);
  return true;
}

net.Server.prototype.listen = function listen(...args) {
  const spec = hostless(args);
  if (spec !== null && listenNow(this, spec)) {
    return this;
  }
  return originalListen.apply(this, rewrite(args));
};
