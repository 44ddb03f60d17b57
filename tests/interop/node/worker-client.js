// grpc-js as a client of our inference worker: lists the models, runs a Denoise stream, sends a bad request.
// Usage: node worker-client.js HOST:PORT MODEL   (prints one JSON line with what it saw)
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const def = loader.loadSync('medfusion/v1/worker.proto', { includeDirs: [path.join(__dirname, '..', '..', '..', 'protos')] });
const proto = grpc.loadPackageDefinition(def).medfusion.v1;
const [address, model] = process.argv.slice(2);
const client = new proto.InferenceWorker(address, grpc.credentials.createInsecure());
const result = {};
const image = { width: 8, height: 8, channels: 1, pixelType: 1, data: Buffer.from([...Array(64).keys()]) };

client.ListModels({}, (err, res) => {
  if (err) { console.log(JSON.stringify({ error: err.details })); process.exit(1); }
  result.models = res.models.map(m => `${m.name}:${m.task}:${m.width}x${m.height}`);
  const call = client.Denoise({ model, image, sampler: { steps: 4 } });
  result.progress = []; result.images = [];
  call.on('data', u => {
    if (u.progress) result.progress.push(u.progress.step);
    if (u.image) result.images.push(Array.from(u.image.data.slice(0, 3)));
  });
  call.on('error', e => { result.streamError = e.code; });
  call.on('end', () => {
    const bad = client.Denoise({ model: 'no-such-model', image });
    bad.on('data', () => {});
    bad.on('error', e => { result.bad = { code: e.code, details: e.details }; console.log(JSON.stringify(result)); process.exit(0); });
  });
});
