// tap's @tapjs/processinfo surface without the recording (see README.md); the code is in index.cjs.
import cjs from './index.cjs';

export const { ProcessInfo, spawn, spawnSync, exec, execSync, execFile, execFileSync, fork } = cjs;
