// @clawgate/protocol: the one module backend, claw node and web client import
// for the claw protocol's URIs, roles, errors, defaults and payloads.
export * from './uris.js';
export * from './roles.js';
export * from './errors.js';
export * from './defaults.js';
export * from './payloads.js';
export * from './video.js';
