'use strict';
// Loads the interop protos once for the grpc-js server, client driver and benchmark.
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const includeDirs = [path.join(repoRoot, 'protos'), path.join(repoRoot, 'tests', 'interop', 'protos')];
const loaderOptions = { keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true, includeDirs };

const echoDefinition = protoLoader.loadSync('medfusion/test/v1/echo.proto', loaderOptions);
const healthDefinition = protoLoader.loadSync('grpc/health/v1/health.proto', loaderOptions);
const echoPackage = grpc.loadPackageDefinition(echoDefinition).medfusion.test.v1;
const healthPackage = grpc.loadPackageDefinition(healthDefinition).grpc.health.v1;

module.exports = { grpc, echoPackage, healthPackage };
