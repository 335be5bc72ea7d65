#!/usr/bin/env node
// `npm start`: the whole claw system on one port.
//
// The compiled launcher when it and every package it runs are built and
// fresh, else all of them from the TypeScript sources (tsx, the
// `@clawgate/source` export condition), so a stale dist/ never runs by
// accident (see @clawgate/runtime/launcher).
import { launch } from '@clawgate/runtime/launcher';

await launch(import.meta, {
  packages: ['@clawgate/protocol', '@clawgate/runtime', '@clawgate/router', '@clawgate/backend', '@clawgate/claw-node', '@clawgate/web-client'],
});
