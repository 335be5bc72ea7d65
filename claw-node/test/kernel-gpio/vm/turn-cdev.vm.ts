// A full turn of the real claw node on gpio-sim with `driver: auto`, which must
// choose gpio-cdev (uAPI v2 through koffi) on this kernel. See turn.ts.
import { turnTest } from './turn.js';

turnTest('auto', 'gpio-cdev');
