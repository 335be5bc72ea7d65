#!/usr/bin/env node
// `clawgate-router`: the compiled CLI when it is built and fresh, else the
// sources through tsx (see @clawgate/runtime/launcher). The router imports no
// other workspace package, so its sources run in this very process.
import { launch } from '@clawgate/runtime/launcher';

await launch(import.meta);
