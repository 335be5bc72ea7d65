#!/usr/bin/env node
// `clawgate-router`: the compiled CLI when it is built and fresh, else the
// sources through tsx (see @clawgate/runtime/launcher). The router imports one
// other workspace package, @clawgate/runtime (the guest workers' backoff),
// which must then be read from its sources too when it is not built.
import { launch } from '@clawgate/runtime/launcher';

await launch(import.meta, { packages: ['@clawgate/runtime'] });
