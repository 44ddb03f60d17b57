'use strict';
// grpc-js client driver for the interop tests. Reads one JSON command per stdin line, runs the call and
// writes one JSON result line: {"id", "code", "details", "headers", "trailers", "responses", "elapsedMs"}.
// Command: {"id", "target", "method": "Echo"|"EchoStream"|"Collect"|"Chat"|"Observe"|"Check"|"Watch"|"Raw"|"ListServices",
//   "path": "/pkg.Service/Method" (Raw: a unary call of any path with an empty request),
//   "reflection": "v1"|"v1alpha" (ListServices: the services the server's reflection lists, one response each),
//   "request": {...} | "requests": [...], "payloadSize": N, "metadata": {"k": "v", "k-bin": "<base64>"},
//   "deadlineMs": N, "cancelAfterMs": N, "cancelAfterResponses": N, "compress": bool,
//   "rootCertPem": "...", "serverName": "...", "channelOptions": {...}}
const crypto = require('crypto');
const readline = require('readline');
const { grpc, echoPackage, healthPackage, reflectionPackages } = require('./common');

const clients = new Map();

function clientFor(command, service) {
  const key = JSON.stringify([service, command.target, command.rootCertPem || '', command.serverName || '', command.compress || false, command.channelOptions || {}]);
  if (!clients.has(key)) {
    const credentials = command.rootCertPem
      ? grpc.credentials.createSsl(Buffer.from(command.rootCertPem))
      : grpc.credentials.createInsecure();
    const options = {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      ...(command.serverName ? { 'grpc.ssl_target_name_override': command.serverName, 'grpc.default_authority': command.serverName } : {}),
      ...(command.compress ? { 'grpc.default_compression_algorithm': 2 } : {}),
      ...(command.channelOptions || {}),
    };
    const Client = service === 'health' ? healthPackage.Health
      : service.startsWith('reflection-') ? reflectionPackages[service.substring('reflection-'.length)].ServerReflection
        : echoPackage.EchoService;
    clients.set(key, new Client(command.target, credentials, options));
  }
  return clients.get(key);
}

function toMetadata(map) {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(map || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      metadata.add(key, key.endsWith('-bin') ? Buffer.from(item, 'base64') : item);
    }
  }
  return metadata;
}

function fromMetadata(metadata) {
  const out = {};
  if (!metadata) return out;
  for (const [key] of Object.entries(metadata.getMap())) {
    out[key] = metadata.get(key).map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
  }
  return out;
}

function withPayload(request, payloadSize) {
  const message = { ...(request || {}) };
  if (payloadSize) message.payload = Buffer.alloc(payloadSize, 7);
  else if (typeof message.payload === 'string') message.payload = Buffer.from(message.payload, 'base64');
  return message;
}

function summarize(message) {
  const out = { ...message };
  if (Buffer.isBuffer(out.payload)) {
    out.payloadLength = out.payload.length;
    out.payloadSha256 = crypto.createHash('sha256').update(out.payload).digest('hex');
    delete out.payload;
  }
  return out;
}

function run(command) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const result = { id: command.id, code: 0, details: '', headers: {}, trailers: {}, responses: [] };
    const service = command.method === 'Check' || command.method === 'Watch' ? 'health'
      : command.method === 'ListServices' ? `reflection-${command.reflection || 'v1alpha'}` : 'echo';
    const client = clientFor(command, service);
    const callOptions = command.deadlineMs !== undefined ? { deadline: new Date(Date.now() + command.deadlineMs) } : {};
    const metadata = toMetadata(command.metadata);
    let done = false;
    const finish = (error) => {
      if (done) return;
      done = true;
      if (error) {
        result.code = error.code;
        result.details = error.details;
        result.trailers = fromMetadata(error.metadata);
      }
      result.elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      resolve(result);
    };
    const onStatus = (status) => { result.trailers = fromMetadata(status.metadata); };
    const onResponse = (call) => (message) => {
      result.responses.push(summarize(message));
      if (command.cancelAfterResponses && result.responses.length >= command.cancelAfterResponses) call.cancel();
    };
    const unaryCallback = (error, message) => {
      if (message) result.responses.push(summarize(message));
      finish(error);
    };

    let call;
    switch (command.method) {
      case 'Echo': case 'Observe': case 'Check':
        call = client[command.method](command.method === 'Echo' ? withPayload(command.request, command.payloadSize) : command.request, metadata, callOptions, unaryCallback);
        break;
      case 'Collect':
        call = client.Collect(metadata, callOptions, unaryCallback);
        for (const request of command.requests) call.write(withPayload(request, command.payloadSize));
        call.end();
        break;
      case 'EchoStream': case 'Watch': case 'Chat':
        call = command.method === 'Chat'
          ? client.Chat(metadata, callOptions)
          : client[command.method](command.method === 'Watch' ? command.request : withPayload(command.request, command.payloadSize), metadata, callOptions);
        call.on('data', onResponse(call));
        call.on('error', finish);
        call.on('end', () => setImmediate(() => finish(null)));
        if (command.method === 'Chat') {
          for (const request of command.requests) call.write(withPayload(request, command.payloadSize));
          call.end();
        }
        break;
      case 'Raw': {
        const identity = (buffer) => buffer;
        call = client.makeUnaryRequest(command.path, identity, identity, Buffer.alloc(0), metadata, callOptions, (error) => finish(error));
        break;
      }
      case 'ListServices':
        call = client.ServerReflectionInfo(metadata, callOptions);
        call.on('data', (message) => {
          if (message.listServicesResponse) {
            for (const service of message.listServicesResponse.service) result.responses.push({ name: service.name });
          } else if (message.errorResponse) {
            result.responses.push({ error: message.errorResponse.errorMessage });
          }
          call.end();
        });
        call.on('error', finish);
        call.on('end', () => setImmediate(() => finish(null)));
        call.write({ host: '', listServices: '' });
        break;
      default:
        finish({ code: -1, details: `unknown method ${command.method}` });
        return;
    }
    call.on('metadata', (headers) => { result.headers = fromMetadata(headers); });
    call.on('status', onStatus);
    if (command.cancelAfterMs !== undefined) setTimeout(() => call.cancel(), command.cancelAfterMs);
  });
}

const lines = readline.createInterface({ input: process.stdin });
let pending = 0;
let closed = false;
const exitWhenIdle = () => { if (closed && pending === 0) process.exit(0); };
lines.on('line', (line) => {
  const command = JSON.parse(line);
  pending += 1;
  run(command).then((result) => {
    process.stdout.write(JSON.stringify(result) + '\n');
    pending -= 1;
    exitWhenIdle();
  });
});
lines.on('close', () => { closed = true; exitWhenIdle(); });
process.stdout.write('READY\n');
