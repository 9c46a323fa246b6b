/**
 * Preloaded (`node --require scripts/loopback-only.cjs …`) into the Agents Playground,
 * whose CLI has no host option and listens on every interface: a TCP `listen` that names
 * no host binds 127.0.0.1 instead, so the playground (a web chat that talks to the bot
 * without authentication) is reachable only from this machine. A listen with an explicit
 * host, on a pipe / Unix socket path, or on an existing handle or fd is left alone.
 *
 * Handles every form of `server.listen`: (), (cb), (port[, cb]), (port, backlog[, cb]),
 * (port, host[, backlog][, cb]), ({ port[, backlog] }[, cb]).
 */
'use strict';

const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const original = net.Server.prototype.listen;

/** What Node takes as a TCP port in the first argument (a string that is not a number is a pipe path). */
function isPortLike(value) {
  if (value === undefined || value === null || typeof value === 'number') return true;
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
}

/** An explicit host: a non-empty string (Node treats '' like no host: every interface). */
function hasHost(value) {
  return typeof value === 'string' && value !== '';
}

/** The arguments of a `listen` call with 127.0.0.1 as the host when none was given. */
function loopbackArgs(args) {
  if (args.length === 0) return [0, LOOPBACK];
  const [first, ...rest] = args;
  if (typeof first === 'function') return [0, LOOPBACK, first, ...rest]; // listen(cb)
  if (first !== null && typeof first === 'object') {
    // listen(options[, cb]), or listen(handle[, backlog][, cb]).
    if (first.path !== undefined && first.path !== null) return args;
    if (first.fd !== undefined || first.handle !== undefined || first._handle !== undefined) return args;
    if (hasHost(first.host)) return args;
    return [{ ...first, host: LOOPBACK }, ...rest];
  }
  if (!isPortLike(first)) return args; // listen(path[, backlog][, cb]): a pipe or Unix socket
  // listen(port[, host][, backlog][, cb])
  if (hasHost(rest[0])) return args;
  if (rest[0] === '' || rest[0] === undefined || rest[0] === null) {
    // An empty host slot (ws passes `undefined`); with nothing after it, it is just dropped.
    return rest.length > 1 ? [first, LOOPBACK, ...rest.slice(1)] : [first, LOOPBACK];
  }
  return [first, LOOPBACK, ...rest]; // (port, backlog[, cb]) or (port, cb)
}

net.Server.prototype.listen = function listen(...args) {
  return original.apply(this, loopbackArgs(args));
};

module.exports = { loopbackArgs, LOOPBACK };
