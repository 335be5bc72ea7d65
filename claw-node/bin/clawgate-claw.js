#!/usr/bin/env node
// `clawgate-claw`: the compiled CLI when it and the workspace packages it
// imports are built and fresh, else the sources through tsx (see
// @clawgate/runtime/launcher; run from the sources in a child process, the
// node gets systemd's watchdog handed over).
import { launch } from '@clawgate/runtime/launcher';

await launch(import.meta, { packages: ['@clawgate/protocol', '@clawgate/runtime'] });
