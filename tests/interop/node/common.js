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

// Server reflection, both versions (grpcurl speaks v1alpha, newer tools v1); the protos come with @grpc/reflection.
const reflectionProtos = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
const reflectionOptions = { ...loaderOptions, includeDirs: [reflectionProtos] };
const reflectionPackages = {
  v1: grpc.loadPackageDefinition(protoLoader.loadSync('grpc/reflection/v1/reflection.proto', reflectionOptions)).grpc.reflection.v1,
  v1alpha: grpc.loadPackageDefinition(protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', reflectionOptions)).grpc.reflection.v1alpha,
};

module.exports = { grpc, protoLoader, loaderOptions, echoDefinition, healthDefinition, echoPackage, healthPackage, reflectionPackages };
