'use strict';
// grpc-js client side of the transport benchmark (bench/grpc): runs one scenario against a target and prints
// {"calls": N, "seconds": S} as JSON. Usage: node grpc-js-bench.js TARGET PAYLOAD_BYTES CONCURRENCY SECONDS
const path = require('path');
const { grpc, echoPackage } = require(path.resolve(__dirname, '..', '..', 'tests', 'interop', 'node', 'common'));

const [target, payloadBytes, concurrency, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const client = new echoPackage.EchoService(target, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
});
const request = { text: 'x', payload: Buffer.alloc(payloadBytes, 1) };

function echo() {
  // A deadline, so that a call that never ends fails the run instead of hanging it.
  return new Promise((resolve, reject) => client.Echo(request, { deadline: Date.now() + 30000 }, (error, response) => (error ? reject(error) : resolve(response))));
}

async function worker(until, counter) {
  while (process.hrtime.bigint() < until) {
    await echo();
    counter.calls += 1;
  }
}

async function run(durationSeconds) {
  const counter = { calls: 0 };
  const started = process.hrtime.bigint();
  const until = started + BigInt(Math.round(durationSeconds * 1e9));
  await Promise.all(Array.from({ length: concurrency }, () => worker(until, counter)));
  return { calls: counter.calls, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

(async () => {
  await run(Math.min(1, seconds / 3)); // warm-up: connection, JIT
  console.log(JSON.stringify(await run(seconds)));
  client.close();
})().catch((error) => { console.error(error.message); process.exit(1); });
