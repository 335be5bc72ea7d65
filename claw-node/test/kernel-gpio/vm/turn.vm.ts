// A full turn of the real claw node on gpio-sim with `driver: libgpiod`
// (node-libgpiod, libgpiod 1.6, uAPI v1). See turn.ts.
import { turnTest } from './turn.js';

turnTest('libgpiod', 'libgpiod');
