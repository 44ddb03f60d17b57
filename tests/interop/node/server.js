'use strict';
// grpc-js server of EchoService, grpc.health.v1.Health and server reflection (@grpc/reflection) for the interop tests.
// Usage: node server.js [--tls-cert FILE --tls-key FILE] [--max-message-size N] [--compress]
//                       [--keepalive-ms N --keepalive-timeout-ms N]
// Prints "LISTENING <port>" once bound to 127.0.0.1 on a free port.
const fs = require('fs');
const { ReflectionService } = require('@grpc/reflection');
const { grpc, echoDefinition, healthDefinition, echoPackage, healthPackage } = require('./common');

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) { args[name] = true; } else { args[name] = next; i++; }
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const observations = new Map();
const healthStatuses = new Map([['', 1], ['medfusion.test.v1.EchoService', 1]]);
const healthWatchers = new Set();

function observe(id) {
  if (!observations.has(id)) {
    observations.set(id, { seen: true, cancelled: false, responsesSent: 0, attempts: 0, finished: false });
  }
  return observations.get(id);
}

function echoedMetadata(call, prefix) {
  const out = new grpc.Metadata();
  for (const [key, values] of Object.entries(call.metadata.getMap())) {
    if (!key.startsWith('x-echo-')) continue;
    const outKey = prefix + key.substring('x-echo-'.length);
    for (const value of call.metadata.get(key)) out.add(outKey, value);
  }
  return out;
}

function peer(call) {
  return call.getPeer();
}

function sleep(ms, call) {
  return new Promise((resolve) => {
    if (ms <= 0) { resolve(); return; }
    const timer = setTimeout(resolve, ms);
    call.on('cancelled', () => { clearTimeout(timer); resolve(); });
  });
}

function failure(request) {
  if (request.failCode) return { code: request.failCode, details: request.failMessage };
  return null;
}

function response(request, index, call, extra) {
  const payload = request.responsePayloadSize > 0 ? Buffer.alloc(request.responsePayloadSize, index % 251) : request.payload;
  return { text: request.text, payload, index, peer: peer(call), ...extra };
}

function trackCancellation(call, record) {
  call.on('cancelled', () => { record.cancelled = true; });
}

function unavailableAttempt(record, request) {
  record.attempts += 1;
  return record.attempts <= request.unavailableAttempts;
}

const echoService = {
  Echo: async (call, callback) => {
    const request = call.request;
    const record = observe(request.id);
    trackCancellation(call, record);
    if (unavailableAttempt(record, request)) {
      callback({ code: grpc.status.UNAVAILABLE, details: `attempt ${record.attempts} refused` });
      return;
    }
    call.sendMetadata(echoedMetadata(call, 'x-echo-'));
    await sleep(request.delayMs, call);
    record.finished = true;
    if (call.cancelled) return;
    const failed = failure(request);
    const trailers = echoedMetadata(call, 'x-trailer-');
    if (failed) { callback({ ...failed, metadata: trailers }); return; }
    record.responsesSent += 1;
    callback(null, response(request, 0, call, {}), trailers);
  },

  EchoStream: async (call) => {
    const request = call.request;
    const record = observe(request.id);
    trackCancellation(call, record);
    if (unavailableAttempt(record, request)) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: `attempt ${record.attempts} refused` });
      return;
    }
    call.sendMetadata(echoedMetadata(call, 'x-echo-'));
    for (let i = 0; i < request.responseCount; i++) {
      await sleep(request.delayMs, call);
      if (call.cancelled) { record.finished = true; return; }
      call.write(response(request, i, call, {}));
      record.responsesSent += 1;
    }
    record.finished = true;
    const failed = failure(request);
    const trailers = echoedMetadata(call, 'x-trailer-');
    if (failed) { call.emit('error', { ...failed, metadata: trailers }); return; }
    call.end(trailers);
  },

  Collect: (call, callback) => {
    let count = 0;
    let bytes = 0;
    let texts = [];
    let last = null;
    call.on('data', (request) => { count += 1; bytes += request.payload.length; texts.push(request.text); last = request; });
    call.on('end', () => {
      const failed = last && failure(last);
      if (failed) { callback(failed); return; }
      callback(null, { text: texts.join(','), requestCount: count, payloadBytes: bytes, peer: peer(call) });
    });
    call.on('error', () => {});
  },

  Chat: (call) => {
    let count = 0;
    call.on('data', (request) => {
      count += 1;
      call.write({ text: request.text, payload: request.payload, index: count - 1, requestCount: count, peer: peer(call) });
    });
    call.on('end', () => call.end());
    call.on('error', () => {});
  },

  Observe: (call, callback) => {
    const record = observations.get(call.request.id);
    callback(null, record || { seen: false });
  },

  SetHealth: (call, callback) => {
    healthStatuses.set(call.request.service, call.request.status);
    for (const watcher of healthWatchers) watcher(call.request.service);
    callback(null, {});
  },
};

const healthService = {
  Check: (call, callback) => {
    const status = healthStatuses.get(call.request.service);
    if (status === undefined) { callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' }); return; }
    callback(null, { status });
  },
  Watch: (call) => {
    const service = call.request.service;
    const send = (changed) => {
      if (changed === service) call.write({ status: healthStatuses.has(service) ? healthStatuses.get(service) : 3 });
    };
    send(service);
    healthWatchers.add(send);
    call.on('cancelled', () => healthWatchers.delete(send));
  },
};

const options = {};
if (args['max-message-size']) {
  options['grpc.max_receive_message_length'] = Number(args['max-message-size']);
  options['grpc.max_send_message_length'] = Number(args['max-message-size']);
} else {
  options['grpc.max_receive_message_length'] = 64 * 1024 * 1024;
  options['grpc.max_send_message_length'] = 64 * 1024 * 1024;
}
if (args['compress']) options['grpc.default_compression_algorithm'] = 2; // gzip
if (args['keepalive-ms']) {
  options['grpc.keepalive_time_ms'] = Number(args['keepalive-ms']);
  options['grpc.keepalive_timeout_ms'] = Number(args['keepalive-timeout-ms'] || 1000);
}

const server = new grpc.Server(options);
server.addService(echoPackage.EchoService.service, echoService);
server.addService(healthPackage.Health.service, healthService);
new ReflectionService({ ...echoDefinition, ...healthDefinition }).addToServer(server);

const credentials = args['tls-cert']
  ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: fs.readFileSync(args['tls-cert']), private_key: fs.readFileSync(args['tls-key']) }])
  : grpc.ServerCredentials.createInsecure();

server.bindAsync('127.0.0.1:0', credentials, (error, port) => {
  if (error) { console.error(error.message); process.exit(1); }
  console.log(`LISTENING ${port}`);
});

process.stdin.on('end', () => server.forceShutdown());
process.stdin.resume();
