#!/usr/bin/env node
// `clawgate-backend`: the compiled CLI when it and the workspace packages it
// imports are built and fresh, else the sources through tsx (see
// @clawgate/runtime/launcher).
import { launch } from '@clawgate/runtime/launcher';

await launch(import.meta, { packages: ['@clawgate/protocol', '@clawgate/router', '@clawgate/runtime'] });
